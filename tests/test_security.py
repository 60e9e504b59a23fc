"""Hostile input, security defaults, logs and `citechat doctor` (the CLI runs in-process here)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import pytest

from citechat import cli
from citechat.config import Settings
from citechat.ingest.loading import load_article, LoadError

from conftest import ARTICLES, local_only


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(monkeypatch, capsys):
    """The CLI in-process (cli.main, as `python -m citechat` runs it), with env_extra set for the call; the root
    logger's handlers are put back afterwards, since every command sets up logging for its process."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def call(args: list[str], env_extra: dict) -> Ran:
        with monkeypatch.context() as m:
            for k, v in env_extra.items():
                m.setenv(k, v)
            code = cli.main(args)
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    yield call
    root.handlers[:] = handlers
    root.setLevel(level)


def test_uploads_are_off_without_a_password_on_any_address():
    # A loopback bind says nothing about who reaches the app: a TLS reverse proxy forwards every visitor to it.
    assert not Settings(host="127.0.0.1").uploads_enabled
    assert not Settings(host="0.0.0.0").uploads_enabled
    assert not Settings(host="127.0.0.1", auth="a:b", allow_uploads=False).uploads_enabled
    assert Settings(host="127.0.0.1", auth="a:b").uploads_enabled
    assert Settings(host="0.0.0.0", auth="a:b").uploads_enabled
    assert Settings(host="0.0.0.0", allow_uploads=True).uploads_enabled


def test_huge_file_rejected_without_reading_it(tmp_path):
    big = tmp_path / "huge.txt"
    with big.open("wb") as fh:  # a sparse 50 MB file: rejected by its size, never read into memory
        fh.seek(50 * 1024 * 1024 - 1)
        fh.write(b"\n")
    try:
        load_article(big)
    except LoadError as e:
        assert "MB limit" in str(e)
    else:
        raise AssertionError("a 50 MB article was accepted")


def test_odd_text_is_indexed_and_answered(make_engine, tmp_path):
    data = tmp_path / "articles"
    data.mkdir()
    zw = "The\u200b harbour\u200c museum\u200d opened\ufeff on Friday with 5,310 visitors."
    rtl = "متحف الميناء افتتح يوم الجمعة. The Arabic line above says the museum opened on Friday."
    long_line = "Word " * 20000 + "The lighthouse has 214 steps."
    mixed = "Der Bürgermeister Anton Vogel eröffnete das Museum. 歷城區舉行表彰大會。 The ribbon was cut by Anton Vogel."
    (data / "zw.txt").write_text(zw, encoding="utf-8")
    (data / "rtl.txt").write_text(rtl, encoding="utf-8")
    (data / "long.txt").write_text(long_line, encoding="utf-8")
    (data / "mixed.txt").write_text(mixed, encoding="utf-8")
    (data / "u16.txt").write_bytes("The ferry Kestrel carried 777 cars.".encode("utf-16"))
    (data / "gbk.txt").write_bytes("青川縣圖書館藏書32萬冊。".encode("gb18030"))
    engine = make_engine(data_dir=data)
    rep = engine.ingest(progress=False)
    assert sorted(rep.added) == sorted(p.name for p in data.iterdir()) and not rep.skipped
    assert "\u200b" not in engine.read_articles(["zw.txt"])["zw.txt"].text
    ans = engine.ask("How many visitors came to the harbour museum on Friday?")
    assert ans.answerable and "5,310" in ans.answer
    ans = engine.ask("How many cars did the ferry Kestrel carry?")
    assert ans.answerable and "777" in ans.answer
    for a in [engine.ask("How many steps does the lighthouse have?")]:
        for c in a.citations:
            assert engine.read_articles([c.source])[c.source].text[c.start:c.end] == c.text


