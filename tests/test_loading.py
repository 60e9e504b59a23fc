from pathlib import Path

import pytest

from citechat.loading import (
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
