"""Export buttons, the "Narrow to" filter controls and the phone-width layout, in a real browser (Debian's
chromium driven by Playwright against the real app, as in test_browser.py).

With CITECHAT_SCREENSHOTS=1 the tests also write the README's screenshots to docs/screenshots/ (chat.png,
export.png, phone.png); otherwise screenshots go to tests/artifacts/ only.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from browser_support import (
    ARTIFACTS,
    ROOT,
    AppServer,
    copy_articles,
)
from conftest import ARTICLES
from test_browser import ask, last_bot

pytest.importorskip("playwright.sync_api")  # browser tests need Playwright

DOCS_SHOTS = ROOT / "docs" / "screenshots"
LUOHU = "Who presented flags in Luohu?"
LICHENG = "歷城區的地區生產總值突破了多少?"


def shoot(page, name: str, **kw) -> None:
    """A screenshot in tests/artifacts/, and in docs/screenshots/ when CITECHAT_SCREENSHOTS=1."""
    page.screenshot(path=str(ARTIFACTS / name), **kw)
    if os.environ.get("CITECHAT_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SHOTS / name), **kw)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-options")
    srv = AppServer(copy_articles(ARTICLES, root / "articles"), root / "index")
    yield srv
    srv.stop()


def open_page(browser, server, **ctx_kw):
    ctx = browser.new_context(accept_downloads=True, **ctx_kw)
    pg = ctx.new_page()
    pg.goto(server.url)
    pg.wait_for_selector("#question textarea")
    return ctx, pg


@pytest.fixture
def page(browser, server):
    ctx, pg = open_page(browser, server, viewport={"width": 1400, "height": 1000})
    yield pg
    ctx.close()


def download(page, selector: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.click(selector)
    d = info.value
    with open(d.path(), encoding="utf-8") as fh:
        return d.suggested_filename, fh.read()


def wait_exports_ready(page) -> None:
    page.wait_for_function("() => !document.querySelector('#export-md').disabled"
                           " && !document.querySelector('#export-json').disabled", timeout=10000)


def test_export_buttons_give_markdown_and_json_with_quotes_and_offsets(page):
    assert page.locator("#export-md").is_disabled()  # nothing to export yet
    ask(page, LUOHU)
    ask(page, LICHENG)
    quoted = page.locator("#sources-panel section.turn mark.hl").all_text_contents()
    assert len(quoted) >= 2 and any("千億" in q for q in quoted)
    page.wait_for_timeout(300)
    wait_exports_ready(page)
    md_name, md = download(page, "#export-md")
    js_name, js = download(page, "#export-json")
    assert md_name.endswith(".md") and js_name.endswith(".json")
    data = json.loads(js)
    assert [t["question"] for t in data["turns"]] == [LUOHU, LICHENG]
    citations = [c for t in data["turns"] for c in t["answer"]["citations"]]
    assert {c["text"] for c in citations} >= {q.strip() for q in quoted}  # every sentence shown is exported
    for c in citations:
        assert c["end"] - c["start"] == len(c["text"])
        assert f"> {c['text']}" in md
        assert f"`{c['source']}` · characters {c['start']}-{c['end']}" in md
    for t in data["turns"]:  # the numbers listed are the [n] markers of the answer
        assert re.findall(r"\[(\d+)\]", t["answer"]["answer"]) == [str(c["n"]) for c in t["answer"]["citations"]]
    assert "Liu Sheng and Vanderfan presented flags" in md and "千億" in md
    page.locator("#export").scroll_into_view_if_needed()
    shoot(page, "chat.png")
    render_export(page, md)


def render_export(page, md: str) -> None:
    """The downloaded Markdown as a reader's viewer would show it (for docs/screenshots/export.png)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).render(md)
    style = ("body{font-family:sans-serif;max-width:860px;margin:24px auto;line-height:1.45;color:#111}"
             "blockquote{background:#fef3c7;border-left:4px solid #f59e0b;margin:6px 0;padding:4px 12px}"
             "code{background:#f3f4f6;padding:0 3px}h2{border-bottom:1px solid #ddd}")
    ctx = page.context.browser.new_context(viewport={"width": 1000, "height": 900})
    viewer = ctx.new_page()
    viewer.set_content(f"<html><head><meta charset='utf-8'><style>{style}</style></head><body>{body}</body></html>")
    shoot(viewer, "export.png", full_page=True)
    ctx.close()


