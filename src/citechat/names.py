"""Name aliases of people in articles.

Machine-translated Chinese news often writes one person's name several ways in the same article: "Li Hongzhong"
in one sentence, "secretary hong zhong" or "guo-xun liao" in another. `find_aliases` links the split forms back
to the article's full names, so an answer quoting the split form can also cite a sentence with the full name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z]+")


def _flat(text: str) -> str:
    """Lower case, hyphens and runs of spaces as one space: "Guo-Xun  Liao" -> "guo xun liao"."""
    return re.sub(r"[\s\-]+", " ", text.lower())



_SURNAMES = frozenset(
    """li wang zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo he gao lin luo zheng liang xie song tang
    xu han feng deng cao peng zeng xiao tian dong yuan pan cai jiang yu du ye cheng wei su lv lu ding ren shen yao
    jiang cui zhong tan lu wang fan jin shi liao jia xia wei fu fang bai zou meng xiong qin qiu hou jiang yin xue
    yan duan lei long li shi tao he gu mao hao gong shao wan qian yan tan wu dai mo kong xiang chang kang lian qi
    ouyang sima zhuge""".split()
)
_FULL_NAME = re.compile(r"\b([A-Z][a-z]{0,6})[ \u00a0]([A-Z][a-z]{3,11})\b")


@dataclass(frozen=True)
class Alias:
    """`written` (as in the sentence) is the same person as `full` (as elsewhere in the article)."""

    written: str
    full: str


def full_names(article: str) -> set[str]:
    """Capitalised "Surname Givenname" names in romanised Chinese ("Li Hongzhong")."""
    return {f"{m.group(1)} {m.group(2)}" for m in _FULL_NAME.finditer(article) if m.group(1).lower() in _SURNAMES}


def find_aliases(sentence: str, article: str, names: set[str] | None = None) -> list[Alias]:
    """Split or reordered forms of the article's full names in `sentence` ("hong zhong", "guo-xun liao" for
    "Li Hongzhong", "Liao Guoxun"). A name already written in full (any case) is not an alias.
    `names`: the article's `full_names`, if already known."""
    names = full_names(article) if names is None else names
    if not names:
        return []
    flat = _flat(sentence)
    by_given: dict[str, list[tuple[str, str]]] = {}
    for full in sorted(names):
        surname, given = full.lower().split(" ")
        if f"{surname} {given}" not in flat:
            by_given.setdefault(given, []).append((surname, full))
    tokens = list(_WORD.finditer(sentence))
    words = [t.group(0).lower() for t in tokens]
    out: list[Alias] = []
    for i in range(len(tokens)):
        for k in (2, 3):  # a given name split into its syllables
            part = words[i:i + k]
            if len(part) < k or any(len(w) > 6 for w in part):
                continue
            for surname, full in by_given.get("".join(part), []):
                start, end = tokens[i].start(), tokens[i + k - 1].end()
                # take the surname along when it is written next to the given name ("guo-xun liao")
                if i + k < len(tokens) and words[i + k] == surname \
                        and re.fullmatch(r"[\s\-]+", sentence[end:tokens[i + k].start()]):
                    end = tokens[i + k].end()
                elif i > 0 and words[i - 1] == surname \
                        and re.fullmatch(r"[\s\-]+", sentence[tokens[i - 1].end():start]):
                    start = tokens[i - 1].start()
                alias = Alias(sentence[start:end], full)
                if alias not in out:
                    out.append(alias)
    return out
