"""Adapter: a citechat `Embedder` as llama-index's `BaseEmbedding`, for the ingestion pipeline."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from .base import Embedder


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
