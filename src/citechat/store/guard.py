"""Store outages: every call `Store` makes to a Chroma collection goes through `GuardedCollection`, which retries
a refused connection briefly and then raises `StoreUnavailable` (a plain-words error every surface can show)
instead of the HTTP client's own exception. Nothing here opens a connection: `Store` (index.py) hands in the
collections.

The HTTP client reconnects by itself on its next request, so once the server is back the next call succeeds.

A local index folder on a full disk: a write is refused (`IndexFull`) when the folder's file system lacks the room
it needs, before Chroma starts it - Chroma (1.5) can otherwise block for many minutes on a failed SQLite write -,
and a write that fails anyway with ENOSPC/EDQUOT or SQLite's "database or disk is full" becomes `IndexFull` too.
"""

from __future__ import annotations

import errno
import functools
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import IndexFull, IndexProblem, StoreUnavailable

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.2, 0.4)  # seconds between the tries of one call: 3 tries, then fail fast


def _outage_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(errors worth a retry: the request never reached the server, errors meaning the server is gone)."""
    try:
        import httpx
    except ImportError:  # no HTTP client: only plain connection errors can happen
        return (ConnectionRefusedError,), (ConnectionError, TimeoutError)
    retry = (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError)
    return retry, (httpx.TransportError, ConnectionError, TimeoutError)


RETRY_ON, OUTAGE = _outage_types()


def call_guarded(fn: Callable[..., Any], location: str, remote: bool, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs), retried on a refused connection, with an outage turned into StoreUnavailable."""
    for attempt in range(len(RETRY_DELAYS) + 1):
        try:
            return fn(*args, **kwargs)
        except RETRY_ON as e:
            if attempt == len(RETRY_DELAYS):
                raise StoreUnavailable(location, remote) from e
            log.info("index server at %s refused (%s); retrying", location, type(e).__name__)
            time.sleep(RETRY_DELAYS[attempt])
        except OUTAGE as e:  # a timeout or a dropped connection: the request may have run, so no retry
            raise StoreUnavailable(location, remote) from e
    raise AssertionError("unreachable")


# --- a full disk (local index folders) -------------------------------------------------------------------

SPACE_MARGIN = 2 << 20  # bytes left free after a write: SQLite's journal and the HNSW files grow in steps
WRITES = ("add", "upsert", "update")
FULL_TEXTS = ("database or disk is full", "no space left on device", "disk quota exceeded")


def free_bytes(folder: str | Path) -> int | None:
    """Free bytes on the file system holding `folder` (or its nearest existing parent); None if unknown."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def write_bytes(records: int, dim: int, text_bytes: int = 0) -> int:
    """A generous estimate of the disk space a write of `records` takes: each embedding is stored about three
    times (write log, metadata segment, vector index; HNSW files grow in steps), texts about twice, plus ~2 KB
    of fields per record (measured: ~6 KB per 512-dimension sentence)."""
    return records * (16 * dim + 2048) + 2 * text_bytes


def _write_estimate(kwargs: dict[str, Any]) -> int:
    embs = kwargs.get("embeddings")
    records = len(kwargs.get("ids") or [])
    dim = len(embs[0]) if embs is not None and len(embs) else 0
    texts = sum(len(str(t).encode()) for t in (kwargs.get("documents") or []))
    return write_bytes(records, dim, texts + len(str(kwargs.get("metadatas") or "")))


def check_space(folder: str, need: int) -> None:
    """Raise IndexFull if the folder's file system has less than `need` bytes (plus the margin) free."""
    free = free_bytes(folder)
    if free is not None and free < need + SPACE_MARGIN:
        log.info("index folder %s: %d bytes free, a write needs ~%d", folder, free, need + SPACE_MARGIN)
        raise IndexFull(folder)


def _chain(error: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    e: BaseException | None = error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def disk_full_reason(error: BaseException, folder: str | None = None) -> str | None:
    """Why `error` means a full disk ("No space left on device", "Disk quota exceeded"), or None. Chroma's own
    errors don't always say ("Failed to apply logs to the metadata segment"), so with `folder` a failed write
    on a file system with (almost) nothing free counts too."""
    for e in _chain(error):
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return "Disk quota exceeded" if e.errno == errno.EDQUOT else "No space left on device"
        text = str(e).lower()
        if any(t in text for t in FULL_TEXTS):
            return "Disk quota exceeded" if "quota" in text else "No space left on device"
    free = free_bytes(folder) if folder else None
    return "No space left on device" if free is not None and free < SPACE_MARGIN // 4 else None


class GuardedCollection:
    """A Chroma collection whose methods go through `call_guarded` (and, for a local folder, the disk space
    checks); attributes (name, metadata) pass through."""

    def __init__(self, collection: Any, location: str, remote: bool) -> None:
        self._wrapped = collection
        self._location, self._remote = location, remote

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._wrapped, name)
        if not callable(value):
            return value
        if self._remote:
            return functools.partial(call_guarded, value, self._location, True)
        return functools.partial(self._local_call, name, value)

    def _local_call(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if name in WRITES:
            check_space(self._location, _write_estimate(kwargs))
        try:
            return call_guarded(fn, self._location, False, *args, **kwargs)
        except IndexFull:
            raise
        except Exception as e:
            reason = disk_full_reason(e, self._location) if name in (*WRITES, "delete") else None
            if reason:
                raise IndexFull(self._location, reason) from e
            raise


def server_unreachable(url: str, error: BaseException) -> IndexProblem:
    """The error for a server that doesn't answer when the store is opened: an IndexProblem (nothing can be done
    without the index) whose cause is the StoreUnavailable `citechat doctor` reports."""
    down = StoreUnavailable(url)
    down.__cause__ = error
    problem = IndexProblem(
        f"Cannot reach the Chroma server at {url} ({type(error).__name__}: {str(error)[:120]}). Start one with "
        "`chroma run --path index --port 8000`, or unset CITECHAT_CHROMA_URL to use the local index folder.")
    problem.__cause__ = down
    return problem
