"""Answers kept for the index revision they were made on. The same question, with the same article filter, on an
unchanged index gets the same extractive answer, so it is looked up instead of searched and reranked again. An
ingest, a delete or a metadata refresh moves the revision, which retires every kept answer at once."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence

from cachetools import LRUCache

from .answer.types import Answer

Key = tuple[str, tuple[str, ...] | None]


class AnswerCache:
    """At most `size` answers of one store revision; thread-safe. Callers get copies, never the kept answer."""

    def __init__(self, size: int) -> None:
        self._answers: LRUCache[Key, Answer] = LRUCache(maxsize=max(size, 1))
        self._revision = ""
        self._lock = threading.Lock()
        self._computing = [threading.Lock() for _ in range(64)]  # striped: bounded, rarely shared by two questions
        self.hits = self.misses = 0

    @staticmethod
    def _key(question: str, sources: Sequence[str] | None) -> Key:
        return question, (tuple(sorted(sources)) if sources is not None else None)

    def computing(self, question: str, sources: Sequence[str] | None) -> threading.Lock:
        """The lock to hold while looking up and, on a miss, answering this question."""
        return self._computing[hash(self._key(question, sources)) % len(self._computing)]

    def get(self, revision: str, question: str, sources: Sequence[str] | None) -> Answer | None:
        with self._lock:
            kept = self._answers.get(self._key(question, sources)) if revision == self._revision else None
            self.hits, self.misses = self.hits + (kept is not None), self.misses + (kept is None)
        return copy.deepcopy(kept) if kept is not None else None

    def put(self, revision: str, question: str, sources: Sequence[str] | None, answer: Answer) -> None:
        if not revision:
            return
        kept = copy.deepcopy(answer)
        with self._lock:
            if revision != self._revision:  # the index moved: nothing kept is valid any more
                self._answers.clear()
                self._revision = revision
            self._answers[self._key(question, sources)] = kept
