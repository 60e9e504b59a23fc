"""Answerers. The extractive answerer quotes the best supporting sentences with [n] markers, or abstains.

Decision rules (thresholds live in `AnswerSettings`, calibrated with `citechat calibrate`, see docs/retrieval.md):
- An English sentence for an English question is supported when its cross-encoder logit plus a bonus for the
  share of question words it contains clears `min_support`.
- Where the cross-encoder can't judge (Chinese question or Chinese sentence) a sentence is supported when its
  dense cosine clears `min_dense_crosslingual` *and* it shares an anchor with the question: a name (also as
  pinyin), a number, or a Chinese word.
- "When"/"how many" questions need a sentence with a date/number in it; "who is the mayor" questions need a
  sentence that names the role (`names.roles_named`), or names people whom another sentence of the article gives
  that role (which is then cited too).
- When no sentence is supported on its own, the best few that pass those checks are read again together with the
  sentence before them (the place or occasion is often there) and cited as that two-sentence span if the pair
  clears the same bar.
- A quoted sentence that writes a name in a split form ("hong zhong" for "Li Hongzhong") gets a second citation:
  the nearest sentence of the same article with the full name.
- A question naming something the collection never mentions needs a higher logit (`unknown_term_penalty`).
- "Which newspaper/when was it published" questions are answered from the article's byline or dateline sentence,
  once the article itself is identified by the rest of the question.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from llama_index.core.schema import NodeWithScore

from .config import AnswerSettings
from .language import is_cjk, proper_terms, to_simplified, tokenize
from .names import Role, RoleIndex, asked_roles, find_aliases, roles_named
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
            "citations": [c.to_json() for c in self.citations],
            "closest": [c.to_json() for c in self.closest],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }


class Answerer(ABC):
    """Turns a question and retrieved sentences into a cited answer."""

    @abstractmethod
    def answer(self, question: str, retrieved: RetrievalResult) -> Answer:
        """Return an `Answer`; never raise for weak evidence (abstain instead)."""


# --- question analysis -----------------------------------------------------------------------------

_WHEN_Q = re.compile(r"\b(when|what date|which date|what day|which day|what year|which year|what time)\b|什麼時候|什么时候|何時|何时|哪天|哪一天|幾月|几月|哪年|日期", re.I)
_COUNT_Q = re.compile(r"\b(how many|how much|what number|what percentage|how long|how far|how big)\b|多少|幾|几", re.I)
_OUTLET_Q = re.compile(r"\b(newspaper|outlet|publication|publisher|news ?paper|media|news agency|which paper|published (?:by|in))\b|報紙|报纸|媒體|媒体|來源|来源|哪家", re.I)
_PUBDATE_Q = re.compile(r"\b(published|publication date|posted|released)\b|發布|发布", re.I)
_DATE_IN_TEXT = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?|oct(ober)?|nov(ember)?|"
    r"dec(ember)?|spring|summer|autumn|fall|winter|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"today|yesterday|tomorrow|year|month|week|morning|afternoon|evening|festival)\b|\b(1[89]|20)\d\d\b|"
    r"\d{1,2}(st|nd|rd|th)\b|\d+\s*[年月日]|[一二三四五六七八九十]+[月日]|上午|下午|今年|去年|明年|春節|春节",
    re.I,
)
_NUMBER_IN_TEXT = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|billion|dozens?|several|half)\b|[一二兩两三四五六七八九十百千萬万億亿]",
    re.I,
)


_ZH_UNITS = "個个人次元萬万億亿冊册家所座名位件項项天年月日噸吨米畝亩戶户台輛辆條条棟栋間间份歲岁倍"
_ZH_COUNT_UNIT = re.compile(rf"(?:多少|幾|几)([{_ZH_UNITS}])")
_ZH_NUMBER = "0-9零一二三四五六七八九十百千萬万億亿兩两.,"


@dataclass
class QuestionInfo:
    text: str
    cjk: bool
    wants_date: bool
    wants_number: bool
    wants_outlet: bool
    wants_pubdate: bool
    anchors: set[str]
    content_tokens: set[str]
    zh_unit: str | None = None  # "多少冊" -> "册": the answer must be a number followed by this measure word
    name_tokens: list[set[str]] = field(default_factory=list)  # one token set per capitalised name in the question
    roles: list[Role] = field(default_factory=list)  # "Who is the mayor of X?" -> [Role("mayor", "x")]
    distinctive_names: list[set[str]] = field(default_factory=list)  # those few articles use (set per retrieval)


def analyse_question(question: str) -> QuestionInfo:
    q = question.strip()
    wants_outlet = bool(_OUTLET_Q.search(q))
    wants_pubdate = bool(_PUBDATE_Q.search(q)) and bool(_WHEN_Q.search(q)) and not wants_outlet
    return QuestionInfo(
        text=q,
        cjk=is_cjk(q),
        wants_date=bool(_WHEN_Q.search(q)),
        wants_number=bool(_COUNT_Q.search(q)) and not bool(_WHEN_Q.search(q)),
        wants_outlet=wants_outlet,
        wants_pubdate=wants_pubdate,
        anchors=_anchors(q),
        content_tokens=set(tokenize(q)) - _WH_WORDS,
        zh_unit=(m.group(1) if (m := _ZH_COUNT_UNIT.search(to_simplified(q))) else None),
        name_tokens=[t for t in (set(tokenize(term)) for term in proper_terms(q)) if t],
        roles=asked_roles(q),
    )


def _anchors(text: str) -> set[str]:
    """Tokens that tie a question to a passage across languages: names, numbers, Chinese words."""
    toks = set(tokenize(text))
    out = {t for t in toks if t.isdigit() or re.search(r"[\u3400-\u9fff]", t)}
    for term in proper_terms(text):
        out.update(tokenize(term))
    # pinyin forms of Chinese words and joined English names ("licheng", "liusheng")
    out.update(t for t in toks if t.isalpha() and t.isascii() and len(t) >= 5 and t not in _COMMON_LONG)
    return out


_COMMON_LONG = frozenset(
    "district city county province committee party secretary meeting conference project projects development "
    "government municipal mayor director newspaper article question report people".split()
)


_WH_WORDS = frozenset("who whom whose what when where which why how many much".split())


def entity_overlap(q: QuestionInfo, article_tokens: set[str] | None) -> float:
    """Share of the question's distinctive names (capitalised words few articles use) found in an article;
    1.0 if it names none. Common capitalised words ("District", "Bureau") don't identify an article."""
    names = q.distinctive_names
    if article_tokens is None or not names:
        return 1.0
    return sum(1 for group in names if group & article_tokens) / len(names)


