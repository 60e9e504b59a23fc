"""The `Embedder` base class: unit-length vectors for documents and queries (subclasses implement `_encode`), a
lazy thread-safe `warm_up()`, and `embed_many`, which spreads a large batch over forked worker processes."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import numpy as np

from ..language import to_simplified
from ..lazy import WarmUp

if TYPE_CHECKING:
    from .llama import LlamaIndexEmbedding

log = logging.getLogger(__name__)


class Embedder(WarmUp, ABC):
    """Turns text into unit-length vectors. Subclasses implement `_encode` (and `_load`, which `warm_up` runs once)."""

    name: str = "embedder"
    query_prefix: str = ""
    passage_prefix: str = ""
    fork_safe: bool = False  # pure numpy models can encode in forked worker processes (see `embed_many`)

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0  # number of encode calls, so tests can prove that re-ingest embeds nothing
        self._pool: ProcessPoolExecutor | None = None
        self._pool_size = 0
        # Held while this process encodes in a batch path that may run beside a fork, and while forking:
        # OpenBLAS's at-fork handler waits for its threads, so a fork during a BLAS call hangs forever.
        self._fork_lock = threading.Lock()

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
        from .llama import LlamaIndexEmbedding

        return LlamaIndexEmbedding(embedder=self, workers=workers)


PARALLEL_MIN_TEXTS = 512  # smaller batches are embedded in-process (forking costs more than it saves)
_FORKED: Embedder | None = None  # the embedder a forked worker inherits


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _init_worker() -> None:
    assert _FORKED is not None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingesting process's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the server's handler (serving.py): SIGTERM ends a worker
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
