"""Citation check for generated answers: every sentence must cite a source that supports it.

A sentence is verified when
1. it carries at least one [n] that names a source that was given to the LLM,
2. every name, number and date in it occurs in the cited source(s) (Chinese names also match their pinyin,
   so "Licheng" is found in a source that says 歷城), and
3. it says something the source says: enough of its content words occur in the source, or its embedding is
   close to the source's. No NLI model ships offline, so this is lexical + embedding evidence; the cut-offs
   are `config.GroundingSettings` (CITECHAT_GROUNDING__*), checked by `tests/test_llm.py`'s grounding tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from ..ingest.chunking import split_sentences
from ..language import STOPWORDS, chinese_terms, is_cjk, proper_terms, to_simplified, tokenize
from .types import SentenceCheck

_MARKER = re.compile(r"\s*\[(\d{1,2})\]")
_NUMBER = re.compile(r"\d[\d,.]*")
_MONTHS = ("january february march april may june july august september october november december").split()


def split_answer(answer: str) -> list[tuple[str, list[int]]]:
    """Sentences of a generated answer with the source numbers each one cites."""
    out: list[tuple[str, list[int]]] = []
    for span in split_sentences(answer):
        raw = answer[span.start: span.end]
        nums = [int(n) for n in _MARKER.findall(raw)]
        text = _MARKER.sub("", raw).strip()
        if not text and nums and out:  # a marker split off after the period: "... sentence. [1]"
            out[-1][1].extend(nums)
            continue
        if text:
            out.append((text, nums))
    return out


def key_terms(sentence: str) -> list[str]:
    """Names, numbers and dates a supported sentence must share with its source."""
    terms: list[str] = []
    for m in _NUMBER.finditer(sentence):
        n = m.group(0).rstrip(".,").replace(",", "")
        if n:
            terms.append(n)
    terms += [t for t in proper_terms(sentence) if t.lower() not in STOPWORDS]
    low = sentence.lower()
    terms += [m for m in _MONTHS if re.search(rf"\b{m}\b", low)]
    terms += chinese_terms(sentence)
    return list(dict.fromkeys(terms))


def _term_found(term: str, source_text: str, source_tokens: set[str]) -> bool:
    t = term.lower()
    if t.isdigit() or re.fullmatch(r"[\d.]+", t):
        digits = re.sub(r"[,\s]", "", source_text)
        return t in digits
    if t in source_text.lower() or to_simplified(t) in to_simplified(source_text):
        return True
    toks = tokenize(term)
    return bool(toks) and all(x in source_tokens for x in toks)


def content_overlap(sentence: str, source_text: str) -> float:
    words = set(tokenize(sentence))
    if not words:
        return 0.0
    return len(words & set(tokenize(source_text))) / len(words)


class GroundingChecker:
    """Checks generated sentences against numbered sources."""

    def __init__(self, embed: Callable[[list[str]], np.ndarray] | None, min_overlap: float = 0.5,
                 min_cosine: float = 0.55, min_cosine_crosslingual: float = 0.3) -> None:
        self.embed = embed
        self.min_overlap = min_overlap
        self.min_cosine = min_cosine
        self.min_cosine_crosslingual = min_cosine_crosslingual

    def check(self, sentence: str, cites: list[int], sources: dict[int, str]) -> SentenceCheck:
        if not cites:
            return SentenceCheck(sentence, cites, False, "no citation")
        bad = [n for n in cites if n not in sources]
        if bad:
            return SentenceCheck(sentence, cites, False, f"cites source {bad[0]}, which does not exist")
        text = " ".join(sources[n] for n in dict.fromkeys(cites))
        toks = set(tokenize(text))
        crosslingual = is_cjk(text) != is_cjk(sentence)
        terms = key_terms(sentence)
        if crosslingual:  # an English sentence about a Chinese source: only numbers can be matched reliably
            terms = [t for t in terms if _NUMBER.fullmatch(t)]
        missing = [t for t in terms if not _term_found(t, text, toks)]
        if missing:
            return SentenceCheck(sentence, cites, False, f"not in the cited source: {', '.join(missing[:3])}",
                                 missing)
        overlap = content_overlap(sentence, text)
        if overlap >= self.min_overlap and not crosslingual:
            return SentenceCheck(sentence, cites, True, f"word overlap {overlap:.2f}")
        if self.embed is not None:
            v = self.embed([sentence, text])
            cos = float(np.dot(v[0], v[1]))
            if cos >= (self.min_cosine_crosslingual if crosslingual else self.min_cosine):
                return SentenceCheck(sentence, cites, True, f"similarity {cos:.2f}")
            return SentenceCheck(sentence, cites, False, f"weak support (overlap {overlap:.2f}, similarity {cos:.2f})")
        return SentenceCheck(sentence, cites, False, f"weak support (overlap {overlap:.2f})")

    def check_answer(self, answer: str, sources: dict[int, str]) -> list[SentenceCheck]:
        return [self.check(text, cites, sources) for text, cites in split_answer(answer)]
