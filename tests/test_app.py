"""The `/chat` API with gradio_client against a real app server, and the app's safety defaults."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from browser_support import AppServer, copy_articles
from conftest import ARTICLES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    srv = AppServer(copy_articles(ARTICLES, root / "articles"), root / "index")
    yield srv
    srv.stop()


def test_chat_api_returns_answer_and_structured_citations(server):
    from gradio_client import Client

    out = Client(server.url, verbose=False).predict("Who presented flags in Luohu?", api_name="/chat")
    assert "Liu Sheng" in out["answer"] and out["answerable"] is True
    c = out["citations"][0]
    assert c["source"] == "001_a87b5d3a02c24cc1.txt"
    assert {"n", "source", "title", "text", "start", "end", "score"} <= set(c)
    assert "presented flags" in c["text"]


def test_chat_api_abstains_and_reports_errors(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    out = client.predict("What is the capital of France?", api_name="/chat")
    assert out["answerable"] is False and out["citations"] == [] and out["closest"]
    out = client.predict("", api_name="/chat")
    assert "empty" in out["error"]


def test_chat_api_parallel_clients_get_their_own_answers(server):
    from gradio_client import Client

    questions = {"Who presented flags in Luohu?": "001_a87b5d3a02c24cc1.txt",
                 "When did Liu Qiang visit Shizhong District?": "003_f440de96462a1fc9.txt",
                 "Where is Dongliudao station?": "004_cdb4b5fdbd235da2.txt"} 

    def one(q: str) -> tuple[str, dict]:
        return q, Client(server.url, verbose=False).predict(q, api_name="/chat")

    with ThreadPoolExecutor(6) as pool:
        for q, out in pool.map(one, list(questions) * 2):
            assert out["citations"][0]["source"] == questions[q]


def test_password_when_configured(tmp_path):
    from gradio_client import Client

    srv = AppServer(copy_articles(ARTICLES, tmp_path / "articles"), tmp_path / "index",
                    extra_env={"CITECHAT_AUTH": "reader:s3cret"})
    try:
        with pytest.raises(Exception):
            Client(srv.url, verbose=False).predict("Who presented flags in Luohu?", api_name="/chat")
        out = Client(srv.url, auth=("reader", "s3cret"), verbose=False).predict("Who presented flags in Luohu?",
                                                                                api_name="/chat")
        assert out["answerable"]
    finally:
        srv.stop()


def test_binds_to_loopback_by_default():
    from citechat.config import Settings

    assert Settings().host == "127.0.0.1"


def test_chat_api_takes_optional_filters_and_reports_bad_ones(server):
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    out = client.predict("Who presented flags in Luohu?", ["001_a87b5d3a02c24cc1.txt"], [], "2022-01-01", "",
                         api_name="/chat")
    assert "error" not in out and out["answerable"] is True
    out = client.predict("Who presented flags in Luohu?", sources=None, outlets=None, since="2022-02-30",
                         until=None, api_name="/chat")
    assert out["answerable"] is False and out["citations"] == []
    assert "2022-02-30" in out["error"] and "YYYY-MM-DD" in out["error"]
    out = client.predict("Who presented flags in Luohu?", since="2022-03-01", until="2022-02-01", api_name="/chat")
    assert "after" in out["error"]
