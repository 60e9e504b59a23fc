"""Shared fixtures: real models (loaded once per session) and real Chroma indexes in temporary folders."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # what `citechat` sets (cli.prepare_process)

from citechat.config import Settings  # noqa: E402
from citechat.embedding import Embedder, make_embedder  # noqa: E402
from citechat.engine import Engine  # noqa: E402
from citechat.retrieval import OnnxCrossEncoder  # noqa: E402

from fake_llm import fake_server  # noqa: E402,F401 - a fixture for every test module

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))  # the synthetic-corpus generator (bench/scale.py) for scale tests
ARTICLES = ROOT / "data" / "articles"
DEV_SET = ROOT / "evals" / "dev.jsonl"


# CITECHAT_TEST_STORE=server runs the suite against a real Chroma server (`chroma run`) instead of local
# folders: in-process engines and the app/CLI subprocesses all use it, each test with its own collection.
SERVER_MODE = os.environ.get("CITECHAT_TEST_STORE") == "server"
local_only = pytest.mark.skipif(SERVER_MODE, reason="tests the local index folder itself")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    if not SERVER_MODE:
        yield None
        return
    from browser_support import start_chroma_server

    proc, url = start_chroma_server(tmp_path_factory.mktemp("chroma-suite"))
    os.environ["CITECHAT_CHROMA_URL"] = url  # subprocesses (CLI, app) inherit it
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _server_collection(chroma_server, monkeypatch):
    """In server mode every test gets fresh collections (CLI and app subprocesses inherit the name)."""
    if chroma_server:
        import uuid

        monkeypatch.setenv("CITECHAT_COLLECTION", "t" + uuid.uuid4().hex[:12])
    yield


class WordHashEmbedder(Embedder):
    """Bag of words hashed into 256 dimensions: texts sharing words are close, a text is nearest itself."""

    name = "test-word-hash"
    dim = 256
    fork_safe = True

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.md5(w.strip(".,?").encode()).hexdigest(), 16) % self.dim] += 1.0
        return out


def make_settings(**kw) -> Settings:
    """Settings for an in-process engine, honouring server mode."""
    return Settings(**kw)


@pytest.fixture(scope="session")
def embedder():
    e = make_embedder(Settings().embedder)
    e.warm_up()
    return e


@pytest.fixture(scope="session")
def encoder():
    enc = OnnxCrossEncoder(max_tokens=Settings().retrieval.rerank_max_tokens)
    enc.warm_up()
    return enc


@pytest.fixture
def make_engine(embedder, encoder, tmp_path):
    """Build an Engine over a fresh index folder, reusing the session's models."""

    def _make(data_dir: Path | None = None, index_dir: Path | None = None) -> Engine:
        settings = make_settings(data_dir=data_dir or ARTICLES, index_dir=index_dir or tmp_path / "index")
        return Engine(settings, embedder=embedder, encoder=encoder)

    return _make


@pytest.fixture(scope="session")
def corpus_engine(embedder, encoder, tmp_path_factory, chroma_server):
    """An engine over the five shipped articles, ingested once for the session."""
    settings = Settings(data_dir=ARTICLES, index_dir=tmp_path_factory.mktemp("corpus") / "index",
                        collection="corpus" if chroma_server else "citechat")
    engine = Engine(settings, embedder=embedder, encoder=encoder)
    engine.ingest(progress=False)
    engine.warm_up()
    return engine


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, one per test module (browser tests only)."""
    pw = pytest.importorskip("playwright.sync_api")
    from browser_support import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


# --- test tiers (`pytest -m`, registered in pyproject.toml with --strict-markers) --------------------------
# `make test-fast` runs none of these tiers; `make test` (and CI) runs everything. A test's tier follows from
# what it uses, so a new test lands in the right one without a hand-kept list:
#   browser: Chromium through Playwright (the `page` / `browser` fixtures, test_browser*.py);
#   llm:     the local LLM server (llama-cpp, the `llm_server` fixture, test_*llm.py);
#   server:  a real app.py or Chroma server process (modules using browser_support's AppServer/Chroma server);
#   slow:    soak, crash, fuzz and load runs, and tests marked `@pytest.mark.slow` (several seconds each).
SLOW_MODULES = {"test_soak", "test_crash", "test_fuzz", "test_load", "test_training", "test_cli", "test_full_disk"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module, uses = item.module, set(getattr(item, "fixturenames", ()))
        name = module.__name__
        if {"page", "browser"} & uses or name.startswith("test_browser"):
            item.add_marker(pytest.mark.browser)
        if "llm_server" in uses or name.endswith("_llm"):
            item.add_marker(pytest.mark.llm)
        if hasattr(module, "AppServer") or hasattr(module, "start_chroma_server"):
            item.add_marker(pytest.mark.server)
        if name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
