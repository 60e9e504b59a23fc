"""Pinyin glosses in Chinese news text: 區(qū)域 -> 區域. A parenthesised lowercase gloss goes only when it spells the
pypinyin reading of the characters before it; ordinary parentheses ("(Note to add)", "(2021)", "火参果（kiwano）") stay.
(loading.clean_text calls `remove_pinyin_glosses`; evals/cleaning_audit.py lists what it removed in the public sets.)"""

from __future__ import annotations

import functools
import re
import unicodedata

from ..language import CJK_RANGES

_PINYIN_LETTERS = "a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜńňǹḿêếề\u0304\u030c"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿếề\u0304\u030c1-5"
# 區(qū) -> 區: a parenthesised lowercase gloss right after a CJK character, in ASCII or full-width parentheses. Only
# a candidate: `_is_gloss` removes it when it spells the pypinyin reading of the characters before it, so
# "火参果（kiwano）", "(app)", "公司(a)", "(ABC)" or "(2021)" after Chinese text stay.
_GLOSS = re.compile(rf"(?<=[{CJK_RANGES}])[(（]([{_PINYIN_LETTERS}][{_PINYIN_LETTERS}1-5]{{0,47}})[)）]")
# A gloss whose character was lost in a bad re-encoding leaves "?qǐng)": dropped when it is one real pinyin syllable
# with a tone (there is no character left to check its reading against).
_BROKEN_GLOSS = re.compile(rf"\?((?=[{_PINYIN_LETTERS}1-5]*[{_TONED}])[{_PINYIN_LETTERS}]{{1,6}}[1-5]?)\)\|?")
_CJK_RUN = re.compile(rf"[{CJK_RANGES}]{{1,8}}$")


def _toneless(syllables: str) -> str:
    """qū / qu1 / qu -> qu; lǜ / lv -> lu (the form glosses are compared in)."""
    text = unicodedata.normalize("NFD", syllables)
    return "".join(c for c in text if not unicodedata.combining(c) and not c.isdigit()).replace("v", "u")


@functools.lru_cache(maxsize=1)
def _pinyin_readings() -> tuple[dict[int, frozenset[str]], frozenset[str]]:
    """pypinyin's readings of each character (toneless) and the set of all its syllables."""
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {cp: frozenset(_toneless(r) for r in value.split(",")) for cp, value in pinyin_dict.items()}
    return readings, frozenset().union(*readings.values())


def _is_gloss(chars: str, gloss: str) -> bool:
    """Whether `gloss` spells a reading of the last one or more of `chars` (heteronyms and tones allowed to differ:
    區(qū), 荨(qián), 北京(běijīng)). A character pypinyin does not know accepts any pinyin syllable."""
    readings, syllables = _pinyin_readings()
    target = _toneless(gloss)

    @functools.cache
    def spells(end: int, i: int) -> bool:  # target[:end] is the reading of chars[:i] for some tail of them
        if end == 0:
            return i < len(chars)
        if i == 0:
            return False
        return any(target.endswith(r, 0, end) and spells(end - len(r), i - 1)
                   for r in readings.get(ord(chars[i - 1]), syllables) if r)

    return spells(len(target), len(chars))


def _strip_gloss(m: re.Match) -> str:
    chars = _CJK_RUN.search(m.string[max(0, m.start() - 8):m.start()])
    return "" if chars and _is_gloss(chars.group(), m.group(1)) else m.group()


def _strip_broken_gloss(m: re.Match) -> str:
    return "" if _toneless(m.group(1)) in _pinyin_readings()[1] else m.group()


def remove_pinyin_glosses(text: str) -> str:
    """區(qū)域 -> 區域: only real pinyin readings of the characters before them go; ordinary parentheses such as
    "(Note to add)", "(2021)" or "火参果（kiwano）" stay."""
    while True:  # repeated glosses ("區(qū)(qū)") go too, so the result is stable
        cleaned = _BROKEN_GLOSS.sub(_strip_broken_gloss, _GLOSS.sub(_strip_gloss, text))
        if cleaned == text:
            return cleaned
        text = cleaned