def test_filter_controls_list_the_articles_and_outlets(page, server):
    page.click("#options")
    page.locator("#narrow-articles").wait_for(state="visible")
    page.locator("#narrow-articles input").click()
    options = page.locator("[role=option]")
    options.first.wait_for()
    labels = options.all_inner_texts()
    for f in ARTICLES.iterdir():
        assert any(f.name in x for x in labels), (f.name, labels)
    assert any(x.startswith("Tiger power full open!") and "001_a87b5d3a02c24cc1.txt" in x for x in labels)
    page.keyboard.press("Escape")
    page.locator("#narrow-outlets input").click()
    outlets = page.locator("[role=option]").all_inner_texts()
    assert "Shenzhen Special Zone newspaper" in outlets and len(outlets) == len(set(outlets)) >= 2
    page.keyboard.press("Escape")
    # choosing an article passes a filter with the question; the answer still arrives
    page.locator("#narrow-articles input").fill("Tiger power")
    page.get_by_role("option", name=re.compile("001_a87b5d3a02c24cc1.txt")).click()
    page.keyboard.press("Escape")
    ask(page, LUOHU)
    assert "Liu Sheng" in last_bot(page)


def test_bad_date_is_a_clear_message_and_the_question_is_kept(page):
    page.click("#options")
    page.fill("#narrow-since textarea, #narrow-since input", "2022-02-30")
    page.fill("#question textarea", LUOHU)
    page.click("#send")
    page.wait_for_function("() => { const b = document.querySelectorAll('#chat .bot');"
                           " return b.length && b[b.length-1].innerText.includes('Narrow to'); }", timeout=15000)
    msg = last_bot(page)
    assert "2022-02-30" in msg and "YYYY-MM-DD" in msg and "still in the box" in msg
    assert page.input_value("#question textarea") == LUOHU
    assert page.locator(".toast-body").count() == 0  # no error toast / badge
    assert page.locator("#sources-panel section.turn").count() == 0
    page.screenshot(path=str(ARTIFACTS / "filter_bad_date.png"))
    page.fill("#narrow-since textarea, #narrow-since input", "2022-02-01")  # fixed: the kept question goes through
    page.click("#send")
    page.wait_for_selector("#sources-panel section.turn .src", timeout=20000)
    assert "Liu Sheng" in last_bot(page)


