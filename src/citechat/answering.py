"""Answerers. The extractive answerer quotes the best supporting sentences with [n] markers, or abstains.

The decision to answer or abstain is learned (`decision.py`): every retrieved sentence gets a probability of
holding the answer, and the best one is quoted when it clears the threshold of the question's language pair.
Two hand rules stay, each measured on the public sets (docs/decision.md): bylines are never answers, and a
"how many"/"when" question is answered only by a sentence with a number/date. "Which newspaper/when was it
published" questions are answered from the article's byline or dateline once the article is identified.
A quoted sentence that writes a name in a split form ("hong zhong" for "Li Hongzhong") gets one more citation:
the nearest sentence of the same article with the full name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, TypeVar

from llama_index.core.schema import NodeWithScore

from .config import AnswerSettings
from .language import is_cjk
from . import dictionary
from .decision import CandidateView, DecisionModel, candidate_features, candidate_views, pair_of, question_features
from .names import find_aliases
from .question import QuestionInfo, analyse_question, coverage, has_date, has_number
from .retrieval import RetrievalResult, scores_of

CANNOT_ANSWER = "The articles don't contain the answer to this question."


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
    """Turns a question and retrieved sentences into a cited answer."""

    @abstractmethod
    def answer(self, question: str, retrieved: RetrievalResult) -> Answer:
        """Return an `Answer`; never raise for weak evidence (abstain instead)."""

    def stream(self, question: str, retrieved: RetrievalResult) -> Iterator[str | Answer]:
        """Text deltas while the answer is written (an extractive answer has none), then the final `Answer`."""
        yield self.answer(question, retrieved)


# --- extractive answerer ---------------------------------------------------------------------------

@dataclass
class Ranked:
    """A retrieved sentence with the decision's probability that it holds the answer."""

    node: NodeWithScore
    view: CandidateView
    probability: float

    @property
    def source(self) -> str:
        return self.view.source


