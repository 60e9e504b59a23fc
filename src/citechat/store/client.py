"""The Chroma client: opening one (a local `PersistentClient` on an index folder, or an `HttpClient` on a server),
checking a local folder before Chroma touches it, reading a whole collection a page at a time, and dropping the
clients chromadb caches per folder.

Only the store package imports chromadb; `Store` (index.py) opens its collections through these helpers.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import IndexProblem
from .guard import server_unreachable

# Chroma logs every collection it opens at INFO; the other chatty libraries are quieted in logs.py.
logging.getLogger("chromadb").setLevel(logging.WARNING)


def get_all(collection: Any, include: list[str], page: int = 5000) -> dict[str, list]:
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


def chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def http_client(settings: Settings):
    """A client on the Chroma server at `settings.chroma_url`, checked with a heartbeat."""
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
                                     ssl=url.scheme == "https", headers=headers, settings=chroma_settings())
        client.heartbeat()
        return client
    except Exception as e:  # noqa: BLE001 - connection errors come in many types (chromadb: a ValueError)
        problem = server_unreachable(settings.chroma_url or "", e)
        raise problem from problem.__cause__  # the StoreUnavailable (its own cause: e) that `doctor` reports


def persistent_client(index_dir: Path):
    """A client on the local index folder (created if missing)."""
    import chromadb

    index_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(index_dir), settings=chroma_settings())


def forget_clients() -> None:
    """chromadb caches one client per folder in a process; drop them so a rebuilt folder is opened afresh."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # noqa: BLE001 - a chromadb without the cache
        pass


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
