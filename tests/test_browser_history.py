"""Saved conversations in a real browser (Debian's chromium through Playwright, against the real app): they come
back after a reload with working [n] markers, the side list opens, renames and deletes them, and a citation of
an article changed since the answer says so instead of highlighting the wrong text."""

from __future__ import annotations

import pytest

from browser_support import ARTIFACTS, AppServer, copy_articles
from conftest import ARTICLES
from test_browser_options import shoot

pytest.importorskip("playwright.sync_api")  # browser tests need Playwright

LUOHU = "Who presented flags in Luohu?"
LIU_QIANG = "When did Liu Qiang visit Shizhong District?"
GIRAFFE = "Temporary zoo note\n\nThe zoo's purple giraffe is named Otto and arrived on Tuesday.\n"
GIRAFFE_Q = "What is the name of the purple giraffe?"
HARBOUR = ("Harbour note\n\nThe harbour council approved the new lighthouse budget on Monday.\n"
           "The lighthouse keeper is Marta Quill.\n")
HARBOUR_Q = "Who is the lighthouse keeper?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    data = copy_articles(ARTICLES, root / "articles")
    (data / "zoo_note.txt").write_text(GIRAFFE, encoding="utf-8")
    (data / "harbour_note.txt").write_text(HARBOUR, encoding="utf-8")
    srv = AppServer(data, root / "index")
    yield srv
    srv.stop()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})  # a new browser: a new owner
    pg = ctx.new_page()
    pg.goto(server.url)
    wait_ready(pg)
    yield pg
    ctx.close()


def wait_ready(page) -> None:
    page.wait_for_selector("#question textarea")
    # the load event fills the list (and drops "loading" from its label) and restores the last conversation
    page.wait_for_function("() => { const l = document.querySelector('#history-list');"
                           " return l && l.innerText.includes('Conversations') && !l.innerText.includes('loading'); }",
                           timeout=30000)


def ask(page, question: str) -> None:
    turns = page.locator("#sources-panel section.turn").count()
    page.fill("#question textarea", question)
    page.click("#send")
    page.wait_for_function("n => document.querySelectorAll('#sources-panel section.turn').length > n",
                           arg=turns, timeout=30000)


def listed(page) -> list[str]:
    return [x.strip() for x in page.locator("#history-list label").all_inner_texts()]


def wait_listed(page, count: int) -> list[str]:
    page.wait_for_function("n => document.querySelectorAll('#history-list label').length === n", arg=count,
                           timeout=10000)
    return listed(page)


def reload(page) -> None:
    page.reload()
    wait_ready(page)
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length > 0", timeout=10000)


def choose(page, title_part: str) -> None:
    page.locator("#history-list label", has_text=title_part).first.click()


def test_two_questions_come_back_after_reload_with_working_citations(page):
    ask(page, LUOHU)
    ask(page, LIU_QIANG)
    assert len(wait_listed(page, 1)) == 1 and LUOHU in listed(page)[0]  # one conversation, titled by its first question
    reload(page)
    bots = page.locator("#chat .bot")
    assert bots.count() == 2
    assert "Liu Sheng" in bots.nth(0).inner_text() and "March 10" in bots.nth(1).inner_text()
    assert page.locator("#sources-panel section.turn").count() == 2
    page.locator("#chat a.cite").first.click()  # the first answer's [1]
    visible = page.locator("#sources-panel section.turn:visible")
    assert "Liu Sheng and Vanderfan presented flags" in visible.locator("mark.hl").first.inner_text()
    page.locator("#chat a.cite").last.click()
    assert "March 10" in page.locator("#sources-panel section.turn:visible").inner_text()
    page.screenshot(path=str(ARTIFACTS / "history_reload.png"))


def test_new_open_rename_delete(page):
    ask(page, LUOHU)
    page.click("#history-new")
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=5000)
    ask(page, LIU_QIANG)
    titles = wait_listed(page, 2)
    assert LIU_QIANG in titles[0] and LUOHU in titles[1]  # newest first
    choose(page, LUOHU)
    page.click("#history-open")
    page.wait_for_function("() => { const b = document.querySelectorAll('#chat .bot');"
                           " return b.length === 1 && b[0].innerText.includes('Liu Sheng'); }", timeout=5000)
    choose(page, LUOHU)
    page.fill("#history-name textarea, #history-name input", "Flags in Luohu")
    page.click("#history-rename")
    page.wait_for_function("() => document.querySelector('#history-list').innerText.includes('Flags in Luohu')",
                           timeout=5000)
    reload(page)  # the renamed, last opened conversation is the one that comes back
    assert "Liu Sheng" in page.locator("#chat .bot").first.inner_text()
    assert "Flags in Luohu" in wait_listed(page, 2)[1]
    page.locator("#chat a.cite").first.click()
    page.wait_for_selector("#sources-panel section.turn:visible mark.hl")
    shoot(page, "history.png")  # the list of conversations beside the reopened one
    choose(page, LIU_QIANG)
    page.click("#history-delete")
    titles = wait_listed(page, 1)
    assert "Flags in Luohu" in titles[0] and not any(LIU_QIANG in t for t in titles)
    assert "Liu Sheng" in page.locator("#chat .bot").first.inner_text()  # deleting another one keeps this open
    choose(page, "Flags in Luohu")
    page.click("#history-delete")
    wait_listed(page, 0)
    page.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 0", timeout=5000)
    page.reload()
    wait_ready(page)
    assert listed(page) == [] and page.locator("#chat .bot").count() == 0


