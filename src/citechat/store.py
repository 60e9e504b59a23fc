"""The persisted index: a Chroma database under `index/` (or, later, a Chroma server).

Three collections:
- `<prefix>_sentences`: one lean record per sentence (embedding, source, content hash, packed offsets), written
  and queried through `SentenceVectorStore` (sentence_store.py), a llama-index `ChromaVectorStore`. The sentence
  text is not stored again: it is the article's cleaned text between the offsets, so a citation is exact by
  construction.
- `<prefix>_articles`: one record per article (cleaned text, title, outlet, date, content hash). It is written
  last during an ingest, so it marks an article as complete; sentences without it are leftovers.
- `<prefix>_meta`: the revision record, changed on every add/replace/remove (other processes watch it).
Everything else (BM25, article list) is derived from these, so any process opening the store sees the same index.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from cachetools import LRUCache

from .config import SCHEMA_VERSION, Settings
from .errors import IndexFull, IndexOutdated, IndexProblem
from .sentence_store import SentenceVectorStore, unpack_sentence_meta
from .store_errors import GuardedCollection, disk_full_reason, server_unreachable

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

    @classmethod
    def from_meta(cls, source: str, m: dict[str, Any]) -> StoredArticle:
        return cls(
            source=source, title=str(m.get("title", "")), outlet=str(m.get("outlet", "")), date=str(m.get("date", "")),
            content_hash=str(m.get("content_hash", "")), path=str(m.get("path", "")),
            sentences=int(m.get("sentences", 0)), chunks=int(m.get("chunks", 0)), meta=dict(m),
        )


def _get_all(collection: Any, include: list[str], page: int = 5000) -> dict[str, list]:
    """collection.get() for every record, a page at a time (one huge get hits SQLite's variable limit)."""
    out: dict[str, list] = {"ids": [], **{k: [] for k in include}}
    offset = 0
    while True:
        got = collection.get(include=include, limit=page, offset=offset)
        out["ids"] += got["ids"]
        for k in include:
            out[k] += list(got[k] or [])
        if len(got["ids"]) < page:
            return out
        offset += page


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _http_client(settings: Settings):
    from urllib.parse import urlparse

    import chromadb

    url = urlparse(settings.chroma_url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise IndexProblem(f"CITECHAT_CHROMA_URL must look like http://host:port, not {settings.chroma_url!r}.")
    headers = {}
    if settings.chroma_token:
        headers["Authorization"] = f"Bearer {settings.chroma_token.get_secret_value()}"
    try:
        client = chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                                     ssl=url.scheme == "https", headers=headers, settings=_chroma_settings())
        client.heartbeat()
        return client
    except Exception as e:  # noqa: BLE001 - connection errors come in many types (chromadb: a ValueError)
        problem = server_unreachable(settings.chroma_url or "", e)
        raise problem from problem.__cause__  # the StoreUnavailable (its own cause: e) that `doctor` reports


def check_index_folder(index_dir: Path) -> None:
    """Raise IndexProblem if `index_dir` exists but is not a readable citechat/Chroma index."""
    if not index_dir.exists():
        return
    if not index_dir.is_dir():
        raise IndexProblem(f"The index path {index_dir} is a file, not a folder. Move it away or set --index-dir.")
    entries = [p for p in index_dir.iterdir() if not p.name.startswith(".") and p.name != "feedback.jsonl"]
    if not entries:
        return
    db = index_dir / "chroma.sqlite3"
    if not db.exists():
        raise IndexProblem(
            f"The folder {index_dir} is not a citechat index (no chroma.sqlite3). "
            f"Run `citechat index rebuild --index-dir {index_dir}` to rebuild it from your articles, "
            "or point --index-dir at an empty folder."
        )
    try:
        # Read-write, not mode=ro: after a crash SQLite must recover the write-ahead log, which a read-only
        # connection can't do ("attempt to write a readonly database"). The check itself writes nothing.
        con = sqlite3.connect(str(db))
        try:
            con.execute("SELECT count(*) FROM collections").fetchone()
            ok = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        raise IndexProblem(
            f"The index in {index_dir} is corrupt ({e}). Run `citechat index rebuild` to rebuild it from your "
            "articles; your article files are not touched."
        ) from e
    if not ok or ok[0] != "ok":
        raise IndexProblem(
            f"The index in {index_dir} is corrupt (sqlite check: {ok[0] if ok else 'no answer'}). "
            "Run `citechat index rebuild`; your article files are not touched."
        )


class Store:
    """Opens the Chroma collections for one index folder."""

    def __init__(self, settings: Settings, embedder_name: str, create: bool = True) -> None:
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self.embedder_name = embedder_name
        self.remote = bool(settings.chroma_url)
        self.location = settings.chroma_url or str(self.index_dir)  # the server, else the folder
        prefix = settings.collection
        names = (f"{prefix}_sentences", f"{prefix}_articles", f"{prefix}_meta")
        if self.remote:
            self.client = _http_client(settings)
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
        import chromadb

        try:
            if not self.remote:
                self.index_dir.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(self.index_dir), settings=_chroma_settings())
            meta = {"hnsw:space": "cosine", "citechat_schema": SCHEMA_VERSION, "embedder": embedder_name}
            guard = lambda col: GuardedCollection(col, self.location, self.remote)  # outages: store_errors.py
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
        self.vector_store = SentenceVectorStore(self.sentences, self.current_texts)

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
        got = _get_all(self.articles, ["metadatas"])
        return {i: StoredArticle.from_meta(i, m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=False)}

    def article_text(self, source: str) -> str | None:
        got = self.articles.get(ids=[source], include=["documents"])
        return got["documents"][0] if got["ids"] else None

    def article_texts(self, sources: list[str]) -> dict[str, str]:
        if not sources:
            return {}
        got = self.articles.get(ids=list(dict.fromkeys(sources)), include=["documents"])
        return dict(zip(got["ids"], got["documents"], strict=False))

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

    def article_metadata(self, sources: list[str]) -> dict[str, dict[str, Any]]:
        """The stored metadata (title, outlet, date, ...) of some articles."""
        if not sources:
            return {}
        got = self.articles.get(ids=sources, include=["metadatas"])
        return {i: dict(m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=False)}

    def article(self, source: str) -> tuple[dict[str, Any], str]:
        """(metadata, cleaned text) of one article; ({}, "") if it is not indexed."""
        got = self.articles.get(ids=[source], include=["metadatas", "documents"])
        if not got["ids"]:
            return {}, ""
        return dict(got["metadatas"][0] or {}), got["documents"][0] or ""

    # --- sentences --------------------------------------------------------------------------------

    def sentence_sources(self) -> set[str]:
        got = _get_all(self.sentences, ["metadatas"])
        return {str((m or {}).get("source")) for m in got["metadatas"]}

    def sentence_metadatas(self) -> tuple[list[str], list[dict[str, Any]]]:
        got = _get_all(self.sentences, ["metadatas"])
        return got["ids"], [unpack_sentence_meta(m) for m in got["metadatas"]]

    def all_sentences(self) -> tuple[list[str], list[str], list[dict[str, Any]]]:
        """Every sentence of a complete article: ids, texts (cut from the article texts) and metadata."""
        arts = _get_all(self.articles, ["documents", "metadatas"])
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
        try:
            from chromadb.api.client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        except Exception:  # noqa: BLE001 - a chromadb without the cache
            pass

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
