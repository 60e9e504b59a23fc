"""Question analysis, done once per question: what kind of answer it wants, its words, names and numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..language import ZH_QUESTION_WORDS, chinese_terms, is_cjk, proper_terms, stem, to_simplified, tokenize

_WHEN_Q = re.compile(r"\b(when|what date|which date|what day|which day|what year|which year|what time)\b|什麼時候|什么时候|何時|何时|哪天|哪一天|幾月|几月|哪年|日期", re.I)
_COUNT_Q = re.compile(r"\b(how many|how much|what number|what percentage|how long|how far|how big)\b|多少|幾|几", re.I)
_OUTLET_Q = re.compile(r"\b(newspaper|outlet|publication|publisher|news ?paper|media|news agency|which paper|published (?:by|in))\b|報紙|报纸|媒體|媒体|來源|来源|哪家", re.I)
_PUBDATE_Q = re.compile(r"\b(published|publication date|posted|released)\b|發布|发布", re.I)
DATE_IN_TEXT = re.compile(
    r"\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(tember)?|oct(ober)?|nov(ember)?|"
    r"dec(ember)?|spring|summer|autumn|fall|winter|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"today|yesterday|tomorrow|year|month|week|morning|afternoon|evening|festival)\b|\b(1[89]|20)\d\d\b|"
    r"\d{1,2}(st|nd|rd|th)\b|\d+\s*[年月日]|[一二三四五六七八九十]+[月日]|上午|下午|今年|去年|明年|春節|春节",
    re.I,
)
NUMBER_IN_TEXT = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|twenty|"
    r"thirty|forty|fifty|hundred|thousand|million|billion|dozens?|several|half)\b|[一二兩两三四五六七八九十百千萬万億亿]",
    re.I,
)


_ZH_UNITS = "個个人次元萬万億亿冊册家所座名位件項项天年月日噸吨米畝亩戶户台輛辆條条棟栋間间份歲岁倍"
_EN_COUNT_NOUN = re.compile(r"\bhow many ([\w\-]+)(?: ([\w\-]+))?", re.I)
_AUXILIARY = frozenset("did do does were was are is will would have has had can could of in at on for the a".split())


def _count_nouns(question: str) -> tuple[str, ...]:
    """The (at most two) words after "how many", up to the verb: "how many square meters will" -> square, meter."""
    m = _EN_COUNT_NOUN.search(question)
    if not m:
        return ()
    out = []
    for w in (m.group(1), m.group(2)):
        if not w or w.lower() in _AUXILIARY:
            break
        out.append(stem(w.lower()))
    return tuple(out)


_ZH_COUNT_UNIT = re.compile(rf"(?:多少|幾|几)([{_ZH_UNITS}])")
ZH_NUMBER = "0-9零一二三四五六七八九十百千萬万億亿兩两.,"


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
    zh_unit: str | None = None  # "多少冊" -> "册": the answer is a number followed by this measure word
    count_nouns: tuple[str, ...] = ()  # "How many square meters ..." -> ("square", "meter"): what is counted
    name_tokens: list[set[str]] = field(default_factory=list)  # one token set per capitalised name in the question
    names: list[str] = field(default_factory=list)  # the capitalised names themselves ("Luohu", "Liu Sheng")
    zh_terms: list[str] = field(default_factory=list)  # Chinese content words (simplified, 2+ characters)


def analyse_question(question: str) -> QuestionInfo:
    """The one analysis of a question; retrieval and answering both read it."""
    q = question.strip()
    names = proper_terms(q)
    wants_outlet = bool(_OUTLET_Q.search(q))
    wants_pubdate = bool(_PUBDATE_Q.search(q)) and bool(_WHEN_Q.search(q)) and not wants_outlet
    return QuestionInfo(
        text=q,
        cjk=is_cjk(q),
        wants_date=bool(_WHEN_Q.search(q)),
        wants_number=bool(_COUNT_Q.search(q)) and not bool(_WHEN_Q.search(q)),
        wants_outlet=wants_outlet,
        wants_pubdate=wants_pubdate,
        anchors=_anchors(q, names),
        content_tokens=set(tokenize(q)) - _WH_WORDS,
        zh_unit=(m.group(1) if (m := _ZH_COUNT_UNIT.search(to_simplified(q))) else None),
        count_nouns=_count_nouns(q),
        name_tokens=[t for t in (set(tokenize(term)) for term in names) if t],
        names=names,
        zh_terms=chinese_terms(q),
    )


def _anchors(text: str, names: list[str]) -> set[str]:
    """Tokens that tie a question to a passage across languages: names, numbers, Chinese words."""
    toks = set(tokenize(text))
    out = {t for t in toks if t.isdigit() or re.search(r"[\u3400-\u9fff]", t)}
    for term in names:
        out.update(tokenize(term))
    # pinyin forms of Chinese words and joined English names ("licheng", "liusheng")
    out.update(t for t in toks if t.isalpha() and t.isascii() and len(t) >= 5 and t not in _COMMON_LONG)
    return out


_COMMON_LONG = frozenset(
    "district city county province committee party secretary meeting conference project projects development "
    "government municipal mayor director newspaper article question report people".split()
)


_WH_WORDS = frozenset("who whom whose what when where which why how many much".split())


def coverage(q: QuestionInfo, text: str) -> float:
    """Share of the question's content words that occur in `text`."""
    words = q.content_tokens
    if not words:
        return 0.0
    return len(words & set(tokenize(text))) / len(words)


