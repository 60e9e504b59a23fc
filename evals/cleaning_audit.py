"""What cleaning (`citechat.ingest.loading.clean_text`) removes from article files, by kind, with examples.

Runs the cleaner over the three public corpora of ../shared/eval/public (corpus-en, corpus-zh, corpus-cmrc: only
read and counted, nothing is trained or tuned on them) and over the shipped data/articles/. Each file's raw text is
diffed against its cleaned text (difflib) and every removed span is put in one kind:

- gloss: a parenthesised pinyin reading after Chinese characters, "區(qū)" -> "區";
- gloss debris: "?qǐng)", a gloss whose character a bad re-encoding lost;
- boilerplate: whole lines such as "Leave a Reply", link lines, "Disclaimer: ..." tails;
- markup: Markdown syntax (headings, link targets, emphasis) and zero-width characters ("script");
- normalisation: Unicode NFC and line ends;
- whitespace: runs of spaces, indentation, blank lines;
- other: anything else, which cleaning should never remove.

It runs the cleaner twice: with the current gloss rule (a gloss must spell the pypinyin reading of the characters
before it) and with the rule before issue 21 (any 1-6 lowercase letters with a vowel in parentheses after a CJK
character, which took "数字键盘（keypad）" to "数字键盘"), and lists what the old rule removed that is not pinyin.

Writes evals/results/cleaning.md and cleaning.json.  Usage: python evals/cleaning_audit.py
"""

from __future__ import annotations

import collections
import difflib
import json
import re
import sys
import unicodedata
from pathlib import Path

from citechat.ingest import glosses, loading
from citechat.ingest.loading import clean_text, decode_bytes
from citechat.language import CJK_RANGES

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT.parent / "shared" / "eval" / "public"
CORPORA = {
    "corpus-en": PUBLIC / "corpus-en",
    "corpus-zh": PUBLIC / "corpus-zh",
    "corpus-cmrc": PUBLIC / "corpus-cmrc",
    "data/articles": ROOT / "data" / "articles",
}
RESULTS = ROOT / "evals" / "results"
KINDS = ("gloss", "gloss debris", "boilerplate", "markup", "normalisation", "whitespace", "other")

# The gloss rule before issue 21, kept here only to measure what it removed.
_OLD_LETTERS = "a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜńňǹḿ"
_OLD_SYLLABLE = rf"(?=[{_OLD_LETTERS}]*[aeiouüāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ])[{_OLD_LETTERS}]{{1,6}}"
_OLD_GLOSS = re.compile(rf"(?<=[{CJK_RANGES}])[(（]{_OLD_SYLLABLE}[)）]")
_OLD_BROKEN = re.compile(rf"\?{_OLD_SYLLABLE}\)\|?")


def old_remove_pinyin_glosses(text: str) -> str:
    while True:
        cleaned = _OLD_BROKEN.sub("", _OLD_GLOSS.sub("", text))
        if cleaned == text:
            return cleaned
        text = cleaned


_PAREN = re.compile(rf"[(（]([{glosses._PINYIN_LETTERS}1-5]+)[)）]")
_DEBRIS = re.compile(rf"\?[{glosses._PINYIN_LETTERS}1-5]+\)\|?")
_MARKUP = re.compile(r"^\s{0,3}#{1,6}\s*$|^\]\([^)]*\)$|^!?\[$|^(\*\*|__)$|^[\u200b\u200c\u200d\u2060\ufeff]+$")
_CJK_TAIL = re.compile(rf"[{CJK_RANGES}]{{1,8}}$")


def _is_boilerplate(piece: str) -> bool:
    """Whole boilerplate lines ("Leave a Reply", link lines) and "Disclaimer: ..." tails (to the end of a line)."""
    lines = [line.strip() for line in piece.split("\n") if line.strip()]
    return bool(lines) and all(loading._BOILERPLATE_LINE.match(line) or loading._LINK_LINE.match(line)
                               or loading._BOILERPLATE_TAIL.fullmatch(line) for line in lines)


