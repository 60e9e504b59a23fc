"""People in questions and articles: the roles a who-question asks about, and name aliases.

Machine-translated Chinese news often writes one person's name several ways in the same article: "Li Hongzhong"
in one sentence, "secretary hong zhong" or "guo-xun liao" in another. `find_aliases` links the split forms back
to the article's full names, so an answer quoting the split form can also cite a sentence with the full name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .language import is_cjk, stem, to_simplified, tokenize

# Role nouns a who-question can ask about. A sentence answers "who is the mayor" only if it names that role, or a
# generic one ("head", "chief") that translations use for many specific titles ("district head" = mayor).
_SPECIFIC_ROLES = {
    "secretary": "secretary", "secretaries": "secretary", "mayor": "mayor", "mayors": "mayor",
    "governor": "governor", "governors": "governor", "director": "director", "directors": "director",
    "chairman": "chair", "chairwoman": "chair", "chairperson": "chair", "chair": "chair", "chairmen": "chair",
    "president": "president", "presidents": "president", "minister": "minister", "ministers": "minister",
    "premier": "premier", "manager": "manager", "managers": "manager", "ceo": "ceo", "founder": "founder",
    "founders": "founder", "editor": "editor", "editors": "editor", "reporter": "reporter", "reporters": "reporter",
    "correspondent": "correspondent", "spokesman": "spokesperson", "spokeswoman": "spokesperson",
    "spokesperson": "spokesperson", "commissioner": "commissioner", "principal": "principal", "dean": "dean",
    "captain": "captain", "coach": "coach", "ambassador": "ambassador", "commander": "commander",
    "curator": "curator", "judge": "judge", "prosecutor": "prosecutor", "inspector": "inspector",
}
_GENERIC_ROLES = {"head": "head", "heads": "head", "chief": "chief", "chiefs": "chief", "leader": "leader",
                  "leaders": "leader", "boss": "boss", "official": "official", "officials": "official"}
_EQUIVALENT_IN_TEXT = {"head", "chief"}  # generic words a sentence may use for a specific role
# Chinese titles (simplified) of the same roles. Chinese titles are specific, so no generic equivalence applies.
_ZH_ROLES = {
    "secretary": ("书记",), "mayor": ("市长", "区长", "县长", "镇长"), "governor": ("省长",),
    "director": ("局长", "主任", "处长", "厅长", "所长", "馆长"), "chair": ("主席", "董事长", "理事长", "会长"),
    "president": ("院长", "校长", "主席", "总裁", "行长", "会长"), "minister": ("部长",), "premier": ("总理",),
    "manager": ("经理",), "ceo": ("总裁", "首席执行官"), "founder": ("创始人",), "editor": ("编辑", "主编"),
    "reporter": ("记者",), "correspondent": ("记者",), "spokesperson": ("发言人",), "commissioner": ("专员",),
    "principal": ("校长",), "dean": ("院长",), "captain": ("队长", "船长", "机长"), "coach": ("教练",),
    "ambassador": ("大使",), "commander": ("司令",), "curator": ("馆长",), "judge": ("法官",),
    "prosecutor": ("检察官",), "inspector": ("巡视员",),
}
_ZH_HEAD = re.compile(r"(?:市|区|县|镇|乡|村|省|局|馆|院|校|部|厅|处|所|科|社|行|队|会|站|署|董事|理事)长|负责人|书记|主任|主席")
_WORD = re.compile(r"[A-Za-z]+")
_VERB_SLOT = frozenset("who whom will would to does did do can could should shall may might".split())
_WHO_Q = re.compile(r"^\W*(?:and\s+|so\s+|then\s+)?(who|whom|whose)\b|\b(called|named|names? of)\b", re.I)


def _flat(text: str) -> str:
    """Lower case, hyphens and runs of spaces as one space: "Guo-Xun  Liao" -> "guo xun liao"."""
    return re.sub(r"[\s\-]+", " ", text.lower())


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True)
class Role:
    """A role a question asks about, and the organisation it belongs to ("president of the X court": "court")."""

    name: str
    of: str | None = None
    of_is_name: bool = False  # the organisation is a capitalised name ("Jinan"), checkable in Chinese via pinyin


_ROLE_OF = re.compile(r"\s+of\s+(?:the\s+)?((?:[\w\-]+\s+){0,6}?[\w\-]+?)"
                      r"(?=\s+(?:of|in|at|on|for|with|from|during|to|by|and|who|that|which|called|named)\b|\s*[?,.;!]|\s*$)",
                      re.I)


_OWNER = re.compile(r"\b([A-Z][\w\-]*)['’]s\s+(?:[\w\-]+\s+){0,3}$")


def asked_roles(question: str) -> list[Role]:
    """The roles a person-question asks about ("Who is the mayor of Xi'an?" -> mayor of "xi'an"); [] for other
    questions."""
    if not _WHO_Q.search(question):
        return []
    out: list[Role] = []
    prev = ""
    for m in _WORD.finditer(question):
        w, before, prev = m.group(0).lower(), prev, m.group(0).lower()
        name = _SPECIFIC_ROLES.get(w) or _GENERIC_ROLES.get(w)
        if not name or before in _VERB_SLOT:  # "Who heads ...", "Who will judge ..." use the word as a verb
            continue
        of = _ROLE_OF.match(question, m.end())
        owner = _OWNER.search(question, 0, m.start())  # "Jinan's municipal party secretary"
        org = of.group(1).split()[-1] if of else owner.group(1) if owner else None
        role = Role(name, org.lower() if org else None, bool(org and org[0].isupper()))
        if role not in out:
            out.append(role)
    return out


def _roles_in(text: str) -> set[str]:
    if is_cjk(text):
        simple = to_simplified(text)
        found = {role for role, words in _ZH_ROLES.items() if any(w in simple for w in words)}
        return found | ({"zh-head"} if _ZH_HEAD.search(simple) else set())
    return {_SPECIFIC_ROLES.get(w) or _GENERIC_ROLES.get(w) for w in _words(text)} - {None}  # type: ignore[misc]


def _role_found(role: Role, found: set[str]) -> bool:
    if role.name in _GENERIC_ROLES.values():
        return bool(found)
    return role.name in found or bool(found & _EQUIVALENT_IN_TEXT)


def _organisation_named(role: Role, text: str, article_tokens: set[str]) -> bool:
    if not role.of or (role.of_is_name and role.of in article_tokens):
        return True  # a named place or body ("Jinan's secretary") may be named anywhere in the article
    if is_cjk(text):  # only a name can be checked across languages (its pinyin: "Jinan" ~ 濟南)
        return not role.of_is_name or role.of in tokenize(text)
    return stem(role.of.split("-")[-1]) in {stem(w) for w in _words(text)}


def roles_named(roles: list[Role], text: str, organisations: bool = True, held: set[str] = frozenset(),
                article_tokens: set[str] = frozenset()) -> bool:
    """True if `text` names every asked role (itself, or for a specific role a generic "head"/"chief"; a generic
    asked role such as "head" is satisfied by any role noun) and, if `organisations`, the organisation each
    belongs to. `held`: roles that the people `text` names hold elsewhere in the article (`RoleIndex.held`);
    `article_tokens`: the BM25 tokens of the article, where a named organisation may be instead."""
    if not roles:
        return True
    found = _roles_in(text)
    for role in roles:
        if not (_role_found(role, found) or _role_found(role, set(held))):
            return False
        if organisations and not _organisation_named(role, text, article_tokens):
            return False
    return True


# --- name aliases ----------------------------------------------------------------------------------

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


def people_in(sentence: str, article: str, names: set[str] | None = None) -> set[str]:
    """Full names (of `article`) of the people `sentence` names, in full (any case) or in a split form."""
    names = full_names(article) if names is None else names
    flat = _flat(sentence)
    return {n for n in names if n.lower() in flat} | {a.full for a in find_aliases(sentence, article, names)}


class RoleIndex:
    """Which roles the people of one article are named with, and where: "Li Hongzhong and Liao Guoxun went
    into the workshop" answers "Who was the mayor who inspected the workshop?" because another sentence of
    the article says "the mayor guo-xun liao"."""

    def __init__(self, article: str, spans: list[tuple[int, int]]) -> None:
        self.article = article
        self.names = full_names(article)
        self._where: dict[str, list[tuple[set[str], int, int]]] = {}
        for a, b in spans:
            roles = _roles_in(article[a:b])
            if roles:
                for person in people_in(article[a:b], article, self.names):
                    self._where.setdefault(person, []).append((roles, a, b))

    def held(self, text: str) -> set[str]:
        """Roles the people named in `text` are named with anywhere in the article."""
        out: set[str] = set()
        for person in people_in(text, self.article, self.names):
            for roles, _, _ in self._where.get(person, []):
                out |= roles
        return out

    def where(self, roles: list[Role], text: str, near: int) -> tuple[int, int] | None:
        """The sentence nearest to `near` that names one of `text`'s people with an asked role."""
        found = [(abs(a - near), a, b) for person in people_in(text, self.article, self.names)
                 for held, a, b in self._where.get(person, []) if any(_role_found(r, held) for r in roles)]
        return min(found)[1:] if found else None
