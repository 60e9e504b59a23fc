"""One lazy-load pattern for every model (haystack's `warm_up()`): the first call loads, under a lock, however
many threads ask at once; later calls return at once."""

from __future__ import annotations

import threading


class WarmUp:
    """Subclasses call `super().__init__()` and implement `_load()`; `warm_up()` runs it once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = False

    @property
    def ready(self) -> bool:
        return self._ready

    def warm_up(self) -> None:
        """Load the model (once; idempotent and thread-safe)."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                self._load()
                self._ready = True

    def _load(self) -> None:
        """Load the model's files; raise ModelLoadError saying what to do when they are missing."""
        return None