def test_other_browsers_do_not_see_the_list(browser, server, page):
    ask(page, LUOHU)
    assert len(wait_listed(page, 1)) == 1
    ctx = browser.new_context()
    other = ctx.new_page()
    other.goto(server.url)
    wait_ready(other)
    assert listed(other) == [] and other.locator("#chat .bot").count() == 0
    ctx.close()


def test_a_hostile_title_is_shown_as_text(page):
    ask(page, '<img src=x onerror="window.__pwned=4"> who?')
    assert "<img src=x" in wait_listed(page, 1)[0]  # shown literally
    reload(page)
    assert "<img src=x" in wait_listed(page, 1)[0]
    assert page.locator("#history-list img, #chat img[src='x']").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def upload(page, path) -> None:
    """Re-ingest a file through the running app's engine (the Library tab's upload)."""
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#upload input[type=file]", str(path))
    page.wait_for_timeout(500)
    page.click("#upload-button")
    page.wait_for_function("n => new RegExp('(Added|Error): .*' + n).test("
                           "document.querySelector('#library-status').innerText)", arg=path.name, timeout=60000)
    assert "Error" not in page.inner_text("#library-status")


def test_changed_article_says_so_after_reload(page, tmp_path):
    ask(page, GIRAFFE_Q)
    assert "Otto" in page.locator("#chat .bot").last.inner_text()
    assert page.locator("#sources-panel section.turn:visible mark.hl").first.inner_text().startswith("The zoo")
    wait_listed(page, 1)
    # rewrite the article (the quoted sentence moves and changes) and re-ingest it
    changed = tmp_path / "zoo_note.txt"
    changed.write_text("Temporary zoo note, updated\n\nA long new opening paragraph now comes first and pushes "
                       "every sentence further down.\n\nThe zoo's purple giraffe is now named Oskar.\n",
                       encoding="utf-8")
    upload(page, changed)
    reload(page)
    src = page.locator("#sources-panel section.turn:visible .src").first
    assert "changed since this answer" in src.locator(".src-stale").inner_text()
    assert "named Otto" in src.locator(".src-quote").inner_text()  # the stored quote, not today's text
    assert src.locator("mark.hl").count() == 0 and src.locator("button.open-article").count() == 0
    page.screenshot(path=str(ARTIFACTS / "history_changed.png"))


def test_deleted_article_says_so_after_reload(page):
    ask(page, HARBOUR_Q)
    assert "Marta Quill" in page.locator("#chat .bot").last.inner_text()
    wait_listed(page, 1)
    page.get_by_role("tab", name="Library").click()
    page.wait_for_selector("#library-table")
    page.locator("#delete-choice input").fill("harbour_note.txt")
    page.get_by_role("option", name="harbour_note.txt").click()
    page.click("#delete-button")
    page.wait_for_function("() => document.querySelector('#library-status').innerText.includes('Deleted')",
                           timeout=60000)
    reload(page)
    src = page.locator("#sources-panel section.turn:visible .src").first
    assert "deleted since this answer" in src.locator(".src-stale").inner_text()
    assert "Marta Quill" in src.locator(".src-quote").inner_text()
    assert src.locator("mark.hl").count() == 0


def login(browser, url: str):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.goto(url)
    pg.locator("input[type=text]").first.fill("reader")
    pg.locator("input[type=password]").first.fill("s3cret")
    pg.locator("input[type=password]").first.press("Enter")
    wait_ready(pg)
    return ctx, pg


def test_with_a_login_history_follows_the_user_across_browsers(browser, tmp_path):
    srv = AppServer(copy_articles(ARTICLES, tmp_path / "articles"), tmp_path / "index",
                    extra_env={"CITECHAT_AUTH": "reader:s3cret"})
    try:
        ctx_a, a = login(browser, srv.url)
        ask(a, LUOHU)
        assert len(wait_listed(a, 1)) == 1
        ctx_b, b = login(browser, srv.url)  # another browser, same user: same list, same open conversation
        b.wait_for_function("() => document.querySelectorAll('#chat .bot').length === 1", timeout=10000)
        assert LUOHU in wait_listed(b, 1)[0]
        assert "Liu Sheng" in b.locator("#chat .bot").first.inner_text()
        ctx_a.close()
        ctx_b.close()
    finally:
        srv.stop()


def test_a_question_asked_at_once_on_a_new_app_is_kept(browser, tmp_path):
    """A new app process, a new browser, and the question sent as soon as the box is there, without waiting for
    the page-load step that sets the conversation's owner: after a reload the conversation is back and listed."""
    srv = AppServer(copy_articles(ARTICLES, tmp_path / "articles"), tmp_path / "index")
    try:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        pg.goto(srv.url)
        pg.wait_for_selector("#question textarea")
        ask(pg, LUOHU)
        reload(pg)
        assert "Liu Sheng" in pg.locator("#chat .bot").first.inner_text()
        assert LUOHU in wait_listed(pg, 1)[0]
        ctx.close()
    finally:
        srv.stop()
