"""Keyword retrieval: BM25 (bm25s) over every sentence of the complete articles in the store.

The index is rebuilt when the store's revision changes. It also knows each article's words (`stats`), each
sentence's neighbours, and the dictionary translation of an English question into the collection's Chinese words.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

import numpy as np

from ..dictionary import translations
from ..language import is_cjk, tokenize
from ..store import Store
from .candidates import EMPTY_CORPUS, Candidate, CorpusStats


class BM25Retriever:
    """BM25 top-k sentences, each scored `bm25` (or `bm25_translated` for a translated question)."""

    def __init__(self, store: Store, top_k: int) -> None:
        self.store, self.top_k = store, top_k
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._bm25: Any = None
        self._records: list[tuple[str, str, dict]] = []
        self._vocab: set[str] = set()
        self.has_chinese = False  # some indexed sentence has Chinese words (English questions are then translated)
        self._complete: dict[str, str] = {}
        self._stats: CorpusStats = EMPTY_CORPUS
        self._source_index: dict[str, list[int]] = {}  # article -> its sentences' record numbers, in order
        self._position: dict[str, tuple[str, int]] = {}  # sentence id -> (article, place in it)

    def refresh(self, force: bool = False) -> str:
        """Rebuild the index if the store changed since the last refresh; the store revision now searched."""
        rev = self.store.revision()
        if not force and rev == self._revision:
            return rev
        with self._lock:
            if not force and rev == self._revision:
                return rev
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets itself to DEBUG on import
            ids, docs, metas = self.store.all_sentences()
            # Only sentences of complete articles (an interrupted ingest's leftovers are invisible).
            complete = {s: a.content_hash for s, a in self.store.list_articles().items()}
            records = [(i, d, m or {}) for i, d, m in zip(ids, docs, metas)
                       if complete.get((m or {}).get("source")) == (m or {}).get("content_hash")]
            corpus = [tokenize(d) or ["\u2205"] for _, d, _ in records]
            bm25 = None
            if records:
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            by_source: dict[str, set[str]] = {}
            index_of: dict[str, list[int]] = {}
            for k, ((_, _, meta), toks) in enumerate(zip(records, corpus)):
                by_source.setdefault(str(meta.get("source")), set()).update(toks)
                index_of.setdefault(str(meta.get("source")), []).append(k)
            for ks in index_of.values():  # in reading order
                ks.sort(key=lambda k: int(records[k][2].get("start", 0)))
            position = {records[k][0]: (s, j) for s, ks in index_of.items() for j, k in enumerate(ks)}
            stats = CorpusStats(by_source, dict(Counter(t for toks in by_source.values() for t in toks)))
            vocab = set(bm25.vocab_dict) if bm25 is not None else set()
            # built first and assigned together, so a concurrent question rarely sees a mix of old and new
            (self._bm25, self._records, self._vocab, self._stats, self._complete, self._source_index,
             self._position) = (bm25, records, vocab, stats, complete, index_of, position)
            self.has_chinese = any(is_cjk(t) for t in vocab)
            self._revision = rev
            return rev

    @property
    def stats(self) -> CorpusStats:
        """Words per article and article frequencies, as of the last `refresh`."""
        return self._stats

    def vocabulary(self) -> set[str]:
        """Every BM25 token (as of the last `refresh`)."""
        return self._vocab

    def is_complete(self, candidate: Candidate) -> bool:
        """True if the sentence belongs to the current version of a fully ingested article."""
        return self._complete.get(candidate.source) == candidate.content_hash

    def translate(self, question: str, per_word: int = 3) -> list[str]:
        """BM25 tokens for an English question over Chinese sentences: per word, the dictionary translations
        that most articles use (common senses first), `per_word` of them. Empty if no article is Chinese."""
        if not self.has_chinese:
            return []
        out: list[str] = []
        for options in translations(question):
            known = sorted((z for z in options if z in self._vocab), key=lambda z: -self._stats.article_frequency(z))
            out += known[:per_word]
        return out

    def neighbours(self, sentence_id: str) -> str:
        """The texts of the sentences before and after one sentence in its article, joined ('' if none)."""
        if sentence_id not in self._position:
            return ""
        source, j = self._position[sentence_id]
        ks = self._source_index[source]
        before = self._records[ks[j - 1]][1] if j > 0 else ""
        after = self._records[ks[j + 1]][1] if j + 1 < len(ks) else ""
        return f"{before} {after}".strip()

    def retrieve(self, query: str, sources: list[str] | None = None) -> list[Candidate]:
        """Top sentences by BM25, optionally only among the given articles' sentences."""
        self.refresh()
        return self.search(tokenize(query), sources)

    def search(self, tokens: list[str], sources: list[str] | None = None, key: str = "bm25") -> list[Candidate]:
        """`retrieve` with the query already tokenised and no revision check; the score goes to `scores.<key>`."""
        bm25, records = self._bm25, self._records
        if bm25 is None or not tokens:
            return []
        mask = None
        if sources is not None:  # bm25s multiplies by the mask: other articles' sentences score 0 and are dropped
            allowed = [i for s in sources for i in self._source_index.get(s, [])]
            if not allowed:
                return []
            mask = np.zeros(len(records), dtype=np.float32)
            mask[allowed] = 1.0
        scores = bm25.get_scores(tokens, weight_mask=mask)
        k = min(self.top_k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        out = []
        for i in top:
            if scores[i] <= 0:
                break
            node_id, text, meta = records[i]
            c = Candidate.from_record(node_id, text, meta)
            setattr(c.scores, key, float(scores[i]))
            out.append(c)
        return out