class ExtractiveAnswerer(Answerer):
    """Quotes the sentence the learned decision (`decision.DecisionModel`) finds most likely to hold the answer,
    when that probability clears the threshold of the question's language pair; otherwise abstains. No LLM."""

    def __init__(self, settings: AnswerSettings, decision: DecisionModel | None = None) -> None:
        self.s = settings
        self.decision = decision or DecisionModel()

    def warm_up(self) -> None:
        self.decision.warm_up()
        dictionary.warm_up()

    def ranked(self, question: str, retrieved: RetrievalResult, info: QuestionInfo | None = None) -> list[Ranked]:
        """Every citable candidate, most likely answer first."""
        info = info or analyse_question(question)
        pairs = candidate_views(retrieved)
        X = candidate_features(question_features(info), [v for _, v in pairs], retrieved, len(retrieved.unknown_terms))
        probs = self.decision.predict(X)
        out = [Ranked(n, v, float(p)) for (n, v), p in zip(pairs, probs)]
        if self.s.require_type_match and (info.wants_number or info.wants_date):
            # "How many"/"when" is answered only by a sentence with a number/date in it (measured in docs/decision.md).
            for r in out:
                if not (has_date(r.view.text) if info.wants_date else has_number(r.view.text)):
                    r.probability = 0.0
        out.sort(key=lambda r: -r.probability)
        return out

    def answer(self, question: str, retrieved: RetrievalResult) -> Answer:
        return self.decide(question, retrieved)[0]

    def decide(self, question: str, retrieved: RetrievalResult) -> tuple[Answer, list[Ranked]]:
        """The answer, and the ranked candidates it was chosen from (the LLM answerer picks its sources there)."""
        info = analyse_question(question)
        ranked = self.ranked(question, retrieved, info)
        if info.wants_outlet or info.wants_pubdate:
            meta = self._metadata_answer(info, retrieved, ranked)
            if meta is not None:
                return meta, ranked
        chosen, threshold = self._choose(info, ranked)
        if not chosen:
            return Answer(question=question, answer=CANNOT_ANSWER, answerable=False,
                          closest=[_citation(i + 1, r.node, r.probability) for i, r in
                                   enumerate(ranked[: self.s.closest_matches])],
                          timings_ms=dict(retrieved.timings), reason=_abstain_reason(info, ranked, threshold)), ranked
        citations = [_citation(i + 1, r.node, r.probability) for i, r in enumerate(chosen)]
        citations += self._full_names(retrieved, citations)
        body = " ".join(f"{c.text} [{c.n}]" for c in citations)
        return Answer(question=question, answer=body, answerable=True, citations=citations,
                      timings_ms=dict(retrieved.timings)), ranked

    def _choose(self, info: QuestionInfo, ranked: list[Ranked]) -> tuple[list[Ranked], float]:
        """The best sentence if it clears its pair's threshold, plus runners-up that also clear it and come close."""
        if not ranked:
            return [], self.decision.threshold(pair_of(info.cjk, info.cjk))
        best = ranked[0]
        threshold = self.decision.threshold(pair_of(info.cjk, is_cjk(best.view.text)))
        if best.probability < threshold:
            return [], threshold
        picks = [best] + [r for r in ranked[1:] if r.probability >= threshold and
                          r.probability >= best.probability * self.s.extra_citation_ratio]
        picks = picks[: self.s.max_citations]
        if len({p.source for p in picks}) == 1:
            picks.sort(key=lambda p: p.node.node.metadata.get("start", 0))  # read in article order
        return picks, threshold

    def _full_names(self, retrieved: RetrievalResult, citations: list[Citation]) -> list[Citation]:
        """For names quoted in a split form ("hong zhong"), the nearest sentence of the same article that writes
        them in full ("Li Hongzhong"), cited after the answer's own sentences."""
        extra: list[Citation] = []
        taken = {(c.source, c.start) for c in citations}
        for c in citations:
            if is_cjk(c.text):
                continue
            text = retrieved.text_of_source(c.source)
            if not text:
                continue
            quoted = " ".join(x.text for x in citations + extra if x is not c)
            aliases = [a for a in find_aliases(c.text, text) if a.full not in quoted]  # not already quoted in full
            if not aliases:
                continue
            fulls = list(dict.fromkeys(a.full for a in aliases))
            spans = [(a, b) for a, b in retrieved.sentence_spans(c.source) if (c.source, a) not in taken]
            # most of the full names first, then the nearest to the quoted sentence
            ranked = sorted(((sum(f in text[a:b] for f in fulls), -min(abs(a - c.start), abs(b - c.end)), a, b)
                             for a, b in spans), reverse=True)
            if not ranked or ranked[0][0] == 0:
                continue
            _, _, a, b = ranked[0]
            names = ", ".join(dict.fromkeys(f"{x.written} = {x.full}" for x in aliases if x.full in text[a:b]))
            n = len(citations) + len(extra) + 1
            extra.append(_span_citation(n, c.source, text, a, b, c.score, note=f"full names for [{c.n}]: {names}"))
            taken.add((c.source, a))
        return extra

    def _metadata_answer(self, q: QuestionInfo, retrieved: RetrievalResult, ranked: list[Ranked]) -> Answer | None:
        """Answer "which newspaper / when published" from the byline or dateline of the article the rest of the
        question is about: the article of the most likely sentences, if the question names it or one of its
        sentences clears a third of the answer threshold."""
        by_article: dict[str, float] = {}
        for r in ranked:
            by_article[r.source] = max(by_article.get(r.source, 0.0), r.probability)
        if not by_article:
            return None
        source = max(by_article, key=by_article.get)
        threshold = self.decision.threshold(pair_of(q.cjk, is_cjk(ranked[0].view.text)))
        named = bool(q.anchors & retrieved.article_tokens(source)) and not retrieved.unknown_terms
        if not (named or by_article[source] >= threshold / 3):
            return None
        meta, text = retrieved.article(source)
        value = meta.get("outlet" if q.wants_outlet else "date")
        if not value or not text:
            return None
        span = _sentence_containing(text, value, retrieved.sentence_spans(source))
        if span is None:
            return None
        start, end = span
        cit = _span_citation(1, source, text, start, end, by_article[source], title=meta.get("title", ""),
                             outlet=meta.get("outlet", ""), date=meta.get("date", ""))
        return Answer(question=q.text, answer=f"{cit.text} [1]", answerable=True, citations=[cit],
                      timings_ms=dict(retrieved.timings))


