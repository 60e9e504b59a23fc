import collections
import difflib
import functools
import re
from pathlib import Path

import pypinyin
import pytest

from citechat.ingest import loading

from citechat.ingest.loading import (
    LoadError,
    clean_text,
    decode_bytes,
    extract_date,
    extract_outlet,
    extract_title,
    load_article,
    load_articles,
    remove_pinyin_glosses,
)

from conftest import ARTICLES


def test_pinyin_glosses_removed_but_normal_parentheses_kept():
    assert remove_pinyin_glosses("歷城區(qū)舉行表彰大會(huì)") == "歷城區舉行表彰大會"
    assert remove_pinyin_glosses("（ABC）公司(2021年) and (Note to add)") == "（ABC）公司(2021年) and (Note to add)"
    assert remove_pinyin_glosses("港口(ABC)與公司(A)") == "港口(ABC)與公司(A)"
    assert remove_pinyin_glosses("Wechat id: Jiupai6688 (Note to add and withdraw)").endswith("(Note to add and withdraw)")
    # an English word in parentheses after Chinese is not a gloss when it is not a pinyin syllable shape
    assert remove_pinyin_glosses("港口(Tianjin Port)") == "港口(Tianjin Port)"


def test_boilerplate_removed():
    raw = ("Title line\n\nBody sentence one.Disclaimer: The copyright of this article belongs to the author.\n\n"
           "Leave a Reply\n\nYour email address will not be published.\n友情鏈接\n?\n")
    text = clean_text(raw)
    assert "Leave a Reply" not in text
    assert "email address will not be published" not in text
    assert "Disclaimer" not in text
    assert "友情" not in text
    assert text.startswith("Title line") and "Body sentence one." in text


def test_link_lists_removed_from_markdown():
    raw = "# Heading\n\nSome **bold** text with [a link](http://x.y).\n\n- [Other story](http://a.b)\n- https://c.d/e\n"
    text = clean_text(raw, markdown=True)
    assert text.splitlines()[0] == "Heading"
    assert "Some bold text with a link." in text
    assert "Other story" not in text and "https://" not in text


@pytest.mark.parametrize(
    "text,outlet",
    [
        ("Body.Source: Bincheng Times\n", "Bincheng Times"),
        ("Qilu Evening News · reporter X held a meeting.", "Qilu Evening News"),
        ("信息來源:濟南日報\n正文。", "濟南日報"),
        ("No outlet is named here.", None),
    ],
)
def test_outlet(text, outlet):
    assert extract_outlet(text) == outlet


def test_dates_and_titles():
    assert extract_date("2023年03月29日 星期三\n\n標題\n\n發布日期:2021-06-30\n") == "2021-06-30"
    assert extract_date("Published: March 3, 2024\nBody") == "2024-03-03"
    assert extract_date("No date here.") is None
    assert extract_title("2023年03月29日 星期三\n\n歷城:標題\n", "f") == "歷城:標題"
    assert extract_title("", "fallback") == "fallback"


def test_shipped_articles_are_clean_and_have_metadata():
    arts, warnings = load_articles([ARTICLES])
    assert warnings == []
    assert len(arts) == 5
    for a in arts:
        assert "Leave a Reply" not in a.text
        assert "(qū)" not in a.text and "(huì)" not in a.text
        assert a.title and len(a.title) < 200
    zh = next(a for a in arts if a.source.startswith("002"))
    assert zh.date == "2021-06-30"
    assert zh.outlet == "濟南日報"  # the source line reads "濟南日" (its 報 lost in a bad re-encoding)
    assert {a.source[:3]: a.date for a in arts}["001"] == "2022-02-07"  # body dateline (more in test_metadata.py)


def test_decode_errors_are_clear():
    with pytest.raises(LoadError, match="empty"):
        decode_bytes(b"  \n", "a.txt")
    with pytest.raises(LoadError, match="binary"):
        decode_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "b.txt")
    with pytest.raises(LoadError, match="not valid UTF-8"):
        decode_bytes("café crème brûlée à la française".encode("latin-1"), "c.txt")
    assert decode_bytes("历城区举行表彰大会。".encode("gbk"), "gbk.txt") == "历城区举行表彰大会。"
    assert decode_bytes("歷城區舉行表彰大會。".encode("big5"), "big5.txt") == "歷城區舉行表彰大會。"
    assert decode_bytes("歷城區(qū)。".encode("utf-16-le").join([b"\xff\xfe", b""]), "u16.txt") == "歷城區(qū)。"
    assert decode_bytes("héllo".encode("utf-16"), "d.txt") == "héllo"
    assert decode_bytes(b"\xef\xbb\xbfhello", "e.txt") == "hello"


