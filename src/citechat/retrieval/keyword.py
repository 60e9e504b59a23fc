"""Keyword retrieval: BM25 (bm25s) over every sentence of the complete articles in the store.

The index is rebuilt when the store's revision changes, into a new immutable `KeywordIndex` that replaces the old
one in a single assignment: a question that holds one (`snapshot()`) reads one whole revision, never a mix. It also
knows each article's words (`stats`), each sentence's neighbours, and the dictionary translation of an English
question into the collection's Chinese words.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dictionary import translations
from ..language import is_cjk, tokenize
from ..store import Store
from .candidates import EMPTY_CORPUS, Candidate, CorpusStats


@dataclass(frozen=True)
class KeywordIndex:
    """One revision of the keyword index. Never changed after it is built; a refresh builds a new one."""

    revision: str | None = None
    bm25: Any = None
    records: tuple[tuple[str, str, dict], ...] = ()  # (sentence id, text, metadata), in BM25 order
    vocab: frozenset[str] = frozenset()
    complete: dict[str, str] = field(default_factory=dict)  # article -> content hash of its complete version
    stats: CorpusStats = EMPTY_CORPUS
    source_index: dict[str, list[int]] = field(default_factory=dict)  # article -> its record numbers, in order
    position: dict[str, tuple[str, int]] = field(default_factory=dict)  # sentence id -> (article, place in it)
    has_chinese: bool = False  # some sentence has Chinese words (English questions are then translated)

    @classmethod
    def build(cls, store: Store, revision: str) -> KeywordIndex:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG on import
        ids, docs, metas = store.all_sentences()
        # Only sentences of complete articles (an interrupted ingest's leftovers are invisible).
        complete = {s: a.content_hash for s, a in store.list_articles().items()}

        def current(m: dict[str, Any]) -> bool:  # the sentence belongs to its article's complete version
            source = m.get("source")
            return (complete.get(source) if isinstance(source, str) else None) == m.get("content_hash")

        records = tuple((i, d, m or {}) for i, d, m in zip(ids, docs, metas, strict=True) if current(m or {}))
        corpus = [tokenize(d) or ["\u2205"] for _, d, _ in records]
        bm25 = None
        if records:
            bm25 = bm25s.BM25()
            bm25.index(corpus, show_progress=False)
        by_source: dict[str, set[str]] = {}
        index_of: dict[str, list[int]] = {}
        for k, ((_, _, meta), toks) in enumerate(zip(records, corpus, strict=True)):
            by_source.setdefault(str(meta.get("source")), set()).update(toks)
            index_of.setdefault(str(meta.get("source")), []).append(k)
        for ks in index_of.values():  # in reading order
            ks.sort(key=lambda k: int(records[k][2].get("start", 0)))
        position = {records[k][0]: (s, j) for s, ks in index_of.items() for j, k in enumerate(ks)}
        stats = CorpusStats(by_source, dict(Counter(t for toks in by_source.values() for t in toks)))
        vocab = frozenset(bm25.vocab_dict) if bm25 is not None else frozenset()
        return cls(revision, bm25, records, vocab, complete, stats, index_of, position,
                   any(is_cjk(t) for t in vocab))

    def is_complete(self, candidate: Candidate) -> bool:
        """True if the sentence belongs to the current version of a fully ingested article."""
        return self.complete.get(candidate.source) == candidate.content_hash

    def translate(self, question: str, per_word: int = 3) -> list[str]:
        """BM25 tokens for an English question over Chinese sentences: per word, the dictionary translations
        that most articles use (common senses first), `per_word` of them. Empty if no article is Chinese."""
        if not self.has_chinese:
            return []
        out: list[str] = []
        for options in translations(question):
            known = sorted((z for z in options if z in self.vocab), key=lambda z: -self.stats.article_frequency(z))
            out += known[:per_word]
        return out

    def neighbours(self, sentence_id: str) -> str:
        """The texts of the sentences before and after one sentence in its article, joined ('' if none)."""
        if sentence_id not in self.position:
            return ""
        source, j = self.position[sentence_id]
        ks = self.source_index[source]
        before = self.records[ks[j - 1]][1] if j > 0 else ""
        after = self.records[ks[j + 1]][1] if j + 1 < len(ks) else ""
        return f"{before} {after}".strip()

    def search(self, tokens: list[str], top_k: int, sources: list[str] | None = None,
               key: str = "bm25") -> list[Candidate]:
        """The `top_k` sentences by BM25 for tokenised words, optionally only among the given articles'; the
        score goes to `scores.<key>`."""
        if self.bm25 is None or not tokens:
            return []
        mask = None
        if sources is not None:  # bm25s multiplies by the mask: other articles' sentences score 0 and are dropped
            allowed = [i for s in sources for i in self.source_index.get(s, [])]
            if not allowed:
                return []
            mask = np.zeros(len(self.records), dtype=np.float32)
            mask[allowed] = 1.0
        scores = self.bm25.get_scores(tokens, weight_mask=mask)
        k = min(top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        out = []
        for i in top:
            if scores[i] <= 0:
                break
            node_id, text, meta = self.records[i]
            c = Candidate.from_record(node_id, text, meta)
            setattr(c.scores, key, float(scores[i]))
            out.append(c)
        return out


class BM25Retriever:
    """BM25 top-k sentences, each scored `bm25` (or `bm25_translated` for a translated question).

    Every read goes through the current `KeywordIndex`; a question that must see one revision throughout takes
    `snapshot()` once and asks it."""

    def __init__(self, store: Store, top_k: int) -> None:
        self.store, self.top_k = store, top_k
        self._lock = threading.Lock()
        self._index = KeywordIndex()

    def refresh(self, force: bool = False) -> str:
        """Rebuild the index if the store changed since the last refresh; the store revision now searched."""
        return self.snapshot(force).revision or ""

    def snapshot(self, force: bool = False) -> KeywordIndex:
        """The index of the store's current revision (rebuilt first if the store moved)."""
        rev = self.store.revision()
        index = self._index
        if not force and rev == index.revision:
            return index
        with self._lock:
            if force or rev != self._index.revision:
                self._index = KeywordIndex.build(self.store, rev)  # the one swap
            return self._index

    @property
    def has_chinese(self) -> bool:
        return self._index.has_chinese

    @property
    def stats(self) -> CorpusStats:
        """Words per article and article frequencies, as of the last `refresh`."""
        return self._index.stats

    def vocabulary(self) -> frozenset[str]:
        """Every BM25 token (as of the last `refresh`)."""
        return self._index.vocab

    def is_complete(self, candidate: Candidate) -> bool:
        return self._index.is_complete(candidate)

    def translate(self, question: str, per_word: int = 3) -> list[str]:
        return self._index.translate(question, per_word)

    def neighbours(self, sentence_id: str) -> str:
        return self._index.neighbours(sentence_id)

    def retrieve(self, query: str, sources: list[str] | None = None) -> list[Candidate]:
        """Top sentences by BM25, optionally only among the given articles' sentences."""
        return self.snapshot().search(tokenize(query), self.top_k, sources)

    def search(self, tokens: list[str], sources: list[str] | None = None, key: str = "bm25") -> list[Candidate]:
        """`retrieve` with the query already tokenised and no revision check; the score goes to `scores.<key>`."""
        return self._index.search(tokens, self.top_k, sources, key)