def test_phone_width_stacks_sources_under_chat_and_markers_are_tappable(browser, server):
    ctx, pg = open_page(browser, server, viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        ask(pg, LUOHU)
        chat, sources = pg.locator("#chat").bounding_box(), pg.locator("#sources").bounding_box()
        assert sources["y"] >= chat["y"] + chat["height"], (chat, sources)
        assert sources["x"] < chat["x"] + chat["width"]  # one column
        cite = pg.locator("#chat a.cite").first
        box = cite.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24, box
        cite.tap()
        src = pg.locator("#sources-panel section.turn:visible .src").first
        pg.wait_for_function("() => !!document.querySelector('#sources-panel .src.flash')", timeout=3000)
        assert "Liu Sheng and Vanderfan presented flags" in src.locator("mark.hl").inner_text()
        hl = src.locator("mark.hl").bounding_box()
        assert 0 <= hl["y"] <= 844, "the highlighted sentence was scrolled into view"
        shoot(pg, "phone.png", full_page=True)  # the chat, and the tapped source under it
    finally:
        ctx.close()


def _article_options(page) -> list[str]:
    page.locator("#narrow-articles input").click()
    page.locator("[role=option]").first.wait_for()
    labels = page.locator("[role=option]").all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def test_filter_choices_follow_the_library(page, server, tmp_path):
    from test_browser import _open_library, wait_status

    f = tmp_path / "otter_census.md"
    f.write_text("# Otter census on the Kell river\n\nVolunteers counted 41 otters on the Kell river in May.\n",
                 encoding="utf-8")
    _open_library(page)
    page.set_input_files("#upload input[type=file]", str(f))
    page.wait_for_timeout(500)
    page.click("#upload-button")
    wait_status(page, "otter_census.md")
    page.get_by_role("tab", name="Chat").click()
    page.click("#options")
    page.wait_for_timeout(500)
    assert any("Otter census on the Kell river (otter_census.md)" == x.strip() for x in _article_options(page))
    _open_library(page)
    page.locator("#delete-choice input").fill("otter_census.md")
    page.get_by_role("option", name="otter_census.md").click()
    page.click("#delete-button")
    wait_status(page, "Deleted")
    page.get_by_role("tab", name="Chat").click()
    page.wait_for_timeout(500)
    assert not any("otter_census.md" in x for x in _article_options(page))


def _pick(page, control: str, name: str) -> None:
    """Choose one option of a "Narrow to" multi-select."""
    page.locator(f"{control} input").click()
    page.get_by_role("option", name=re.compile(re.escape(name))).click()
    page.keyboard.press("Escape")


def _shown_sources(page) -> set[str]:
    """The files named by the last answer's citations and closest matches in the sources panel."""
    metas = page.locator("#sources-panel section.turn:visible .src .src-meta").all_inner_texts()
    return {m.split(" · ")[-2] for m in metas if " · " in m}


def test_filters_narrow_what_the_chat_answers_from(browser, server):
    luohu, qilu = "001_a87b5d3a02c24cc1.txt", "000_9b7823553ab23a10.txt"
    ctx, page = open_page(browser, server, viewport={"width": 1400, "height": 1000})
    try:
        page.click("#options")
        _pick(page, "#narrow-articles", luohu)
        ask(page, LUOHU)
        assert "Liu Sheng" in last_bot(page) and _shown_sources(page) == {luohu}
        ctx.close()
        # the same question with only one outlet's articles: nothing from the Luohu article, so no answer
        ctx, page = open_page(browser, server, viewport={"width": 1400, "height": 1000})
        page.click("#options")
        _pick(page, "#narrow-outlets", "Qilu Evening News")
        ask(page, LUOHU)
        assert "don't contain the answer" in last_bot(page)
        shown = _shown_sources(page)
        assert shown and shown <= {qilu}, shown
        page.screenshot(path=str(ARTIFACTS / "filter_outlet.png"))
    finally:
        ctx.close()


def test_library_shows_a_date_for_every_shipped_article_with_a_dateline(page):
    from citechat.ingest.loading import load_articles
    from citechat.ingest.metadata import dateline, display_date
    from test_browser import _open_library

    arts, _ = load_articles([ARTICLES])
    _open_library(page)
    page.wait_for_function("() => document.querySelector('#library-table').innerText.includes('004_')")
    cells = [c.strip() for c in page.inner_text("#library-table").splitlines() if c.strip()]
    row = {c: cells[i + 1: i + 6] for i, c in enumerate(cells) if c in {a.source for a in arts}}  # a row's cells
    with_dateline = [a for a in arts if dateline(a.text) or a.date]
    assert len(with_dateline) >= 4  # 001, 002, 003 and 004 carry one
    for a in with_dateline:
        assert display_date(a.date) in row[a.source], (a.source, row[a.source])
    assert "03-10 (year not given)" in row["003_f440de96462a1fc9.txt"]
    shoot(page, "library.png")


def test_a_stopped_server_leaves_no_conversation_on_disk(browser, tmp_path):
    # `kill` / `docker stop` send SIGTERM: the app closes as on Ctrl-C, and the exported conversations go with it
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    srv = AppServer(copy_articles(ARTICLES, tmp_path / "articles"), tmp_path / "index", extra_env={"TMPDIR": str(tmp)})
    try:
        ctx, pg = open_page(browser, srv)
        ask(pg, LUOHU)
        wait_exports_ready(pg)
        exports = list(tmp.glob("citechat-export-*/*/*/*.md"))
        assert len(exports) == 1 and "Liu Sheng" in exports[0].read_text(encoding="utf-8")
        ctx.close()
    finally:
        srv.proc.terminate()
        code = srv.proc.wait(timeout=30)
        srv.stop()
    assert code == 0, Path(srv.log.name).read_text()
    assert not list(tmp.glob("citechat-export-*"))
