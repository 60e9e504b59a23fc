"""Embedders. Models load lazily in `warm_up()`; documents and queries are embedded by separate methods.

`Embedder` (base.py) is the small base class (one abstract method, `_encode`); models.py holds the models and
`make_embedder`; `as_llama_index()` adapts any embedder to llama-index's `BaseEmbedding` (llama.py) for the
ingestion pipeline.
"""

from .base import PARALLEL_MIN_TEXTS, Embedder
from .llama import LlamaIndexEmbedding
from .models import E5Embedder, SentenceTransformerEmbedder, USEEmbedder, make_embedder

__all__ = ["PARALLEL_MIN_TEXTS", "E5Embedder", "Embedder", "LlamaIndexEmbedding", "SentenceTransformerEmbedder",
           "USEEmbedder", "make_embedder"]
