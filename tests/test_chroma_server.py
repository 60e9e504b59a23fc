"""The store on a real Chroma server (`chroma run`), shared by several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from citechat.config import Settings
from citechat.engine import Engine
from citechat.errors import IndexProblem

from browser_support import free_port, start_chroma_server
from conftest import ARTICLES

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    if not CHROMA.exists():
        pytest.skip("the chroma CLI is not installed")
    proc, url = start_chroma_server(tmp_path_factory.mktemp("chroma-server"))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def cli(args, url: str, collection: str, data: Path = ARTICLES) -> subprocess.CompletedProcess:
    env = dict(os.environ, CITECHAT_CHROMA_URL=url, CITECHAT_COLLECTION=collection, CITECHAT_DATA_DIR=str(data))
    return subprocess.run([sys.executable, "-m", "citechat", *args], capture_output=True, text=True, env=env, timeout=300)


def test_ingest_ask_delete_across_processes(chroma_url, embedder, encoder, tmp_path):
    data = tmp_path / "articles"
    data.mkdir()
    for f in ARTICLES.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    # Process A (a CLI subprocess) builds the index on the server.
    p = cli(["ingest", "--no-progress"], chroma_url, "shared", data)
    assert p.returncode == 0, p.stderr
    assert "5 added" in p.stdout
    # Process B (this one) serves questions from it without ingesting anything.
    settings = Settings(chroma_url=chroma_url, collection="shared", data_dir=data, index_dir=tmp_path / "unused")
    engine_b = Engine(settings, embedder=embedder, encoder=encoder, create=False)
    ans = engine_b.ask("Who presented flags in Luohu?")
    assert ans.answerable and ans.citations[0].source == "001_a87b5d3a02c24cc1.txt"
    assert not (tmp_path / "unused").exists()
    # A adds an article; B sees it on its next question, without a restart.
    (data / "ferry.txt").write_text("Ferry news\n\nThe Kestrel ferry line carried 48,200 passengers in March.",
                                    encoding="utf-8")
    p = cli(["ingest", "--no-progress"], chroma_url, "shared", data)
    assert "1 added" in p.stdout, p.stdout + p.stderr
    ans = engine_b.ask("How many passengers did the Kestrel ferry line carry in March?")
    assert ans.answerable and "48,200" in ans.answer and ans.citations[0].source == "ferry.txt"
    # B deletes it; A's view (a fresh process) no longer has it.
    assert engine_b.remove("ferry.txt")
    p = cli(["ask", "--json", "How many passengers did the Kestrel ferry line carry in March?"], chroma_url, "shared", data)
    out = json.loads(p.stdout)
    assert not out["answerable"] or all(c["source"] != "ferry.txt" for c in out["citations"])
    p = cli(["list"], chroma_url, "shared", data)
    assert "ferry.txt" not in p.stdout and p.stdout.count(".txt") == 5


def test_reingest_on_the_server_embeds_nothing(chroma_url, embedder, encoder, tmp_path):
    settings = Settings(chroma_url=chroma_url, collection="reingest", data_dir=ARTICLES, index_dir=tmp_path / "i")
    engine = Engine(settings, embedder=embedder, encoder=encoder)
    engine.ingest(progress=False)
    calls = embedder.calls
    rep = engine.ingest(progress=False)
    assert len(rep.unchanged) == 5 and embedder.calls == calls


def test_unreachable_server_gets_a_clear_error(embedder, tmp_path):
    settings = Settings(chroma_url=f"http://127.0.0.1:{free_port()}", index_dir=tmp_path / "i")
    with pytest.raises(IndexProblem, match="Cannot reach the Chroma server"):
        Engine(settings, embedder=embedder)
    p = subprocess.run([sys.executable, "-m", "citechat", "ask", "x"], capture_output=True, text=True,
                       env=dict(os.environ, CITECHAT_CHROMA_URL=settings.chroma_url))
    assert p.returncode == 2 and "Cannot reach the Chroma server" in p.stderr and "Traceback" not in p.stderr
