"""What an answer is: `Answer`, its `Citation`s, the fixed cannot-answer phrase, and the `Answerer` interface that
the extractive (`extractive.py`) and generative (`generative.py`) answerers implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # annotations only: retrieval imports question analysis from this package
    from ..retrieval import RetrievalResult

CANNOT_ANSWER = "The articles don't contain the answer to this question."
NOT_IN_ARTICLES = "Not in the articles."  # the heading of an abstention, in the chat and in exports


# What a citation's score is: the decision's probability that the sentence answers (extractive answers), or the
# relevance judge's logit / the dense cosine of a sentence the LLM cited. The UI and exports name it.
SCORE_KINDS = {"probability": "probability", "relevance": "relevance (cross-encoder logit)",
               "similarity": "similarity (cosine)"}


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The entries of `data` that are fields of the dataclass `cls` (older or newer JSON loads)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class Citation:
    n: int
    source: str
    title: str
    text: str
    start: int
    end: int
    score: float
    outlet: str = ""
    date: str = ""
    context_start: int = 0
    context_end: int = 0
    note: str = ""  # why this citation is there, when it is not the answer itself (e.g. a name's full form)
    score_kind: str = "probability"  # a key of SCORE_KINDS

    @property
    def score_label(self) -> str:
        """E.g. "probability 0.91" or "relevance (cross-encoder logit) 6.40"."""
        return f"{SCORE_KINDS.get(self.score_kind, self.score_kind or 'score')} {self.score:.2f}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Citation:
        return cls(**{**dict(score=0.0, title="", text="", start=0, end=0), **_known(cls, data)})


@dataclass
class SentenceCheck:
    """One sentence of an answer and whether its cited sources support it (grounding.py checks LLM sentences;
    an extractive sentence is quoted article text, so it is verified by construction)."""

    text: str  # the sentence without its markers
    citations: list[int]
    verified: bool
    reason: str = ""
    missing: list[str] = field(default_factory=list, repr=False)  # words the cited sources lack (not kept)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "citations": list(self.citations), "verified": self.verified, "reason": self.reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentenceCheck:
        return cls(text=str(data.get("text", "")), citations=[int(n) for n in data.get("citations", [])],
                   verified=bool(data.get("verified")), reason=str(data.get("reason", "")))


@dataclass
class Answer:
    question: str
    answer: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    closest: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    mode: str = "extractive"
    id: Any = None
    sentences: list[SentenceCheck] | None = None  # LLM mode: each written sentence and its check
    notice: str = ""  # e.g. why the LLM answer was replaced by the extractive one
    reason: str = ""  # why it abstained, from the decision that abstained

    def sentence_checks(self) -> list[SentenceCheck]:
        if self.sentences is not None:
            return self.sentences
        # Extractive sentences are verbatim article text: verified by construction.
        return [SentenceCheck(c.text, [c.n], True, "quoted") for c in self.citations]

    @property
    def unverified(self) -> list[SentenceCheck]:
        return [s for s in self.sentences or [] if not s.verified]

    def to_json(self) -> dict[str, Any]:
        checks = self.sentence_checks()
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "answerable": self.answerable,
            "mode": self.mode,
            "verified": [s.verified for s in checks],
            "sentences": [s.to_json() for s in checks],
            "notice": self.notice,
            "reason": self.reason,
            "citations": [c.to_json() for c in self.citations],
            "closest": [c.to_json() for c in self.closest],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        """The inverse of `to_json` (history rows and exported files load into it)."""
        mode = str(data.get("mode") or "extractive")
        sentences = [SentenceCheck.from_json(s) for s in data.get("sentences") or []]
        return cls(question=str(data.get("question", "")), answer=str(data.get("answer", "")),
                   answerable=bool(data.get("answerable")),
                   citations=[Citation.from_json(c) for c in data.get("citations") or []],
                   closest=[Citation.from_json(c) for c in data.get("closest") or []],
                   timings_ms={k: float(v) for k, v in (data.get("timings_ms") or {}).items()}, mode=mode,
                   id=data.get("id"), sentences=sentences if mode == "llm" else None,
                   notice=str(data.get("notice", "")), reason=str(data.get("reason", "")))


T = TypeVar("T")


def final_item(stream: Iterable[Any], kind: type[T]) -> T:
    """Read a stream of text deltas and results to its end; return its last item of type `kind`."""
    final = None
    for item in stream:
        if isinstance(item, kind):
            final = item
    if final is None:
        raise RuntimeError(f"the stream ended without a {kind.__name__}")
    return final


class Answerer(ABC):
    """Turns what retrieval found for a question into a cited answer."""

    @abstractmethod
    def answer(self, retrieved: RetrievalResult) -> Answer:
        """Return an `Answer` to `retrieved.question`; never raise for weak evidence (abstain instead)."""

    def stream(self, retrieved: RetrievalResult) -> Iterator[str | Answer]:
        """Text deltas while the answer is written (an extractive answer has none), then the final `Answer`."""
        yield self.answer(retrieved)

    def condense(self, history: list[tuple[str, str]], message: str) -> str | None:
        """A follow-up message rewritten to stand alone, given (question, answer) turns; None if this answerer
        can't rewrite (the chat then adds the previous question's names itself)."""
        return None