def test_unsupported_and_unreadable_files_are_skipped_with_a_warning(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A good article.\n\nIt has two sentences.", encoding="utf-8")
    (tmp_path / "image.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "latin.txt").write_bytes("café crème".encode("latin-1"))
    (tmp_path / "slides.pdf").write_bytes(b"%PDF-1.4")
    arts, warnings = load_articles([tmp_path])
    assert [a.source for a in arts] == ["good.txt"]
    joined = "\n".join(warnings)
    for name in ("image.txt", "latin.txt", "slides.pdf"):
        assert name in joined


def test_html_main_text_extracted(tmp_path: Path):
    page = tmp_path / "story.html"
    body = " ".join(["The harbour authority opened a new ferry terminal on Monday."] * 3)
    page.write_text(
        "<html><head><title>Ferry terminal opens</title></head><body><nav><a href='/'>Home</a> | <a href='/x'>World</a></nav>"
        f"<article><h1>Ferry terminal opens</h1><p>{body}</p><p>Officials said 40 ferries a day will use it.</p></article>"
        "<footer>Copyright © 2024 Example News. All rights reserved.</footer></body></html>",
        encoding="utf-8",
    )
    a = load_article(page)
    assert "40 ferries a day" in a.text
    assert "Home" not in a.text.split("\n")[0]
    assert "All rights reserved" not in a.text
    assert a.title == "Ferry terminal opens"


@pytest.mark.parametrize(
    "text",
    [
        "火参果（kiwano）",  # issue 21: an English name, not a gloss
        "数字键盘（keypad）",  # CMRC: the English term
        "传述世系（sanad）与正文（matn）",  # CMRC: Arabic terms in Latin letters
        "型天篷(canopy)",  # CMRC
        "下载应用(app)",
        "回复(ok)",
        "公司(a)与港口(an)",  # real syllables, but not the reading of 司 / 口
        "葫芦科(cucumis)",
        "学名（metuliferus）",
    ],
)
def test_non_pinyin_parentheticals_after_chinese_are_kept(text):
    assert remove_pinyin_glosses(text) == text
    assert clean_text(text) == text


def test_real_glosses_go():
    assert remove_pinyin_glosses("區(qū)") == "區"
    assert remove_pinyin_glosses("荨(qián)麻是荨麻属") == "荨麻是荨麻属"  # CMRC: a heteronym (荨 xún / qián)
    assert remove_pinyin_glosses("發(fā)展與說(shuō)明") == "發展與說明"
    assert remove_pinyin_glosses("省會（huì）") == "省會"  # full-width parentheses
    assert remove_pinyin_glosses("區(qu1)會(hui4)") == "區會"  # tone digits
    assert remove_pinyin_glosses("區(qu)") == "區"  # toneless
    assert remove_pinyin_glosses("北京(běijīng)") == "北京"  # one gloss for several characters
    assert remove_pinyin_glosses("濟南日?qǐng)?bào)") == "濟南日"  # debris of glosses whose characters were lost
    assert remove_pinyin_glosses("what?ok)") == "what?ok)"  # not a syllable: not debris


# --- what cleaning removes from the shipped articles (issue 21): a diff of raw against cleaned text -----------------

_SPACE = " \t\u3000\u00a0\r\n"
_SYL = "[a-zà-ɑǎǐǒǔǖǘǚǜńňǹḿ]+"
_GLOSS_OR_DEBRIS = re.compile(rf"[(（]({_SYL})[)）]|\?({_SYL})\)\|?")  # 區(qū); ?qǐng) where a bad re-encoding lost 報
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]+")
_TAIL_LABEL = re.compile(r"(?:Disclaimer|Statement|免責聲明|免责声明|Email address|E-mail|Wechat id)\s*[:：]", re.I)


@functools.lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    from pypinyin.pinyin_dict import pinyin_dict

    return frozenset(s for v in pinyin_dict.values() for s in v.split(","))


def _reads_as(char: str, gloss: str) -> bool:
    """gloss is a pypinyin reading of char (any heteronym; tone marks compared too)."""
    return gloss in pypinyin.pinyin(char, heteronym=True, style=pypinyin.Style.TONE)[0]


def _kind(block: str, i: int, j: int) -> str | None:
    """What removing block[i:j] is: a gloss (or gloss debris), script (invisible characters) or boilerplate."""
    span = block[i:j]
    if not span.strip(_SPACE):
        return "whitespace"
    if _INVISIBLE.fullmatch(span):
        return "script"
    tokens = list(_GLOSS_OR_DEBRIS.finditer(span))
    if i > 0 and tokens and "".join(m.group() for m in tokens) == span:
        if all(_reads_as(block[i - 1], m.group(1)) if m.group(1) else m.group(2) in _pinyin_syllables()
               for m in tokens):
            return "gloss"
    first = i + len(span) - len(span.lstrip(_SPACE))  # where the removed text starts
    start, end = block.rfind("\n", 0, first) + 1, (block.find("\n", j) + 1 or len(block) + 1) - 1
    if block[j:end].strip(_SPACE):  # boilerplate runs to the end of its line
        return None
    # a removed line may hold glosses too ("編(biān)輯(jí):...")
    lines = [_GLOSS_OR_DEBRIS.sub("", line).strip(_SPACE) for line in span.split("\n") if line.strip(_SPACE)]
    if block[start:first].strip(_SPACE):  # it starts inside a line: a "Disclaimer: ..." tail, then maybe whole lines
        if not _TAIL_LABEL.match(lines.pop(0)):
            return None
    if all(loading._BOILERPLATE_LINE.match(line) or loading._LINK_LINE.match(line) for line in lines):
        return "boilerplate"
    return None


def _classify(block: str, i: int, j: int) -> str | None:
    """_kind, at whichever of the equivalent places difflib could have put the same removal ("會(huì)" -> "會")."""
    while i > 0 and block[i - 1] == block[j - 1]:
        i, j = i - 1, j - 1
    while (kind := _kind(block, i, j)) is None and j < len(block) and block[i] == block[j]:
        i, j = i + 1, j + 1
    return kind


def _removals(raw: str, cleaned: str) -> list[tuple[str | None, str]]:
    """(kind, removed text) for each span cleaning removed; kind None: not an allowed removal. Lines are paired on
    their whitespace-collapsed text, and the lines that differ beyond whitespace are diffed by character."""
    a, b = raw.replace("\r\n", "\n").split("\n"), cleaned.split("\n")
    out = []
    lines = difflib.SequenceMatcher(None, [" ".join(x.split()) for x in a], [" ".join(x.split()) for x in b],
                                    autojunk=False)
    for op, i1, i2, j1, j2 in lines.get_opcodes():
        if op == "equal":
            continue
        block, new = "\n".join(a[i1:i2]), "\n".join(b[j1:j2])
        for op2, k1, k2, l1, l2 in difflib.SequenceMatcher(None, block, new, autojunk=False).get_opcodes():
            if op2 == "equal":
                continue
            if new[l1:l2].strip(_SPACE):  # cleaning never adds or rewrites text
                out.append((None, f"{block[k1:k2]!r} -> {new[l1:l2]!r}"))
            elif k2 > k1:
                out.append((_classify(block, k1, k2), block[k1:k2]))
    return [(kind, text) for kind, text in out if kind != "whitespace"]


def test_the_removal_classifier_flags_content():
    assert _removals("火参果（kiwano）是一种水果", "火参果是一种水果") == [(None, "（kiwano）")]  # the old rule's loss
    assert _removals("公司(a)在", "公司在") == [(None, "(a)")]
    assert _removals("區(qū)舉行", "區舉行") == [("gloss", "(qū)")]
    assert _removals("Body.\nLeave a Reply\nEnd.", "Body.\nEnd.")[0][0] == "boilerplate"
    assert _removals("Body.\nA real sentence.\nEnd.", "Body.\nEnd.")[0][0] is None


PUBLIC_CORPORA = ARTICLES.parents[2] / "shared" / "eval" / "public"  # ../shared/eval/public, where it is checked out


def _check_removals(folder: Path) -> collections.Counter:
    kinds: collections.Counter = collections.Counter()
    for path in sorted(folder.glob("*.txt")):
        raw = decode_bytes(path.read_bytes(), path.name)
        removed = _removals(raw, clean_text(raw))
        assert [text for kind, text in removed if kind is None] == [], path.name
        kinds.update(kind for kind, _ in removed)
    return kinds


def test_cleaning_the_shipped_articles_removes_only_glosses_script_and_boilerplate():
    kinds = _check_removals(ARTICLES)
    assert kinds["gloss"] >= 200 and kinds["boilerplate"] >= 3, kinds


@pytest.mark.parametrize("corpus", ["corpus-en", "corpus-zh", "corpus-cmrc"])
def test_cleaning_the_public_corpora_removes_only_glosses_script_and_boilerplate(corpus):
    """The public QA corpora (evals/cleaning_audit.py counts the same): the old gloss rule took "（keypad）",
    "（sanad）", "（matn）" and "(canopy)" out of CMRC passages, and a gold evidence string with them."""
    if not (PUBLIC_CORPORA / corpus).is_dir():
        pytest.skip(f"{PUBLIC_CORPORA / corpus} is not here")
    _check_removals(PUBLIC_CORPORA / corpus)
