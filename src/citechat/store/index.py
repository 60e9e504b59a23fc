"""`Store`: the three Chroma collections of one index, and everything the rest of citechat reads or writes there.

Three collections:
- `<prefix>_sentences`: one lean record per sentence (embedding, source, content hash, packed offsets), written
  and queried through `SentenceVectorStore` (sentences.py), a llama-index `ChromaVectorStore` that stays private
  to `Store` (`add_sentences`, `nearest`). The sentence text is not stored again: it is the article's cleaned
  text between the offsets, so a citation is exact by construction.
- `<prefix>_articles`: one record per article (cleaned text, title, outlet, date, content hash). It is written
  last during an ingest, so it marks an article as complete; sentences without it are leftovers.
- `<prefix>_meta`: the revision record, changed on every add/replace/remove (other processes watch it).
Everything else (BM25, article list) is derived from these, so any process opening the store sees the same index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

from ..config import SCHEMA_VERSION, Settings
from ..errors import IndexFull, IndexOutdated, IndexProblem
from . import client
from .client import check_index_folder, get_all
from .guard import GuardedCollection, disk_full_reason
from .sentences import SentenceVectorStore, unpack_sentence_meta

log = logging.getLogger(__name__)

TEXT_CACHE_SIZE = 5000  # articles whose cleaned text `current_texts` keeps


@dataclass
class StoredArticle:
    source: str
    title: str
    outlet: str
    date: str
    content_hash: str
    path: str
    sentences: int
    chunks: int
    meta: dict[str, Any] = field(default_factory=dict, repr=False)  # the whole stored record metadata
    text: str = field(default="", repr=False)  # the cleaned text, when it was read (`read_articles(text=True)`)

    @classmethod
    def from_meta(cls, source: str, m: dict[str, Any], text: str = "") -> StoredArticle:
        return cls(
            source=source, title=str(m.get("title", "")), outlet=str(m.get("outlet", "")), date=str(m.get("date", "")),
            content_hash=str(m.get("content_hash", "")), path=str(m.get("path", "")),
            sentences=int(m.get("sentences", 0)), chunks=int(m.get("chunks", 0)), meta=dict(m), text=text,
        )


@dataclass(frozen=True)
class StoredSentence:
    """One sentence found by `Store.nearest`: its text is cut from its article's current text."""

    id: str
    text: str
    metadata: dict[str, Any]  # source, content_hash, sentence, start, end, chunk, chunk_start, chunk_end
    similarity: float  # cosine similarity to the query vector


