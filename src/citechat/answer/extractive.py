"""The extractive answerer: quotes the sentences most likely to hold the answer, with [n] markers, or abstains.

The decision to answer or abstain is learned (`decision.py`): every candidate sentence gets a probability of
holding the answer (`scores.learned`), and the best one is quoted when it clears the threshold of the question's
language pair. Two hand rules stay, each measured on the public sets (docs/decision.md): bylines are never
answers, and a "how many"/"when" question is answered only by a sentence with a number/date. "Which newspaper /
when was it published" questions are answered from the article's byline or dateline once the article is known.
A quoted sentence that writes a name in a split form ("hong zhong" for "Li Hongzhong") gets one more citation:
the nearest sentence of the same article with the full name.
"""

from __future__ import annotations

from .. import dictionary
from ..config import AnswerSettings
from ..language import is_cjk
from ..names import find_aliases
from ..retrieval import Candidate, RetrievalResult
from ..store import Store, StoredArticle
from .decision import DecisionModel, citable, pair_of
from .features import candidate_features, question_features
from .question import QuestionInfo, has_date, has_number
from .types import CANNOT_ANSWER, Answer, Answerer, Citation


class Articles:
    """Whole articles for one question's answer, each read from the store at most once."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self._articles: dict[str, StoredArticle | None] = {}
        self._spans: dict[str, list[tuple[int, int]]] = {}

    def article(self, source: str) -> StoredArticle | None:
        """An article with its cleaned text (None if it is not indexed)."""
        if source not in self._articles:
            self._articles[source] = self.store.read_articles([source]).get(source) if self.store is not None else None
        return self._articles[source]

    def text(self, source: str) -> str:
        art = self.article(source)
        return art.text if art is not None else ""

    def sentence_spans(self, source: str) -> list[tuple[int, int]]:
        """Sentence offsets of an article, in order."""
        if source not in self._spans:
            metas = self.store.sentences_of(source) if self.store is not None else []
            self._spans[source] = sorted((int(m["start"]), int(m["end"])) for m in metas if "start" in m)
        return self._spans[source]


class ExtractiveAnswerer(Answerer):
    """Quotes the sentence the learned decision finds most likely to hold the answer, when that probability clears
    the threshold of the question's language pair; otherwise abstains. No LLM. `store`: whole articles, for the
    full-name and byline/dateline citations."""

    def __init__(self, settings: AnswerSettings, decision: DecisionModel | None = None,
                 store: Store | None = None) -> None:
        self.s = settings
        self.decision = decision or DecisionModel()
        self.store = store

    def warm_up(self) -> None:
        self.decision.warm_up()
        dictionary.warm_up()

    def ranked(self, retrieved: RetrievalResult) -> list[Candidate]:
        """Every citable candidate, most likely answer first; `scores.learned` holds the probability."""
        info = retrieved.question
        cands = [c for c in retrieved.candidates if citable(c.text)]
        X = candidate_features(question_features(info), cands, retrieved.corpus, len(retrieved.unknown_terms))
        for c, p in zip(cands, self.decision.predict(X), strict=True):  # one row of X per candidate
            c.scores.learned = float(p)
            if self.s.require_type_match and (info.wants_number or info.wants_date):
                # "How many"/"when" is answered only by a sentence with a number/date (measured in docs/decision.md).
                if not (has_date(c.text) if info.wants_date else has_number(c.text)):
                    c.scores.learned = 0.0
        return sorted(cands, key=lambda c: (-_learned(c), c.order))  # ties: the fused order

    def answer(self, retrieved: RetrievalResult) -> Answer:
        return self.decide(retrieved)[0]

    def decide(self, retrieved: RetrievalResult) -> tuple[Answer, list[Candidate]]:
        """The answer, and the ranked candidates it was chosen from (the LLM answerer picks its sources there)."""
        info, ranked, articles = retrieved.question, self.ranked(retrieved), Articles(self.store)
        timings = dict(retrieved.timings)
        if info.wants_outlet or info.wants_pubdate:
            meta = self._metadata_answer(retrieved, ranked, articles)
            if meta is not None:
                return meta, ranked
        chosen, threshold = self._choose(info, ranked)
        if not chosen:
            closest = [citation(i + 1, c, _learned(c)) for i, c in enumerate(ranked[: self.s.closest_matches])]
            return Answer(question=info.text, answer=CANNOT_ANSWER, answerable=False, closest=closest,
                          timings_ms=timings, reason=_abstain_reason(info, ranked, threshold)), ranked
        citations = [citation(i + 1, c, _learned(c)) for i, c in enumerate(chosen)]
        citations += self._full_names(articles, citations)
        body = " ".join(f"{c.text} [{c.n}]" for c in citations)
        return Answer(question=info.text, answer=body, answerable=True, citations=citations,
                      timings_ms=timings), ranked

    def _choose(self, info: QuestionInfo, ranked: list[Candidate]) -> tuple[list[Candidate], float]:
        """The best sentence if it clears its pair's threshold, plus runners-up that also clear it and come close."""
        if not ranked:
            return [], self.decision.threshold(pair_of(info.cjk, info.cjk))
        best = ranked[0]
        threshold = self.decision.threshold(pair_of(info.cjk, is_cjk(best.text)))
        if _learned(best) < threshold:
            return [], threshold
        picks = [best] + [c for c in ranked[1:] if _learned(c) >= threshold and
                          _learned(c) >= _learned(best) * self.s.extra_citation_ratio]
        picks = picks[: self.s.max_citations]
        if len({p.source for p in picks}) == 1:
            picks.sort(key=lambda p: p.start)  # read in article order
        return picks, threshold

    def _full_names(self, articles: Articles, citations: list[Citation]) -> list[Citation]:
        """For names quoted in a split form ("hong zhong"), the nearest sentence of the same article that writes
        them in full ("Li Hongzhong"), cited after the answer's own sentences."""
        extra: list[Citation] = []
        taken = {(c.source, c.start) for c in citations}
        for c in citations:
            text = "" if is_cjk(c.text) else articles.text(c.source)
            if not text:
                continue
            quoted = " ".join(x.text for x in citations + extra if x is not c)
            aliases = [a for a in find_aliases(c.text, text) if a.full not in quoted]  # not already quoted in full
            if not aliases:
                continue
            fulls = list(dict.fromkeys(a.full for a in aliases))
            spans = [(a, b) for a, b in articles.sentence_spans(c.source) if (c.source, a) not in taken]
            # most of the full names first, then the nearest to the quoted sentence
            ranked = sorted(((sum(f in text[a:b] for f in fulls), -min(abs(a - c.start), abs(b - c.end)), a, b)
                             for a, b in spans), reverse=True)
            if not ranked or ranked[0][0] == 0:
                continue
            _, _, a, b = ranked[0]
            names = ", ".join(dict.fromkeys(f"{x.written} = {x.full}" for x in aliases if x.full in text[a:b]))
            n = len(citations) + len(extra) + 1
            extra.append(span_citation(n, c.source, text, a, b, c.score, note=f"full names for [{c.n}]: {names}"))
            taken.add((c.source, a))
        return extra

    def _metadata_answer(self, retrieved: RetrievalResult, ranked: list[Candidate],
                         articles: Articles) -> Answer | None:
        """Answer "which newspaper / when published" from the byline or dateline of the article the rest of the
        question is about: the article of the most likely sentences, if the question names it or one of its
        sentences clears a third of the answer threshold."""
        q = retrieved.question
        by_article: dict[str, float] = {}
        for c in ranked:
            by_article[c.source] = max(by_article.get(c.source, 0.0), _learned(c))
        if not by_article:
            return None
        source = max(by_article, key=lambda s: by_article[s])
        threshold = self.decision.threshold(pair_of(q.cjk, is_cjk(ranked[0].text)))
        named = bool(q.anchors & retrieved.corpus.article_tokens(source)) and not retrieved.unknown_terms
        if not (named or by_article[source] >= threshold / 3):
            return None
        art = articles.article(source)
        if art is None:
            return None
        meta, text = art.meta, art.text
        key = "outlet" if q.wants_outlet else "date"
        value, at = meta.get(key), meta.get(f"{key}_at", -1)  # where the value is written ("February 7, 2022")
        span = _sentence_containing(text, value, articles.sentence_spans(source), at) if value and text else None
        if span is None:
            return None
        cit = span_citation(1, source, text, *span, by_article[source], title=meta.get("title", ""),
                            outlet=meta.get("outlet", ""), date=meta.get("date", ""))
        return Answer(question=q.text, answer=f"{cit.text} [1]", answerable=True, citations=[cit],
                      timings_ms=dict(retrieved.timings))