def coverage(q: QuestionInfo, text: str) -> float:
    """Share of the question's content words that occur in `text`."""
    words = q.content_tokens
    if not words:
        return 0.0
    return len(words & set(tokenize(text))) / len(words)


# --- extractive answerer ---------------------------------------------------------------------------

@dataclass
class _Scored:
    node: NodeWithScore
    support: float  # comparable within one `kind`
    kind: str  # "ce" (cross-encoder logit) or "xl" (dense, cross-language)
    ok: bool
    checked: bool = False  # passes the type, name and role checks (whatever its support; the role's organisation
    # may be missing: it can be in the sentence before)
    role_elsewhere: bool = False  # the asked role is stated in another sentence about the people this one names


class ExtractiveAnswerer(Answerer):
    """Quotes the best supporting sentence(s) from the retrieved passages. No LLM."""

    def __init__(self, settings: AnswerSettings, relevance: Callable[[str, list[str]], Any] | None = None) -> None:
        self.s = settings
        # (question, [text]) -> cross-encoder logits; re-reads weak sentences with their context. None: no re-read.
        self.relevance = relevance
        self._role_indexes: dict[tuple[str, str], RoleIndex] = {}

    def role_index(self, retrieved: RetrievalResult, node: NodeWithScore) -> RoleIndex | None:
        """Who is named with which role in the article of `node` (cached per article version)."""
        m = node.node.metadata
        key = (m.get("source", ""), str(m.get("content_hash", "")))
        index = self._role_indexes.get(key)
        if index is None:
            text = retrieved.text_of(node)
            if text is None:
                return None
            if len(self._role_indexes) > 256:
                self._role_indexes.clear()
            index = self._role_indexes[key] = RoleIndex(text, retrieved.sentence_spans(key[0]))
        return index

    def _score(self, q: QuestionInfo, n: NodeWithScore, penalty: float, xl_penalty: float = 0.0,
               article_tokens: set[str] | None = None, retrieved: RetrievalResult | None = None) -> _Scored:
        sc = scores_of(n)
        text = n.node.get_content()
        type_ok = True
        if q.wants_date and not _DATE_IN_TEXT.search(text):
            type_ok = False
        if q.wants_number and not _NUMBER_IN_TEXT.search(text):
            type_ok = False
        if q.zh_unit and is_cjk(text) and not re.search(rf"[{_ZH_NUMBER}]\s*{q.zh_unit}", to_simplified(text)):
            type_ok = False
        # The names the question uses must be those of the sentence's article ("Who presided over the
        # Tianjin Olympic Games?" is not answered from an article that never mentions Tianjin).
        names_ok = entity_overlap(q, article_tokens) >= 0.5
        english = not q.cjk and not is_cjk(text)
        # The role must be in the sentence, or the people it names must be named with it elsewhere in the
        # article; its organisation may be in the sentence before (read in context).
        role_ok = roles_named(q.roles, text, organisations=False)
        held: set[str] = set()
        if "rerank" in sc and english and not role_ok and retrieved is not None and \
                (index := self.role_index(retrieved, n)):
            held = index.held(text)
            role_ok = roles_named(q.roles, text, organisations=False, held=held)
        if "rerank" in sc:
            support = sc["rerank"] + self.s.coverage_weight * coverage(q, text)
            checked = type_ok and names_ok and role_ok
            ok = checked and roles_named(q.roles, text, held=held, article_tokens=article_tokens or set()) and \
                support >= self.s.min_support + penalty
            return _Scored(n, support, "ce", ok, checked, role_elsewhere=bool(held))
        if english:
            # An English pair the cross-encoder did not score (ranked below its candidates) is not evidence
            # on its own; it can still be read in context (`context_windows`).
            return _Scored(n, sc.get("dense", 0.0), "xl", False, type_ok and names_ok and role_ok)
        dense = sc.get("dense", 0.0)
        # Routing needs positive evidence: a name/number/word of the question in the sentence or its article.
        shared = q.anchors & (set(tokenize(text)) | (article_tokens or set()))
        checked = type_ok and names_ok and bool(shared) and \
            roles_named(q.roles, text, article_tokens=article_tokens or set())
        ok = checked and dense >= self.s.min_dense_crosslingual + xl_penalty * self.s.dense_per_logit
        return _Scored(n, dense, "xl", ok, checked)

    @staticmethod
    def _analyse(question: str, retrieved: RetrievalResult) -> QuestionInfo:
        q = analyse_question(question)
        q.distinctive_names = [g for g in q.name_tokens if retrieved.is_distinctive(g)]
        return q

    def _score_all(self, q: QuestionInfo, retrieved: RetrievalResult) -> tuple[list[_Scored], float, float]:
        """Every candidate scored, with the penalties applied to English and to cross-language decisions."""
        # Unknown names weigh against English sentences; against Chinese sentences only unknown Chinese words do
        # (an English word like "School" cannot occur in a Chinese article).
        penalty = self.s.unknown_term_penalty if retrieved.unknown_terms else 0.0
        xl_penalty = self.s.unknown_term_penalty if any(is_cjk(t) for t in retrieved.unknown_terms) else 0.0
        scored = [self._score(q, n, penalty, xl_penalty, retrieved.article_tokens(n.node.metadata.get("source", "")),
                              retrieved) for n in retrieved.nodes]
        return scored, penalty, xl_penalty

    def answer(self, question: str, retrieved: RetrievalResult) -> Answer:
        q = self._analyse(question, retrieved)
        scored, penalty, xl_penalty = self._score_all(q, retrieved)
        if q.wants_outlet or q.wants_pubdate:
            meta = self._metadata_answer(q, retrieved, scored, penalty, xl_penalty)
            if meta is not None:
                return meta
        chosen = self._choose(scored)
        citations = [_citation(i + 1, c.node, c.support) for i, c in enumerate(chosen)]
        if not citations:
            citations = self._in_context(q, retrieved, scored, penalty)
        if not citations:
            return Answer(question=question, answer=CANNOT_ANSWER, answerable=False,
                          closest=self._closest(scored), timings_ms=dict(retrieved.timings))
        texts = {c.node.node.metadata.get("source", ""): retrieved.text_of(c.node) for c in chosen}
        citations += self._role_statements(q, retrieved, chosen, citations)
        citations += self._full_names(retrieved, citations, texts)
        text = " ".join(f"{c.text} [{c.n}]" for c in citations)
        return Answer(question=question, answer=text, answerable=True, citations=citations,
                      timings_ms=dict(retrieved.timings))

    def context_windows(self, q: QuestionInfo, retrieved: RetrievalResult,
                        scored: list[_Scored]) -> list[tuple[float, _Scored, int, int, str]]:
        """The best English sentences that pass the checks (reranked or not), each read with the sentence before it:
        (support of the pair, sentence, span start, span end, article text)."""
        if self.relevance is None or q.cjk or self.s.context_candidates <= 0:
            return []
        # reranked sentences by support, then English ones the cross-encoder did not reach, in fused order
        weak = sorted((s for s in scored if s.kind == "ce" and s.checked), key=lambda s: -s.support) + \
            [s for s in scored if s.kind != "ce" and s.checked and not is_cjk(s.node.node.get_content())]
        windows = []
        for s in weak[: self.s.context_candidates]:
            m = s.node.node.metadata
            start, end = int(m.get("start", 0)), int(m.get("end", 0))
            text = retrieved.text_of(s.node)
            before = [a for a, b in retrieved.sentence_spans(m.get("source", "")) if b <= start]
            tokens = retrieved.article_tokens(m.get("source", ""))
            if text is not None and before and roles_named(q.roles, text[before[-1]:end], article_tokens=tokens):
                windows.append((s, before[-1], end, text))
        if not windows:
            return []
        logits = self.relevance(q.text, [t[a:b] for _, a, b, t in windows])
        return [(float(logit) + self.s.coverage_weight * coverage(q, t[a:b]), s, a, b, t)
                for (s, a, b, t), logit in zip(windows, logits)]

    def _in_context(self, q: QuestionInfo, retrieved: RetrievalResult, scored: list[_Scored],
                    penalty: float) -> list[Citation]:
        """Second reading when nothing is supported on its own: cites the best sentence pair that clears
        `min_support` as one span."""
        ok = [w for w in self.context_windows(q, retrieved, scored) if w[0] >= self.s.min_support + penalty]
        if not ok:
            return []
        support, s, a, b, text = max(ok, key=lambda w: w[0])
        return [_span_citation(1, s.node.node.metadata.get("source", ""), text, a, b, support)]

    def _role_statements(self, q: QuestionInfo, retrieved: RetrievalResult, chosen: list[_Scored],
                         citations: list[Citation]) -> list[Citation]:
        """For a quoted sentence that answers a who-question without naming the role, the sentence of the same
        article that names its people with that role."""
        extra: list[Citation] = []
        taken = {(c.source, c.start) for c in citations}
        for s, c in zip(chosen, citations):
            index = self.role_index(retrieved, s.node) if s.role_elsewhere else None
            span = index.where(q.roles, c.text, c.start) if index else None
            if span is None or (c.source, span[0]) in taken:
                continue
            roles = ", ".join(r.name for r in q.roles)
            n = len(citations) + len(extra) + 1
            extra.append(_span_citation(n, c.source, index.article, span[0], span[1], c.score,
                                        note=f"names the people of [{c.n}] with the role: {roles}"))
            taken.add((c.source, span[0]))
        return extra

    def _full_names(self, retrieved: RetrievalResult, citations: list[Citation],
                    texts: dict[str, str | None]) -> list[Citation]:
        """For names quoted in a split form ("hong zhong"), the nearest sentence of the same article that writes
        them in full ("Li Hongzhong"), cited after the answer's own sentences."""
        extra: list[Citation] = []
        taken = {(c.source, c.start) for c in citations}
        for c in citations:
            if is_cjk(c.text):
                continue
            text = texts.get(c.source) or retrieved.text_of_source(c.source)
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

    def ranked(self, question: str, retrieved: RetrievalResult) -> list[_Scored]:
        """All candidates, best first: supported before unsupported, cross-encoder scores before dense ones."""
        scored, _, _ = self._score_all(self._analyse(question, retrieved), retrieved)
        return sorted(scored, key=lambda s: (not s.ok, s.kind != "ce", -s.support))

    def _choose(self, scored: list[_Scored]) -> list[_Scored]:
        for kind, margin in (("ce", self.s.extra_citation_margin), ("xl", self.s.extra_citation_margin * self.s.dense_per_logit)):
            ok = sorted((s for s in scored if s.ok and s.kind == kind), key=lambda s: -s.support)
            if ok:
                best = ok[0]
                picks = [best] + [s for s in ok[1:] if s.support >= best.support - margin]
                picks = picks[: self.s.max_citations]
                if len({p.node.node.metadata.get("source") for p in picks}) == 1:
                    picks.sort(key=lambda p: p.node.node.metadata.get("start", 0))  # read in article order
                return picks
        return []

    def _closest(self, scored: list[_Scored]) -> list[Citation]:
        ranked = sorted(scored, key=lambda s: (s.kind != "ce", -s.support))
        return [_citation(i + 1, s.node, s.support) for i, s in enumerate(ranked[: self.s.closest_matches])]

    def _metadata_answer(self, q: QuestionInfo, retrieved: RetrievalResult, scored: list[_Scored],
                         penalty: float, xl_penalty: float) -> Answer | None:
        """Answer "which newspaper / when published" from the byline or dateline of the best-matching article."""
        by_article: dict[str, float] = {}
        topic_ok: dict[str, bool] = {}
        for s in scored:
            src = s.node.node.metadata.get("source", "")
            by_article[src] = by_article.get(src, 0.0) + scores_of(s.node).get("rrf", 0.0)
            good = (s.kind == "ce" and s.support >= self.s.min_topic_logit + penalty) or \
                   (s.kind == "xl" and s.support >= self.s.min_dense_crosslingual + xl_penalty * self.s.dense_per_logit)
            topic_ok[src] = topic_ok.get(src, False) or good
        if not by_article:
            return None
        source = max(by_article, key=by_article.get)
        named = bool(q.anchors & retrieved.article_tokens(source)) and not retrieved.unknown_terms
        if not (topic_ok.get(source) or named):
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
        final = None
        for item in self.stream(question, retrieved):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def messages(self, question: str, sources: dict[int, str]) -> list[Any]:
        from llama_index.core.base.llms.types import ChatMessage

        numbered = "\n".join(f"[{n}] {text}" for n, text in sources.items())
        return [
            ChatMessage(role="system", content=self.prompts.system.format(cannot_answer=CANNOT_ANSWER)),
            ChatMessage(role="user", content=self.prompts.qa.format(sources=numbered, question=question)),
        ]

    def select_sources(self, question: str, retrieved: RetrievalResult, base: Answer) -> list[NodeWithScore]:
        """The extractive answer's sentences first, then the next best supported candidates."""
        ranked = self.extractive.ranked(question, retrieved)
        cited = {(c.source, c.start) for c in base.citations}
        first = [s.node for s in ranked if (s.node.node.metadata.get("source"), s.node.node.metadata.get("start")) in cited]
        rest = [s.node for s in ranked if s.node not in first]
        return (first + rest)[: self.max_sources]

    def stream(self, question: str, retrieved: RetrievalResult):
        """Yields text deltas while the LLM writes, then the final, verified `Answer`."""
        import gc
        import time

        base = self.extractive.answer(question, retrieved)
        if not base.answerable:
            yield base  # abstention first: the LLM is never called on weak evidence
            return
        nodes = self.select_sources(question, retrieved, base)
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
