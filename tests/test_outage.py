"""Index server outages (issue 14): a real `chroma run` is killed and restarted on the same port and data path.
Every surface says so in plain words (no traceback, no hang) and answers again once the server is back."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from citechat.config import Settings
from citechat.engine import Engine
from citechat.errors import StoreUnavailable

from browser_support import CHROMIUM, CHROMIUM_ARGS, AppServer, copy_articles, start_chroma_server, stop_process, store_env
from conftest import ARTICLES

CHROMA = Path(sys.executable).parent / "chroma"
LUOHU = "Who presented flags in Luohu?"


class ChromaProcess:
    """A `chroma run` that can be stopped and started again on the same port and data path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc, self.url = start_chroma_server(path)
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        stop_process(self.proc)

    def start(self) -> None:
        self.proc = subprocess.Popen([str(CHROMA), "run", "--path", str(self.path), "--port", str(self.port),
                                      "--host", "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(120):
            try:
                urllib.request.urlopen(self.url + "/api/v2/heartbeat", timeout=1)
                return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError("chroma server did not restart")


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed")
    server = ChromaProcess(tmp_path_factory.mktemp("chroma-outage"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def app(chroma, tmp_path_factory):
    root = tmp_path_factory.mktemp("outage-app")
    # (the collection: the default, or the one browser_support gives the index folder under CITECHAT_TEST_STORE)
    srv = AppServer(copy_articles(ARTICLES, root / "articles"), root / "index", {"CITECHAT_CHROMA_URL": chroma.url})
    srv.collection = store_env(srv.index_dir).get("CITECHAT_COLLECTION", "citechat")
    yield srv
    srv.stop()


@pytest.fixture
def outage(chroma):
    """Stop the server for the test body's first part; the test calls the returned function to restart it."""
    chroma.stop()
    yield chroma.start
    if chroma.proc.poll() is not None:
        chroma.start()


def _engine_on(chroma, collection: str, embedder, encoder, tmp_path) -> Engine:
    """An engine with the shipped articles in `collection` of the test's Chroma server."""
    settings = Settings(chroma_url=chroma.url, collection=collection, data_dir=ARTICLES, index_dir=tmp_path / "unused")
    engine = Engine(settings, embedder=embedder, encoder=encoder)
    engine.ingest(progress=False)
    return engine


def test_engine_raises_store_unavailable_then_recovers(chroma, embedder, encoder, tmp_path, monkeypatch):
    import httpx

    from citechat.store import guard

    engine = _engine_on(chroma, "outage_engine", embedder, encoder, tmp_path)
    assert engine.ask(LUOHU).answerable
    waits: list[float] = []  # the guard's pauses between tries, recorded instead of slept
    monkeypatch.setattr(guard, "time", type("Clock", (), {"sleep": staticmethod(waits.append)}))
    chroma.stop()
    with pytest.raises(StoreUnavailable, match="index server at " + chroma.url.replace(".", r"\.")) as raised:
        engine.ask(LUOHU)
    # Failed fast: one store call, refused, tried three times with the two short pauses, then the error - no
    # further calls or retries in the ask (no wall-clock assert: the pauses themselves are what it would take).
    assert isinstance(raised.value.__cause__, httpx.ConnectError), repr(raised.value.__cause__)
    assert len(waits) == 2 and sum(waits) <= 1.0, waits
    chroma.start()
    ans = engine.ask(LUOHU)
    assert ans.answerable and ans.citations[0].source == "001_a87b5d3a02c24cc1.txt"


def test_chat_api_returns_the_error_object_then_answers_again(app, chroma):
    from gradio_client import Client

    client = Client(app.url, verbose=False)
    assert client.predict(LUOHU, api_name="/chat")["answerable"]
    chroma.stop()
    try:
        out = client.predict(LUOHU, api_name="/chat")
        assert isinstance(out, dict) and "index server" in out["error"] and chroma.url in out["error"]
        assert out["answer"] == "" and out["citations"] == [] and not out["answerable"]
    finally:
        chroma.start()
    out = client.predict(LUOHU, api_name="/chat")
    assert out["answerable"] and "error" not in out


def test_cli_and_doctor_name_the_outage(app, chroma, outage):
    env = dict(os.environ, CITECHAT_CHROMA_URL=chroma.url, CITECHAT_COLLECTION=app.collection,
               CITECHAT_DATA_DIR=str(app.data_dir))
    p = subprocess.run([sys.executable, "-m", "citechat", "ask", LUOHU], capture_output=True, text=True, env=env,
                       timeout=120)
    lines = p.stderr.strip().splitlines()
    assert p.returncode == 2 and len(lines) == 1 and chroma.url in lines[0], p.stderr
    p = subprocess.run([sys.executable, "-m", "citechat", "doctor"], capture_output=True, text=True, env=env,
                       timeout=300)
    index_line = next(line for line in p.stdout.splitlines() if " index " in line)
    assert index_line.startswith("FAIL") and chroma.url in index_line and "not answering" in index_line, p.stdout


def test_browser_chat_shows_the_outage_and_keeps_the_question(app, chroma):
    pw = pytest.importorskip("playwright.sync_api")
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app.url)
            page.wait_for_selector("#question textarea")
            chroma.stop()
            try:
                page.fill("#question textarea", LUOHU)
                page.click("#send")
                page.wait_for_function("() => { const b = document.querySelectorAll('#chat .bot');"
                                       " return b.length && b[b.length-1].innerText.includes('Index unavailable'); }",
                                       timeout=15000)
                msg = page.locator("#chat .bot").last.inner_text()
                assert chroma.url in msg and "still in the box" in msg
                assert page.input_value("#question textarea") == LUOHU
                assert page.locator(".toast-body").count() == 0  # no error toast / badge
            finally:
                chroma.start()
            page.click("#send")  # the kept question goes through once the server is back
            page.wait_for_selector("#sources-panel section.turn .src", timeout=20000)
            assert "Liu Sheng" in page.locator("#chat .bot").last.inner_text()
        finally:
            browser.close()


def test_browser_library_shows_the_outage_then_the_articles(app, chroma, outage, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(app.url)
        page.wait_for_selector("#question textarea")
        chroma.stop()  # (the `outage` fixture stopped it already; a no-op then)
        page.get_by_role("tab", name="Library").click()
        page.wait_for_function("() => document.querySelector('#library-status').innerText.includes('Index unavailable')",
                               timeout=15000)
        assert chroma.url in page.inner_text("#library-status")
        assert page.locator(".toast-body").count() == 0  # no error toast
        assert page.get_by_text("Error", exact=True).count() == 0  # no red "Error" badge on the table
        outage()  # the server is back: opening the tab again lists the articles
        page.get_by_role("tab", name="Chat").click()
        page.get_by_role("tab", name="Library").click()
        page.wait_for_function("() => document.querySelector('#library-table').innerText"
                               ".includes('001_a87b5d3a02c24cc1.txt')", timeout=15000)
        assert "unavailable" not in page.inner_text("#library-status")
        assert page.locator(".toast-body").count() == 0
    finally:
        page.close()


def test_library_and_sources_panel_say_the_outage_in_plain_words(chroma, embedder, encoder, tmp_path):
    from citechat.chat import Conversation, ask_stream, Turn
    from citechat.ui.app import AppState
    from citechat.ui.render import esc

    engine = _engine_on(chroma, "outage_panel", embedder, encoder, tmp_path)
    state, conv = AppState(engine), Conversation()
    turn = [t for t in ask_stream(engine, conv, LUOHU) if isinstance(t, Turn)][0]
    assert "open-article" in state.panel(conv, turn.id)  # checked against its article: it can be opened
    chroma.stop()
    try:
        panel = state.panel(conv, turn.id)
        assert chroma.url in panel and "not answering" in panel and "open-article" not in panel
        assert esc(turn.answer.citations[0].text) in panel  # the quoted sentence is still shown
        rows, _, status = state.library_view()
        assert "Index unavailable" in status and chroma.url in status
    finally:
        chroma.start()
    rows, _, status = state.library_view()
    assert status == "" and "001_a87b5d3a02c24cc1.txt" in [r[0] for r in rows]


# --- the guard itself (no server): retries, fail-fast and the dense query path ----------------------------------


class FlakyCollection:
    """A collection whose calls fail with the given errors first, then answer."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls, self.metadata = list(errors), 0, {"citechat_schema": 1}

    def count(self) -> int:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return 7

    def query(self, **kw):
        return self.count()


def test_guard_retries_a_refused_connection_then_fails_fast(monkeypatch):
    import httpx

    from citechat.store import guard

    monkeypatch.setattr(guard, "RETRY_DELAYS", (0.01, 0.02))
    col = FlakyCollection(httpx.ConnectError("refused"), httpx.ConnectError("refused"))
    guarded = guard.GuardedCollection(col, "http://127.0.0.1:1", True)
    assert guarded.count() == 7 and col.calls == 3  # recovered on the third try
    assert guarded.metadata == {"citechat_schema": 1}  # attributes pass through
    col = FlakyCollection(*[httpx.ConnectError("refused")] * 5)
    guarded = guard.GuardedCollection(col, "http://127.0.0.1:1", True)
    with pytest.raises(StoreUnavailable, match=r"index server at http://127\.0\.0\.1:1 is not answering"):
        guarded.query(query_embeddings=[[0.0]])  # the dense path (SentenceVectorStore._query) goes through it
    assert col.calls == 3
    col = FlakyCollection(httpx.ReadTimeout("slow"))
    with pytest.raises(StoreUnavailable):
        guard.GuardedCollection(col, "http://127.0.0.1:1", True).count()
    assert col.calls == 1  # a timeout may have run on the server: no retry


def test_guard_names_the_folder_of_a_local_store():
    from citechat.store import guard

    col = FlakyCollection(TimeoutError("disk"))
    with pytest.raises(StoreUnavailable, match="index folder /srv/idx"):
        guard.GuardedCollection(col, "/srv/idx", False).count()


def test_store_collections_and_dense_store_are_guarded(tmp_path, embedder):
    from citechat.store import GuardedCollection, Store

    store = Store(Settings(index_dir=tmp_path / "i"), embedder.name)
    assert all(isinstance(c, GuardedCollection) for c in (store.sentences, store.articles, store.meta))
    assert isinstance(store._vectors._collection, GuardedCollection)
    assert store.count() == 0 and store.list_articles() == {}
