"""Dense retrieval: the sentences nearest the question's embedding (`Store.nearest`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..embedding import Embedder
from ..store import Store
from .candidates import Candidate


@dataclass
class Query:
    """One search: the question's text, its embedding, and optionally the only articles to search."""

    text: str
    embedding: np.ndarray | None = None
    sources: list[str] | None = field(default=None)


class DenseRetriever:
    """Nearest sentences by cosine, each scored `dense`."""

    def __init__(self, store: Store, embedder: Embedder, top_k: int) -> None:
        self.store, self.embedder, self.top_k = store, embedder, top_k

    def embed(self, text: str) -> np.ndarray:
        return self.embedder.embed_query(text)

    def retrieve(self, query: Query | str) -> list[Candidate]:
        query = Query(query) if isinstance(query, str) else query
        qvec = query.embedding if query.embedding is not None else self.embed(query.text)
        if self.store.count() == 0:
            return []
        out = []
        for s in self.store.nearest(qvec, self.top_k, query.sources):
            c = Candidate.from_record(s.id, s.text, s.metadata)
            c.scores.dense = s.similarity
            out.append(c)
        return out

    def fill_scores(self, candidates: list[Candidate], qvec: np.ndarray) -> None:
        """Dense scores for candidates that only keyword search found (cross-language decisions need them)."""
        missing = {c.id: c for c in candidates if c.scores.dense is None}
        if missing:
            for nid, emb in self.store.sentence_embeddings(list(missing)).items():
                missing[nid].scores.dense = float(np.dot(emb, qvec))
