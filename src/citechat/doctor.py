"""`citechat doctor`: check models, article folder, index, store connection, prompts and LLM backend, and say
what is wrong and how to fix it. Each check is independent: one failure doesn't hide the others."""

from __future__ import annotations

import functools
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


def _run(name: str, fn: Callable[[], str]) -> Check:
    try:
        return Check(name, True, fn())
    except Exception as e:  # noqa: BLE001 - every problem becomes a line of the report
        return Check(name, False, str(e) or type(e).__name__)


def _check_articles(settings: Settings) -> str:
    from .ingest.loading import LoadError, iter_article_files, load_article

    folder = Path(settings.data_dir)
    if not folder.is_dir():
        raise RuntimeError(f"article folder {folder} does not exist; create it or set CITECHAT_DATA_DIR")
    files = list(iter_article_files([folder]))
    bad = []
    for f in files:
        try:
            load_article(f)
        except LoadError as e:
            bad.append(str(e))
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(files)} files can't be read: " + "; ".join(bad[:3]))
    return f"{len(files)} readable articles in {folder}"


def _check_embedder(settings: Settings) -> str:
    from .embedding import make_embedder

    e = make_embedder(settings.embedder)
    e.warm_up()
    dim = len(e.embed_query("test"))
    return f"{settings.embedder} loads ({dim} dimensions)"


def _check_reranker(settings: Settings) -> str:
    if settings.retrieval.reranker == "none":
        return "disabled"
    from .retrieval import OnnxCrossEncoder

    enc = OnnxCrossEncoder()
    enc.warm_up()
    enc.score("test", ["test"])
    return "ms-marco-MiniLM-L-12 (ONNX) loads"


def _check_multilingual(settings: Settings) -> str:
    from .retrieval.multilingual import make_pair_scorer

    scorer = make_pair_scorer(settings.retrieval.multilingual_reranker)
    if scorer is None:
        return "disabled"
    scorer.warm_up()
    scorer.score("test", ["test"])
    info = scorer.describe()
    return " ".join(f"{k} {v}" for k, v in info.items()) + " loads"


def _check_decision(settings: Settings) -> str:
    from .answer.decision import DecisionModel

    model = DecisionModel(settings.answer.decision_model, min_abstention=settings.answer.min_abstention)
    model.warm_up()
    limits = ", ".join(f"{k} {v:.2f}" for k, v in sorted(model.thresholds.items()))
    return f"answer-decision model {model.meta.get('version', '?')} loads (thresholds {limits})"


def _check_index(settings: Settings) -> str:
    from .errors import IndexProblem, StoreUnavailable
    from .store import Store

    try:
        store = Store(settings, settings.embedder, create=False)
    except IndexProblem as e:  # a server that doesn't answer is an outage, named as every surface names it
        if isinstance(e.__cause__, StoreUnavailable):
            raise e.__cause__ from e
        raise
    arts = store.list_articles()
    n = store.count()
    if not arts:
        raise RuntimeError(f"the index at {store.location} is empty; run `citechat ingest`")
    orphans = len(store.sentence_sources() - set(arts))
    extra = f"; {orphans} articles with leftover sentences (run `citechat ingest` to clean up)" if orphans else ""
    return f"{len(arts)} articles, {n} sentences at {store.location}{extra}"


def _check_prompts(settings: Settings) -> str:
    from .prompts import load_prompts

    load_prompts(settings.prompts_dir)
    return "system.txt, qa.txt, condense.txt have the right placeholders"


def _check_llm(settings: Settings) -> str:
    backend = settings.llm
    if backend == "extractive":
        return "extractive answerer (no LLM configured)"
    if backend == "openai-like":
        if not settings.llm_base_url:
            raise RuntimeError("CITECHAT_LLM=openai-like needs CITECHAT_LLM_BASE_URL")
        req = urllib.request.Request(settings.llm_base_url.rstrip("/") + "/models")
        if settings.llm_api_key:
            req.add_header("Authorization", f"Bearer {settings.llm_api_key.get_secret_value()}")
        try:
            urllib.request.urlopen(req, timeout=5)
        except OSError as e:
            raise RuntimeError(f"cannot reach {settings.llm_base_url} ({e}); start the server or fix "
                               "CITECHAT_LLM_BASE_URL (answers fall back to extractive meanwhile)") from e
        return f"OpenAI-compatible server at {settings.llm_base_url} answers"
    if backend == "llama-cpp":
        if not settings.llm_model_path or not Path(settings.llm_model_path).is_file():
            raise RuntimeError(f"GGUF file not found: {settings.llm_model_path} (CITECHAT_LLM_MODEL_PATH)")
        import llama_cpp  # noqa: F401

        return f"llama-cpp with {settings.llm_model_path}"
    from .llm import ensure_local_model

    return f"local model ready at {ensure_local_model()}"


CHECKS: list[tuple[str, Callable[[Settings], str]]] = [
    ("articles", _check_articles), ("embedder", _check_embedder), ("reranker", _check_reranker),
    ("xrerank", _check_multilingual),
    ("decision", _check_decision), ("index", _check_index), ("prompts", _check_prompts), ("llm", _check_llm),
]


def diagnose(settings: Settings) -> list[Check]:
    """Run every check; each returns a line of detail or raises with what is wrong and how to fix it."""
    return [_run(name, functools.partial(fn, settings)) for name, fn in CHECKS]


def format_checks(checks: list[Check]) -> str:
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name:9} {c.detail}" for c in checks]
    bad = sum(not c.ok for c in checks)
    lines.append("all checks passed" if not bad else f"{bad} problem(s) found")
    return "\n".join(lines)