class Store:
    """Opens the Chroma collections for one index folder (or server)."""

    def __init__(self, settings: Settings, embedder_name: str, create: bool = True) -> None:
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self.embedder_name = embedder_name
        self.remote = bool(settings.chroma_url)
        self.location = settings.chroma_url or str(self.index_dir)  # the server, else the folder
        prefix = settings.collection
        names = (f"{prefix}_sentences", f"{prefix}_articles", f"{prefix}_meta")
        if self.remote:
            self.client = client.http_client(settings)
            if not create:
                existing = {getattr(c, "name", c) for c in self.client.list_collections()}
                if names[0] not in existing:
                    raise IndexProblem(f"No index named '{prefix}' on the Chroma server {self.location}. "
                                       "Run `citechat ingest` to build it.")
        else:
            if not create and not (self.index_dir / "chroma.sqlite3").exists():
                raise IndexProblem(
                    f"No index found in {self.index_dir}. Run `citechat ingest` to build it from "
                    f"{settings.data_dir} (or pass --index-dir)."
                )
            check_index_folder(self.index_dir)
        try:
            if not self.remote:
                self.client = client.persistent_client(self.index_dir)
            meta = {"hnsw:space": "cosine", "citechat_schema": SCHEMA_VERSION, "embedder": embedder_name}
            guard = lambda col: GuardedCollection(col, self.location, self.remote)  # outages: guard.py
            self.sentences = guard(self.client.get_or_create_collection(names[0], metadata=meta))
            self.articles = guard(self.client.get_or_create_collection(names[1], metadata=meta))
            self.meta = guard(self.client.get_or_create_collection(names[2], metadata={"citechat_schema": SCHEMA_VERSION}))
        except IndexProblem:
            raise
        except Exception as e:  # noqa: BLE001 - chromadb raises many types for a damaged folder
            full = not self.remote and disk_full_reason(e, self.location)
            if full:  # (creating the index on a full disk)
                raise IndexFull(self.location, full) from e
            if self.remote:
                raise IndexProblem(f"The Chroma server at {self.location} failed ({type(e).__name__}: {e}).") from e
            raise IndexProblem(
                f"Could not open the index in {self.index_dir} ({type(e).__name__}: {e}). "
                "Run `citechat index rebuild` to rebuild it from your articles; your article files are not touched."
            ) from e
        self._check_compatible()
        # source -> (content hash, cleaned text); the lock because retrievers in several threads share it
        self._texts: LRUCache[str, tuple[str, str]] = LRUCache(maxsize=TEXT_CACHE_SIZE)
        self._texts_lock = threading.Lock()
        self._vectors = SentenceVectorStore(self.sentences, self.current_texts)

    def _check_compatible(self) -> None:
        for col in (self.sentences, self.articles):  # (the meta collection has no embedder)
            meta = col.metadata or {}
            schema = meta.get("citechat_schema")
            if schema != SCHEMA_VERSION:
                raise IndexOutdated(
                    f"The index in {self.index_dir} was made by another citechat version (schema {schema}, "
                    f"this version uses {SCHEMA_VERSION}). Run `citechat index rebuild`."
                )
            if meta.get("embedder") != self.embedder_name:
                raise IndexOutdated(
                    f"The index in {self.index_dir} was built with the embedder '{meta.get('embedder')}', but "
                    f"'{self.embedder_name}' is configured. Run `citechat index rebuild` or set "
                    f"CITECHAT_EMBEDDER={meta.get('embedder')}."
                )

    # --- articles ---------------------------------------------------------------------------------

    def list_articles(self) -> dict[str, StoredArticle]:
        """Every complete article, without its text."""
        got = get_all(self.articles, ["metadatas"])
        return {i: StoredArticle.from_meta(i, m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=False)}

    def read_articles(self, sources: list[str], text: bool = True) -> dict[str, StoredArticle]:
        """Some articles, in the order asked for, with their cleaned text unless `text=False`. Sources that are not
        indexed are left out; a source asked for twice is read once."""
        wanted = list(dict.fromkeys(sources))
        if not wanted:  # (a get without ids would read every record)
            return {}
        include = ["metadatas", "documents"] if text else ["metadatas"]
        got = self.articles.get(ids=wanted, include=include)
        docs = got["documents"] if text else None
        found = {i: StoredArticle.from_meta(i, m or {}, (docs[k] or "") if docs else "")
                 for k, (i, m) in enumerate(zip(got["ids"], got["metadatas"], strict=False))}
        return {s: found[s] for s in wanted if s in found}

    def current_texts(self, hashes: dict[str, str]) -> dict[str, str]:
        """Cleaned texts of the given articles at the given content hashes: from the cache when it holds that
        version, else from the store, which only has the current one (a replaced or removed article is left out,
        unless this store still caches the asked-for version, whose offsets the text then fits)."""
        out, missing = {}, []
        with self._texts_lock:
            for source, h in hashes.items():
                cached = self._texts.get(source)
                if cached is not None and cached[0] == h:
                    out[source] = cached[1]
                else:
                    missing.append(source)
        if missing:
            got = self.articles.get(ids=missing, include=["documents", "metadatas"])
            with self._texts_lock:
                for source, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=False):
                    h = str((meta or {}).get("content_hash", ""))
                    self._texts[source] = (h, text or "")
                    if h == hashes.get(source):
                        out[source] = text or ""
        return out

    def put_articles(self, sources: list[str], texts: list[str], metas: list[dict[str, Any]],
                     embeddings: list[list[float]]) -> None:
        """Write article records (the completion markers), then announce the change."""
        if sources:
            self.articles.upsert(ids=sources, documents=texts, metadatas=metas, embeddings=embeddings)
            self.bump_revision()

    def update_article_metadata(self, updates: dict[str, dict[str, Any]]) -> None:
        """Rewrite some fields of article records whose text is unchanged (e.g. title, outlet, date after the
        metadata rules changed); text, embeddings and sentences stay. Then announce the change."""
        if not updates:
            return
        got = self.articles.get(ids=list(updates), include=["metadatas"])
        if got["ids"]:
            metas = [{**(m or {}), **updates[i]} for i, m in zip(got["ids"], got["metadatas"], strict=False)]
            self.articles.update(ids=got["ids"], metadatas=metas)
            self.bump_revision()

    def delete_article(self, source: str, announce: bool = True) -> None:
        """Remove an article: its completion record first, then its sentences. `announce=False` leaves the
        revision alone (an ingest replacing the article announces once, when the new version is complete)."""
        self.articles.delete(ids=[source])
        if announce:
            self.bump_revision()
        self.sentences.delete(where={"source": source})

    # --- sentences --------------------------------------------------------------------------------

    def add_sentences(self, nodes: Sequence[BaseNode]) -> None:
        """Write embedded sentence nodes (lean records: embedding, source, content hash, offsets)."""
        if nodes:
            self._vectors.add(nodes)

    def nearest(self, vector: np.ndarray | Sequence[float], k: int,
                sources: list[str] | None = None) -> list[StoredSentence]:
        """The `k` sentences of complete articles nearest `vector` by cosine, nearest first; only from `sources`
        if given. Leftovers (sentences of a replaced or unfinished article) are left out."""
        if sources is not None and not sources:
            return []
        filters = None
        if sources is not None:
            filters = MetadataFilters(filters=[MetadataFilter(key="source", value=list(sources),
                                                              operator=FilterOperator.IN)])
        res = self._vectors.query(
            VectorStoreQuery(query_embedding=np.asarray(vector).tolist(), similarity_top_k=k, filters=filters))
        return [StoredSentence(node.node_id, node.get_content(), dict(node.metadata), float(sim))
                for node, sim in zip(res.nodes or [], res.similarities or [], strict=False)]

    def sentence_sources(self) -> set[str]:
        got = get_all(self.sentences, ["metadatas"])
        return {str((m or {}).get("source")) for m in got["metadatas"]}

    def sentence_metadatas(self) -> tuple[list[str], list[dict[str, Any]]]:
        got = get_all(self.sentences, ["metadatas"])
        return got["ids"], [unpack_sentence_meta(m) for m in got["metadatas"]]

    def all_sentences(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every sentence of a complete article: ids, texts (cut from the article texts) and metadata."""
        arts = get_all(self.articles, ["documents", "metadatas"])
        texts = {}
        for source, text, meta in zip(arts["ids"], arts["documents"], arts["metadatas"], strict=False):
            h = str((meta or {}).get("content_hash", ""))
            texts[source] = (h, text or "")
        with self._texts_lock:
            self._texts.update(texts)
        ids, metas = self.sentence_metadatas()
        out_ids, out_texts, out_metas = [], [], []
        for i, m in zip(ids, metas, strict=False):
            h, text = texts.get(m.get("source", ""), ("", ""))
            if h and h == m.get("content_hash") and "start" in m:
                out_ids.append(i)
                out_texts.append(text[m["start"]: m["end"]])
                out_metas.append(m)
        return out_ids, out_texts, out_metas

    def delete_sentences(self, ids: list[str], page: int = 5000) -> None:
        for k in range(0, len(ids), page):
            self.sentences.delete(ids=ids[k: k + page])

    def sentence_embeddings(self, ids: list[str]) -> dict[str, np.ndarray]:
        got = self.sentences.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=False)}

    @staticmethod
    def forget_clients() -> None:
        """chromadb caches one client per folder in a process; drop them so a rebuilt folder is opened afresh."""
        client.forget_clients()

    def sentences_of(self, source: str) -> list[dict[str, Any]]:
        got = self.sentences.get(where={"source": source}, include=["metadatas"])
        return [unpack_sentence_meta(m) for m in got["metadatas"]]

    def revision(self) -> str:
        """Changes whenever an article is added, replaced or removed, by this or any other process sharing the
        store. One small read, so retrievers can check it on every question and rebuild BM25 when it moves."""
        got = self.meta.get(ids=["revision"], include=["metadatas"])
        if got["ids"] and got["metadatas"][0]:
            return str(got["metadatas"][0].get("value"))
        arts = self.list_articles()  # an index written before revisions were recorded
        h = hashlib.sha256(json.dumps(sorted((s, a.content_hash) for s, a in arts.items())).encode())
        return h.hexdigest()[:16]

    def bump_revision(self) -> None:
        self.meta.upsert(ids=["revision"], documents=["revision"], metadatas=[{"value": uuid.uuid4().hex}],
                         embeddings=[[0.0]])

    def count(self) -> int:
        return self.sentences.count()