_WHO_Q = re.compile(r"\b(who|whom|whose)\b|誰|谁", re.I)
_WHERE_Q = re.compile(r"\b(where|what place|which city|which country)\b|哪裡|哪里|哪兒|哪儿|何地|何處|何处|在哪", re.I)
_WHY_Q = re.compile(r"\b(why|for what reason)\b|為什麼|为什么|為何|为何|原因", re.I)
_HOW_Q = re.compile(r"\bhow\b|怎麼|怎么|如何|怎樣|怎样", re.I)
QUESTION_TYPES = ("when", "count", "who", "where", "why", "how", "other")


def question_type(q: QuestionInfo) -> str:
    """One of QUESTION_TYPES."""
    if q.wants_date:
        return "when"
    if q.wants_number:
        return "count"
    for name, pattern in (("who", _WHO_Q), ("where", _WHERE_Q), ("why", _WHY_Q), ("how", _HOW_Q)):
        if pattern.search(q.text):
            return name
    return "other"


def has_date(text: str) -> bool:
    return bool(DATE_IN_TEXT.search(text))


def has_number(text: str) -> bool:
    return bool(NUMBER_IN_TEXT.search(text))


_EN_NUMBER_THEN_WORDS = re.compile(
    r"(?:\d[\d,.]*|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozens?|several)\b)((?:\W+\w+){1,4})", re.I)


def counts_asked(q: QuestionInfo, text: str) -> float:
    """For a "how many X" question: 1.0 if a number in `text` is followed by X (English, within four words) or by
    the asked measure word (Chinese), else 0.0; -1.0 when the question counts nothing."""
    if q.zh_unit and is_cjk(text):
        return float(bool(re.search(rf"[{ZH_NUMBER}]\s*{q.zh_unit}", to_simplified(text))))
    if q.count_nouns and not is_cjk(text):
        for m in _EN_NUMBER_THEN_WORDS.finditer(text):
            if set(q.count_nouns) & {stem(w.lower()) for w in re.findall(r"\w+", m.group(1))}:
                return 1.0
        return 0.0
    return -1.0


# --- follow-ups: what a previous question was about, and whether a text holds what a follow-up asks ---

_EN_NAME_RUN = re.compile(r"[A-Z][\w\-]*(?:'s)?(?:\s+(?:of\s+(?:the\s+)?)?[A-Z][\w\-]*(?:'s)?)*")
_ZH_NAME_FLAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz"})
_ZH_AFTER_DOT_STOP = frozenset({"t", "v", "vn", "p", "r", "uj", "ul", "d", "c", "m", "x", "f"})
ZH_QUESTION_NOUNS = frozenset("时候 时间 年份 又称 哪国 国人 原因 名字".split())  # end a topic ("五羊新城又称")
PRONOUN_TOKENS = frozenset("it its they them their he him his she her 它 他 她 它们 他们 她们 其 该 此 这 這".split())


def topics(question: str) -> list[str]:
    """What a question is about, most likely first: its name runs ("Luohu District", "Mark of Anarchy") in
    English; in Chinese the leading noun phrase or the first name, with its nouns ("亚马逊盆地", "伊维卡·奥利奇")."""
    if is_cjk(question):
        topic = _zh_topic(to_simplified(question))
        return [topic] if topic else []
    names = {n.lower() for n in proper_terms(question)}
    out = []
    for m in _EN_NAME_RUN.finditer(question):
        words = m.group(0).split()
        while words and words[0].lower().removesuffix("'s") not in names:  # "When", "The" at the start
            words.pop(0)
        run = " ".join(words).removesuffix("'s")
        if run and run not in out:
            out.append(run)
    return out


def _zh_topic(simple: str) -> str:
    import jieba.posseg  # noqa: PLC0415 - loads its tagger on first use

    words = [(w, f) for w, f in jieba.posseg.cut(simple) if w.strip()]
    if not words:
        return ""
    nounish = lambda f: f.startswith("n") or f == "j"  # noqa: E731
    start = 0 if words[0][1].startswith("n") else next(
        (i for i, (_, f) in enumerate(words) if f in _ZH_NAME_FLAGS), None)
    if start is None:
        return ""
    out, i = "", start
    while i < len(words):
        w, f = words[i]
        if w == "·" and out:
            out += w
            i += 1
            while i < len(words) and words[i][1] not in _ZH_AFTER_DOT_STOP:  # the rest of a transliterated name
                out += words[i][0]
                i += 1
            continue
        if not nounish(f) or w in ZH_QUESTION_NOUNS:
            break
        out += w
        i += 1
    return out if len(out) >= 2 else ""


def own_words(message: str) -> list[str]:
    """A follow-up's own content words: its tokens, less question words and the pronouns that point back."""
    cjk = is_cjk(message)  # a Chinese message's Latin tokens are pinyin copies of its words
    skip = _WH_WORDS | PRONOUN_TOKENS | {to_simplified(w) for w in ZH_QUESTION_WORDS}
    return [t for t in dict.fromkeys(tokenize(message)) if t not in skip and (not cjk or is_cjk(t))]


def holds_what_is_asked(message: str, texts: list[str]) -> bool:
    """True if one of the follow-up's own words is in the texts (across languages by the dictionary), or it has
    none ("And when?"): its answer then is evidence for what it asks, not only for what it borrowed."""
    from ..dictionary import chinese_for, english_for  # noqa: PLC0415

    words = own_words(message)
    if not words:
        return True
    for text in texts:
        toks, simple, cjk = set(tokenize(text)), to_simplified(text), is_cjk(text)
        for w in words:
            if w in toks:
                return True
            if cjk and not is_cjk(w) and any(len(z) >= 2 and z in simple for z in chinese_for(w)):
                return True
            if not cjk and is_cjk(w) and english_for(w) & toks:
                return True
    return False
