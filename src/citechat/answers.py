"""What an answer is: `Answer`, its `Citation`s, the fixed cannot-answer phrase, and the `Answerer` interface that
the extractive (`extractive.py`) and generative (`generative.py`) answerers implement."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from .retrieval import RetrievalResult

CANNOT_ANSWER = "The articles don't contain the answer to this question."
NOT_IN_ARTICLES = "Not in the articles."  # the heading of an abstention, in the chat and in exports


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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


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
    sentences: list[dict[str, Any]] | None = None  # LLM mode: [{"text", "citations", "verified", "reason"}]
    notice: str = ""  # e.g. why the LLM answer was replaced by the extractive one
    reason: str = ""  # why it abstained, from the decision that abstained

    def sentence_checks(self) -> list[dict[str, Any]]:
        if self.sentences is not None:
            return self.sentences
        # Extractive sentences are verbatim article text: verified by construction.
        return [{"text": c.text, "citations": [c.n], "verified": True, "reason": "quoted"} for c in self.citations]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "answerable": self.answerable,
            "mode": self.mode,
            "verified": [bool(x["verified"]) for x in self.sentence_checks()],
            "sentences": self.sentence_checks(),
            "notice": self.notice,
            "reason": self.reason,
            "citations": [c.to_json() for c in self.citations],
            "closest": [c.to_json() for c in self.closest],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


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
