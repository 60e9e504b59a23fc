"""Store outages: every call `Store` makes to a Chroma collection goes through `GuardedCollection`, which retries
a refused connection briefly and then raises `StoreUnavailable` (a plain-words error every surface can show)
instead of the HTTP client's own exception. Nothing here opens a connection: store.py hands in the collections.

The HTTP client reconnects by itself on its next request, so once the server is back the next call succeeds.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable

from .errors import IndexProblem, StoreUnavailable

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


class GuardedCollection:
    """A Chroma collection whose methods go through `call_guarded`; attributes (name, metadata) pass through."""

    def __init__(self, collection: Any, location: str, remote: bool) -> None:
        self._wrapped = collection
        self._location, self._remote = location, remote

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._wrapped, name)
        if not callable(value):
            return value
        return functools.partial(call_guarded, value, self._location, self._remote)


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
