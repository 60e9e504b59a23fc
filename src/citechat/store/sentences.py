"""The sentence collection as llama-index sees it: `SentenceVectorStore`, a `ChromaVectorStore` with lean
records, and the packing of sentence metadata into those records.

`Store` (index.py) owns the Chroma client, hands this adapter its sentence collection and keeps the adapter to
itself (`Store.add_sentences`, `Store.nearest`); nothing here opens a connection or imports chromadb.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.types import VectorStoreQueryResult
from llama_index.vector_stores.chroma import ChromaVectorStore
from llama_index.vector_stores.chroma.base import MAX_CHUNK_SIZE, chunk_list
from pydantic import PrivateAttr

if TYPE_CHECKING:
    from chromadb.api.types import PyEmbedding

POS_KEYS = ("sentence", "start", "end", "chunk", "chunk_start", "chunk_end")


def pack_sentence_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Sentence metadata as stored: three fields (each stored field costs Chroma an index row per sentence)."""
    return {"source": meta["source"], "content_hash": meta["content_hash"],
            "pos": " ".join(str(int(meta[k])) for k in POS_KEYS)}


def unpack_sentence_meta(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """Stored sentence metadata -> {source, content_hash, sentence, start, end, chunk, chunk_start, chunk_end}."""
    m = dict(stored or {})
    pos = str(m.pop("pos", "") or "").split()
    if len(pos) == len(POS_KEYS):
        m.update(zip(POS_KEYS, map(int, pos), strict=True))
    return m


class SentenceVectorStore(ChromaVectorStore):
    """llama-index's ChromaVectorStore with lean sentence records. Stock records hold the text twice (document +
    node JSON) plus 13 metadata fields, and writing them cost more than embedding; these hold an embedding and
    three fields. Query results get their text from the article records (`article_texts`)."""

    _article_texts: Callable[[dict[str, str]], dict[str, str]] = PrivateAttr()

    def __init__(self, chroma_collection: Any, article_texts: Callable[[dict[str, str]], dict[str, str]]) -> None:
        super().__init__(chroma_collection=chroma_collection)
        self._article_texts = article_texts

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        ids: list[str] = []
        for part in chunk_list(list(nodes), MAX_CHUNK_SIZE):
            embeddings: list[PyEmbedding] = [n.get_embedding() for n in part]
            self._collection.add(ids=[n.node_id for n in part], embeddings=embeddings,
                                 metadatas=[pack_sentence_meta(n.metadata) for n in part])
            ids += [n.node_id for n in part]
        return ids

    def _query(self, query_embeddings: list[float], n_results: int, where: dict, **kwargs: Any
               ) -> VectorStoreQueryResult:
        got = self._collection.query(query_embeddings=query_embeddings, n_results=n_results, where=where or None,
                                     include=["metadatas", "distances"])
        metadatas, distances = got["metadatas"], got["distances"]
        assert metadatas is not None and distances is not None  # both asked for in `include`
        metas = [unpack_sentence_meta(m) for m in metadatas[0]]
        texts = self._article_texts({m.get("source", ""): m.get("content_hash", "") for m in metas})
        nodes, sims, ids = [], [], []
        for node_id, meta, dist in zip(got["ids"][0], metas, distances[0], strict=False):
            text = texts.get(meta.get("source", ""))
            if text is None or "start" not in meta:  # a leftover of an interrupted or replaced ingest
                continue
            nodes.append(TextNode(id_=node_id, text=text[meta["start"]: meta["end"]], metadata=meta,
                                  start_char_idx=meta["start"], end_char_idx=meta["end"]))
            sims.append(1.0 - float(dist))  # cosine similarity (the collection uses cosine distance)
            ids.append(node_id)
        return VectorStoreQueryResult(nodes=nodes, similarities=sims, ids=ids)