def test_logs_are_structured_and_hold_no_article_text_or_secrets(tmp_path, run):
    env = {"CITECHAT_INDEX_DIR": str(tmp_path / "index"), "CITECHAT_DATA_DIR": str(ARTICLES),
           "CITECHAT_LOG_FORMAT": "json", "CITECHAT_LLM": "openai-like",
           "CITECHAT_LLM_BASE_URL": "http://127.0.0.1:9/v1", "CITECHAT_LLM_API_KEY": "sk-very-secret-key"}
    p = run(["ingest", "--no-progress"], env)
    assert p.returncode == 0, p.stderr
    p2 = run(["ask", "Who presented flags in Luohu?"], env)
    assert p2.returncode == 0 and "Liu Sheng" in p2.stdout
    events = [json.loads(line) for line in (p.stderr + p2.stderr).splitlines() if line.startswith("{")]
    kinds = {e.get("event") for e in events}
    assert {"ingest", "ask"} <= kinds
    ask = next(e for e in events if e.get("event") == "ask")
    assert ask["timings_ms"]["total"] > 0 and ask["citations"] == 1
    everything = p.stdout + p.stderr + p2.stdout + p2.stderr
    assert "sk-very-secret-key" not in everything
    assert "presented flags to the 11 leading units" not in p.stderr + p2.stderr  # no article text in logs


@local_only
def test_doctor_names_each_problem(tmp_path, run):
    env = {"CITECHAT_INDEX_DIR": str(tmp_path / "missing-index"), "CITECHAT_DATA_DIR": str(tmp_path / "no-articles"),
           "CITECHAT_LLM": "openai-like", "CITECHAT_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    p = run(["doctor"], env)
    assert p.returncode == 1
    lines = {line.split()[1]: line for line in p.stdout.splitlines() if line.startswith(("ok", "FAIL"))}
    assert lines["articles"].startswith("FAIL") and "does not exist" in lines["articles"]
    assert lines["index"].startswith("FAIL") and "citechat ingest" in lines["index"]
    assert lines["llm"].startswith("FAIL") and "cannot reach" in lines["llm"]
    assert lines["embedder"].startswith("ok") and lines["prompts"].startswith("ok")
    env.update({"CITECHAT_DATA_DIR": str(ARTICLES), "CITECHAT_LLM": "extractive"})
    assert run(["ingest", "--no-progress"], env).returncode == 0
    p = run(["doctor"], env)
    assert p.returncode == 0 and "all checks passed" in p.stdout


@local_only
def test_index_from_an_older_version_is_rebuilt_by_ingest(tmp_path, run):
    env = {"CITECHAT_INDEX_DIR": str(tmp_path / "index"), "CITECHAT_DATA_DIR": str(ARTICLES)}

    def article_files() -> dict[str, tuple[int, int, str]]:
        """Every file under the article folder: (size, mtime_ns, sha256) by relative path."""
        import hashlib

        return {str(p.relative_to(ARTICLES)): (p.stat().st_size, p.stat().st_mtime_ns,
                                               hashlib.sha256(p.read_bytes()).hexdigest())
                for p in sorted(ARTICLES.rglob("*")) if p.is_file()}

    before = article_files()
    assert len(before) == 5
    assert run(["ingest", "--no-progress"], env).returncode == 0
    import chromadb

    client = chromadb.PersistentClient(path=str(tmp_path / "index"))
    for name in ("citechat_sentences", "citechat_articles"):  # pretend an older citechat wrote it
        col = client.get_collection(name)
        col.modify(metadata={**{k: v for k, v in (col.metadata or {}).items() if not k.startswith("hnsw")},
                             "citechat_schema": 1})
    del client
    p = run(["ask", "Who presented flags in Luohu?"], env)
    assert p.returncode == 2 and "another citechat version" in p.stderr and "index rebuild" in p.stderr
    p = run(["ingest", "--no-progress"], env)
    assert p.returncode == 0, p.stderr
    assert "Rebuilding" in p.stderr and "5 added" in p.stdout
    assert article_files() == before  # article files untouched: none added or removed, same bytes, same mtimes
    p = run(["ask", "Who presented flags in Luohu?"], env)
    assert p.returncode == 0 and "Liu Sheng" in p.stdout
