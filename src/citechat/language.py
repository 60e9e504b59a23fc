"""Language helpers: script detection, traditional->simplified Chinese (OpenCC) and BM25 tokenisation.

Chinese is segmented with jieba; each Chinese word also yields its toneless pinyin ("歷城" -> "licheng"), and
runs of capitalised English words yield a joined token ("Liu Sheng" -> "liusheng"), so romanised names match
across the two languages.
"""

from __future__ import annotations

import functools
import logging
import re

# One home for "is this Chinese script": CJK ideographs (Extension A, the unified block, compatibility ideographs).
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # for character classes: f"[{CJK_RANGES}]"
CJK_RE = re.compile(f"[{CJK_RANGES}]")
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*|\d[\d,.]*\d|\d")
_CAP_RUN = re.compile(r"\b(?:[A-Z][a-z]+)(?:[\s\-]+[A-Z][a-z]+){1,2}\b")

STOPWORDS = frozenset(
    """a an the and or but if then of to in on at by for with from as is are was were be been being this that
    these those it its into over under about after before during who whom whose what which when where why how
    did do does done has have had will would shall should can could may might must not no nor so than too very
    s t just also any each other some such only own same there their they them he she his her we our you your i
    me my up down out off again further once all both few more most many much one per via""".split()
)
ZH_QUESTION_WORDS = frozenset(
    "是誰 是谁 什麼 什么 多少 哪裡 哪里 哪些 哪個 哪个 怎樣 怎样 如何 為什麼 为什么 幾個 几个 是否 有沒有 有没有 甚麼 何時 何时 哪年 哪天".split()
)
ZH_STOPWORDS = frozenset("的 了 和 是 在 有 也 就 都 而 及 與 与 之 為 为 對 对 等 中 上 下 把 被 讓 让 向 從 从 到 以 于 於 其 並 并 或 嗎 吗 呢 什麼 什么 多少 哪 哪些 誰 谁 何 怎麼 怎么".split())


MEMO_CHARS = 2000  # texts up to this length (sentences, questions) are memoised: each is seen by many questions


def cjk_ratio(text: str) -> float:
    return _cjk_ratio_memo(text) if len(text) <= MEMO_CHARS else _cjk_ratio(text)


def _cjk_ratio(text: str) -> float:
    letters = [c for c in text if c.isalnum()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if CJK_RE.match(c)) / len(letters)


_cjk_ratio_memo = functools.lru_cache(maxsize=20_000)(_cjk_ratio)


def is_cjk(text: str) -> bool:
    """True when most of the text's letters are Chinese characters."""
    return cjk_ratio(text) >= 0.3


@functools.lru_cache(maxsize=1)
def _opencc():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese; other text passes through unchanged."""
    if not CJK_RE.search(text):
        return text
    return _opencc().convert(text)


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@functools.lru_cache(maxsize=50_000)
def _pinyin(word: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(word)).lower()


def stem(word: str) -> str:
    """Light English stemming (plural -s/-ies), as BM25 tokens use it."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """BM25 tokens for English and Chinese text (and their mixture)."""
    return list(_tokens_memo(text)) if len(text) <= MEMO_CHARS else _tokens(text)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for m in _WORD_RE.finditer(text):
        w = m.group(0).lower().replace("’", "'")
        if w[0].isdigit():
            tokens.append(w.replace(",", ""))
        elif w not in STOPWORDS and len(w) > 1:
            tokens.append(stem(w))
    for m in _CAP_RUN.finditer(text):
        tokens.append(re.sub(r"[\s\-]+", "", m.group(0)).lower())
    if CJK_RE.search(text):
        simple = to_simplified(text)
        for w in _jieba().cut_for_search(simple):
            w = w.strip()
            if not w or not CJK_RE.search(w) or w in ZH_STOPWORDS:
                continue
            tokens.append(w)
            if len(w) >= 2:
                tokens.append(_pinyin(w))
    return tokens


@functools.lru_cache(maxsize=20_000)
def _tokens_memo(text: str) -> tuple[str, ...]:
    return tuple(_tokens(text))


_PROPER = re.compile(r"\b[A-Z][a-zA-Z\-]{2,}")


def proper_terms(text: str) -> list[str]:
    """Capitalised words that are not the first word of a sentence: likely names of people, places, things."""
    out = []
    for m in _PROPER.finditer(text):
        before = text[: m.start()].rstrip()
        if not before or before[-1] in ".?!:;\"“":
            continue
        if m.group(0).lower() in STOPWORDS:
            continue
        out.append(m.group(0))
    return out


def chinese_terms(text: str) -> list[str]:
    """Chinese content words (simplified) of a question: jieba words of 2+ characters, minus question words."""
    if not CJK_RE.search(text):
        return []
    simple = to_simplified(text)
    skip = {to_simplified(w) for w in ZH_QUESTION_WORDS | ZH_STOPWORDS}
    return [w for w in _jieba().cut(simple) if len(w) >= 2 and CJK_RE.search(w) and w not in skip]