def _abstain_reason(info: QuestionInfo, ranked: list[Ranked], threshold: float) -> str:
    """One plain line: why the decision abstained."""
    if not ranked:
        return "no indexed sentence matches the question"
    kind = "a date" if info.wants_date else "a number" if info.wants_number else None
    if kind and all(r.probability == 0.0 for r in ranked[:5]):
        return f"the question asks for {kind}, and no close sentence has one"
    return (f"the closest sentence scores {ranked[0].probability:.2f}; answers need {threshold:.2f}")


def _sentence_containing(text: str, value: str, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    idx = text.find(value)
    if idx < 0:
        return None
    for a, b in spans:
        if a <= idx < b:
            return a, b
    line_start = text.rfind("\n", 0, idx) + 1
    line_end = text.find("\n", idx)
    return line_start, (line_end if line_end >= 0 else len(text))


def _span_citation(n: int, source: str, text: str, start: int, end: int, score: float, note: str = "",
                   **meta: str) -> Citation:
    """A citation of `text[start:end]` of an article (title/outlet/date are filled in by the engine if absent)."""
    return Citation(n=n, source=source, title=meta.get("title", ""), text=text[start:end], start=start, end=end,
                    score=round(float(score), 4), outlet=meta.get("outlet", ""), date=meta.get("date", ""),
                    context_start=start, context_end=end, note=note)


def _citation(n: int, node: NodeWithScore, score: float) -> Citation:
    m = node.node.metadata
    return Citation(
        n=n, source=m.get("source", ""), title=m.get("title", ""), text=node.node.get_content(),
        start=int(m.get("start", 0)), end=int(m.get("end", 0)), score=round(float(score), 4),
        outlet=m.get("outlet", ""), date=m.get("date", ""),
        context_start=int(m.get("chunk_start", m.get("start", 0))), context_end=int(m.get("chunk_end", m.get("end", 0))),
    )


# --- LLM answerer ------------------------------------------------------------------------------------

class LLMAnswerer(Answerer):
    """Fluent answers from an LLM over numbered source sentences; every sentence is checked before it is shown
    as cited. Abstains without calling the LLM when the evidence is weak, and falls back to the extractive answer
    (with a one-line notice) when the LLM is unreachable, too slow, or produces nothing verifiable."""

    def __init__(self, llm: Any, extractive: ExtractiveAnswerer, prompts: Any, checker: Any,
                 max_sources: int = 4, timeout_s: float = 60.0, relevance: Any = None) -> None:
        self.relevance = relevance  # (question, [text]) -> cross-encoder logits, to check the answer addresses it
        self.llm = llm
        self.extractive = extractive
        self.prompts = prompts
        self.checker = checker
        self.max_sources = max_sources
        self.timeout_s = timeout_s
        self.calls = 0  # LLM calls made, so tests can prove abstentions never reach the LLM

    def answer(self, question: str, retrieved: RetrievalResult) -> Answer:
        return final_item(self.stream(question, retrieved), Answer)

    def messages(self, question: str, sources: dict[int, str]) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage

        numbered = "\n".join(f"[{n}] {text}" for n, text in sources.items())
        return [
            ChatMessage(role="system", content=self.prompts.system.format(cannot_answer=CANNOT_ANSWER)),
            ChatMessage(role="user", content=self.prompts.qa.format(sources=numbered, question=question)),
        ]

    def select_sources(self, question: str, retrieved: RetrievalResult, base: Answer,
                       ranked: list[Ranked] | None = None) -> list[NodeWithScore]:
        """The extractive answer's sentences first, then the next most likely candidates (`ranked`: the
        candidates the extractive answer was chosen from, if the caller has them)."""
        if ranked is None:
            ranked = self.extractive.ranked(question, retrieved)
        cited = {(c.source, c.start) for c in base.citations}
        first = [r.node for r in ranked if (r.source, r.node.node.metadata.get("start")) in cited]
        rest = [r.node for r in ranked if r.node not in first]
        return (first + rest)[: self.max_sources]

    def stream(self, question: str, retrieved: RetrievalResult):
        """Yields text deltas while the LLM writes, then the final, verified `Answer`."""
        import gc
        import time

        base, ranked = self.extractive.decide(question, retrieved)
        if not base.answerable:
            yield base  # abstention first: the LLM is never called on weak evidence
            return
        nodes = self.select_sources(question, retrieved, base, ranked)
        sources = {i + 1: n.node.get_content() for i, n in enumerate(nodes)}
        t0 = time.perf_counter()
        first_token = None
        text = ""
        self.calls += 1
        stream = None
        finished = False
        try:
            stream = self.llm.stream_chat(self.messages(question, sources))
            for r in stream:
                delta = r.delta or ""
                if delta and first_token is None:
                    first_token = (time.perf_counter() - t0) * 1000
                text += delta
                if delta:
                    yield delta
                if time.perf_counter() - t0 > self.timeout_s:
                    raise TimeoutError(f"no complete answer within {self.timeout_s:.0f} s")
            finished = True
        except Exception as e:  # noqa: BLE001 - any LLM failure falls back to the extractive answer
            yield _fallback(base, f"The LLM is unavailable ({_short_error(e)}); this is the extractive answer.")
            return
        finally:
            if stream is not None and not finished:
                # A half-read HTTP stream must be finalised now, at a safe point: left to the garbage collector it
                # can be closed inside the HTTP client's pool lock during the next request and deadlock it.
                if hasattr(stream, "close"):
                    stream.close()
                del stream
                gc.collect()
        llm_ms = (time.perf_counter() - t0) * 1000
        checks = self.checker.check_answer(text, sources)
        verified = [c for c in checks if c.verified]
        if not verified:
            why = "declined to answer" if CANNOT_ANSWER.lower().rstrip(".") in text.lower() else \
                "wrote nothing that its sources support" if text.strip() else "returned an empty answer"
            yield _fallback(base, f"The LLM {why}; this is the extractive answer.")
            return
        if self.relevance is not None and not is_cjk(question):
            # Faithful is not enough: the verified sentences must answer the question about as well as a cited
            # sentence has to (same calibrated bar as the extractive answerer), or the extractive answer is better.
            said = " ".join(c.text for c in verified)
            q = analyse_question(question)
            support = float(self.relevance(question, [said])[0]) + self.extractive.s.coverage_weight * coverage(q, said)
            if support < self.extractive.s.min_support:
                yield _fallback(base, "The LLM's answer did not address the question; this is the extractive answer.")
                return
        renumber: dict[int, int] = {}
        for c in verified:
            for n in c.citations:
                renumber.setdefault(n, len(renumber) + 1)
        citations = []
        for old, new in renumber.items():
            node = nodes[old - 1]
            sc = scores_of(node)
            citations.append(_citation(new, node, sc.get("rerank", sc.get("dense", 0.0))))
        parts, sentences = [], []
        for c in checks:
            marks = sorted({renumber[n] for n in c.citations}) if c.verified else []
            sentences.append({"text": c.text, "citations": marks, "verified": c.verified, "reason": c.reason})
            if c.verified:
                parts.append(c.text + " " + " ".join(f"[{m}]" for m in marks))
        timings = dict(retrieved.timings)
        timings["llm_first_token"] = first_token or llm_ms
        timings["llm"] = llm_ms
        yield Answer(question=question, answer=" ".join(parts), answerable=True, citations=citations,
                     timings_ms=timings, mode="llm", sentences=sentences)


def _fallback(base: Answer, notice: str) -> Answer:
    base.notice = notice
    return base


def _short_error(e: BaseException) -> str:
    name = type(e).__name__
    if "Connection" in name or "connect" in str(e).lower():
        return "cannot connect to the server"
    if "Timeout" in name:
        return "timed out"
    return f"{name}: {str(e)[:80]}"