def _learned(c: Candidate) -> float:
    """The answer decision's probability, which `ExtractiveAnswerer.ranked` gives every candidate it returns."""
    p = c.scores.learned
    assert p is not None, "a candidate not ranked by the answer decision"
    return p


def _abstain_reason(info: QuestionInfo, ranked: list[Candidate], threshold: float) -> str:
    """One plain line: why the decision abstained."""
    if not ranked:
        return "no indexed sentence matches the question"
    kind = "a date" if info.wants_date else "a number" if info.wants_number else None
    if kind and all(c.scores.learned == 0.0 for c in ranked[:5]):
        return f"the question asks for {kind}, and no close sentence has one"
    return f"the closest sentence scores {ranked[0].scores.learned:.2f}; answers need {threshold:.2f}"


def _sentence_containing(text: str, value: str, spans: list[tuple[int, int]], at: int = -1) -> tuple[int, int] | None:
    idx = at if isinstance(at, int) and 0 <= at < len(text) else text.find(value)
    if idx < 0:
        return None
    for a, b in spans:
        if a <= idx < b:
            return a, b
    line_start = text.rfind("\n", 0, idx) + 1
    line_end = text.find("\n", idx)
    return line_start, (line_end if line_end >= 0 else len(text))


def span_citation(n: int, source: str, text: str, start: int, end: int, score: float, note: str = "",
                  **meta: str) -> Citation:
    """A citation of `text[start:end]` of an article (title/outlet/date are filled in by the engine if absent)."""
    return Citation(n=n, source=source, title=meta.get("title", ""), text=text[start:end], start=start, end=end,
                    score=round(float(score), 4), outlet=meta.get("outlet", ""), date=meta.get("date", ""),
                    context_start=start, context_end=end, note=note)


def citation(n: int, c: Candidate, score: float, score_kind: str = "probability") -> Citation:
    """Citation [n] of a candidate sentence; `score_kind` says what `score` is (types.SCORE_KINDS)."""
    return Citation(n=n, source=c.source, title=c.title, text=c.text, start=c.start, end=c.end,
                    score=round(float(score), 4), outlet=c.outlet, date=c.date,
                    context_start=c.context_start, context_end=c.context_end, score_kind=score_kind)