def _classify_at(raw: str, i: int, j: int) -> list[tuple[str, str]] | None:
    """The kinds of raw[i:j] (a removed span), or None when some of it is not an allowed removal."""
    span = raw[i:j]
    if not span.strip():
        return [("whitespace", span)]
    if _MARKUP.match(span):
        return [("markup", span)]
    found: list[tuple[str, str]] = []
    rest = span
    for m in _PAREN.finditer(span):
        before = _CJK_TAIL.search(raw[max(0, i + m.start() - 8):i + m.start()])
        if before and loading._is_gloss(before.group(), m.group(1)):
            found.append(("gloss", (before.group()[-2:] + m.group())))
            rest = rest.replace(m.group(), " ", 1)
    for m in _DEBRIS.finditer(rest):
        found.append(("gloss debris", m.group()))
    rest = _DEBRIS.sub(" ", rest)
    if rest.strip():
        if not _is_boilerplate(rest):
            return None
        found.append(("boilerplate", rest.strip()))
    return found


def classify_removal(raw: str, i: int, j: int) -> list[tuple[str, str]]:
    """Like _classify_at, trying each position an equal diff could have put the same removal at
    ("會(huì)" can be diffed as removing "(huì" or "會(huì")."""
    a, b = i, j
    while a > 0 and raw[a - 1] == raw[b - 1]:
        a, b = a - 1, b - 1
    while True:
        kinds = _classify_at(raw, a, b)
        if kinds is not None:
            return kinds
        if b >= len(raw) or raw[a] != raw[b]:
            return [("other", raw[i:j])]
        a, b = a + 1, b + 1


