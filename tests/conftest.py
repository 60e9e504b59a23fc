"""Shared fixtures: real models (loaded once per session) and real Chroma indexes in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from citechat.config import Settings  # noqa: E402
from citechat.embedding import make_embedder  # noqa: E402
from citechat.engine import Engine  # noqa: E402
from citechat.retrieval import OnnxCrossEncoder  # noqa: E402

from fake_llm import fake_server  # noqa: E402,F401 - a fixture for every test module

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
DEV_SET = ROOT / "evals" / "dev.jsonl"


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
        settings = Settings(data_dir=data_dir or ARTICLES, index_dir=index_dir or tmp_path / "index")
        return Engine(settings, embedder=embedder, encoder=encoder)

    return _make


@pytest.fixture(scope="session")
def corpus_engine(embedder, encoder, tmp_path_factory):
    """An engine over the five shipped articles, ingested once for the session."""
    settings = Settings(data_dir=ARTICLES, index_dir=tmp_path_factory.mktemp("corpus") / "index")
    engine = Engine(settings, embedder=embedder, encoder=encoder)
    engine.ingest(progress=False)
    engine.warm_up()
    return engine
