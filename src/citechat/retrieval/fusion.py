"""Fusion: several ranked candidate lists into one, by reciprocal rank (RRF).

llama-index keeps its RRF private inside `QueryFusionRetriever` and over `NodeWithScore`; this is the same
formula (Cormack et al. 2009) over typed candidates, merging each sentence's scores from every list.
"""

from __future__ import annotations

from collections.abc import Iterable

from .candidates import Candidate


def reciprocal_rank_fusion(ranked_lists: Iterable[list[Candidate]], k: int = 60) -> list[Candidate]:
    """One list, best first: each candidate scores sum(1 / (k + rank)) over the lists it is in (`scores.fused`)."""
    fused: dict[str, Candidate] = {}
    for ranked in ranked_lists:
        for rank, c in enumerate(ranked):
            cur = fused.setdefault(c.id, c)
            if cur is not c:
                cur.scores.merge(c.scores)
            cur.scores.fused += 1.0 / (k + rank + 1)
    return sorted(fused.values(), key=lambda c: -c.scores.fused)