def _char_removals(raw: str, cleaned: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, raw, cleaned, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        new = cleaned[j1:j2]
        if op == "equal":
            continue
        if op == "insert":
            out.append(("whitespace" if not new.strip() else "other", new))
        elif not new.strip():
            out.extend(classify_removal(raw, i1, i2))
        elif unicodedata.normalize("NFC", raw[i1:i2]) == new:
            out.append(("normalisation", raw[i1:i2]))
        else:
            out.append(("other", f"{raw[i1:i2]!r} -> {new!r}"))
    return out


_WS_RUN = re.compile(r"^[ \t\u3000\u00a0]+|[ \t\u3000\u00a0]+$|[ \t\u3000\u00a0]{2,}|[\t\u3000\u00a0]")


def _line_key(line: str) -> str:
    return re.sub(r"[ \t\u3000\u00a0]+", " ", line).strip()


def removals(raw: str, cleaned: str) -> list[tuple[str, str]]:
    """(kind, text) for everything cleaning removed or changed in raw to get cleaned: lines are paired first (on
    their text with whitespace collapsed), then the lines that differ beyond whitespace are diffed by character."""
    out: list[tuple[str, str]] = []
    if "\r" in raw:
        out.append(("normalisation", "CR line ends"))
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    a, b = raw.split("\n"), cleaned.split("\n")
    matcher = difflib.SequenceMatcher(None, [_line_key(x) for x in a], [_line_key(x) for x in b], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.extend(("whitespace", _WS_RUN.search(x).group()) for x, y in zip(a[i1:i2], b[j1:j2]) if x != y)
        else:
            out.extend(_char_removals("\n".join(a[i1:i2]), "\n".join(b[j1:j2])))
    return out


def audit(gloss_rule=None) -> dict:
    """{corpus: {"files", "changed", "counts": {kind: n}, "examples": {kind: [..]}}} for one gloss rule."""
    saved = loading.remove_pinyin_glosses
    if gloss_rule is not None:
        loading.remove_pinyin_glosses = gloss_rule
    try:
        report = {}
        for name, folder in CORPORA.items():
            counts: collections.Counter = collections.Counter()
            examples: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
            files = changed = 0
            texts: dict[str, str] = {}
            for path in sorted(folder.glob("*")):
                if path.suffix.lower() not in (".txt", ".md", ".markdown"):
                    continue
                files += 1
                raw = decode_bytes(path.read_bytes(), path.name)
                cleaned = clean_text(raw, markdown=path.suffix.lower() in (".md", ".markdown"))
                changed += cleaned != raw
                texts[path.name] = cleaned
                for kind, text in removals(raw, cleaned):
                    counts[kind] += 1
                    examples[kind][text if kind != "whitespace" else repr(text)] += 1
            report[name] = {"files": files, "changed": changed, "counts": {k: counts[k] for k in KINDS},
                            "examples": {k: [e for e, _ in v.most_common(8)] for k, v in examples.items()},
                            "texts": texts}
        return report
    finally:
        loading.remove_pinyin_glosses = saved


def old_rule_losses() -> dict[str, list[str]]:
    """Per corpus: the parentheticals the old rule removed and the current rule keeps (with 6 characters before)."""
    out = {}
    for name, folder in CORPORA.items():
        lost = []
        for path in sorted(folder.glob("*")):
            raw = unicodedata.normalize("NFC", decode_bytes(path.read_bytes(), path.name))
            for rx in (_OLD_GLOSS, _OLD_BROKEN):
                for m in rx.finditer(raw):
                    if loading.remove_pinyin_glosses(raw[max(0, m.start() - 8):m.end()]).endswith(m.group()):
                        lost.append(f"{path.name}: {raw[max(0, m.start() - 6):m.end()]}")
        out[name] = lost
    return out


def main() -> int:
    new, old, lost = audit(), audit(old_remove_pinyin_glosses), old_rule_losses()
    differ = {name: sorted(f for f, text in new[name].pop("texts").items() if old[name]["texts"][f] != text)
              for name in CORPORA}
    for name in CORPORA:
        old[name].pop("texts")
    lines = ["# What cleaning removes", "", "`python evals/cleaning_audit.py`: every span `clean_text` removes from each",
             "article file, by kind (see the script's docstring). *old*: the gloss rule before issue 21.",
             "*changed*: files whose text cleaning changed at all (a final newline counts); *whitespace*: lines or",
             "spans whose only change is whitespace; *other*: a removal that is none of the kinds.", "",
             "| corpus | files | changed | " + " | ".join(KINDS) + " |", "|---" * (3 + len(KINDS)) + "|"]
    for name in CORPORA:
        for label, rep in (("new", new), ("old", old)):
            r = rep[name]
            lines.append(f"| {name} ({label}) | {r['files']} | {r['changed']} | "
                         + " | ".join(str(r["counts"][k]) for k in KINDS) + " |")
    lines += ["", "Files whose cleaned text differs between the two rules: "
              + "; ".join(f"{n}: {len(f)}" + (f" ({', '.join(f)})" if f else "") for n, f in differ.items()) + "."]
    lines += ["", "## Removed by the old rule, kept now (not pinyin readings)", ""]
    for name, items in lost.items():
        lines.append(f"- {name}: {len(items)}" + "".join(f"\n  - `{x}`" for x in items))
    lines += ["", "## Examples (current rule)", ""]
    for name in CORPORA:
        lines.append(f"### {name}")
        for kind, ex in new[name]["examples"].items():
            shown = ", ".join(f"`{e[:60]}`".replace("\n", "\\n") for e in ex)
            lines.append(f"- {kind}: {shown}")
        lines.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cleaning.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "cleaning.json").write_text(json.dumps({"new": new, "old": old, "old_rule_losses": lost,
                                                       "differ": differ},
                                                      ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n".join(lines))
    others = sum(rep[n]["counts"]["other"] for rep in (new,) for n in CORPORA)
    return 1 if others else 0


if __name__ == "__main__":
    sys.exit(main())
