"""The crash-safety invariants of an index, shared by the crash and full-disk tests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from citechat.engine import Engine


def check_consistent(engine: Engine, data: Path, complete: bool = True) -> dict:
    """Every stored sentence belongs to its article's current version, each article has exactly the sentences its
    record counts, and BM25 agrees with the vector store. `complete`: every article file is indexed (else: the
    indexed articles are some of the files). Returns the stored articles."""
    files = sorted(p.name for p in data.rglob("*.txt"))
    arts = engine.store.list_articles()
    if complete:
        assert sorted(arts) == files, "every article present exactly once"
    else:
        assert set(arts) <= set(files), "only articles from the folder"
    got = engine.store.sentences.get(include=["metadatas"])
    assert len(got["ids"]) == len(set(got["ids"]))
    per_source = Counter(m["source"] for m in got["metadatas"])
    for src, art in arts.items():
        assert per_source[src] == art.sentences, f"{src}: {per_source[src]} sentences stored, {art.sentences} expected"
    for m in got["metadatas"]:
        assert m["source"] in arts and m["content_hash"] == arts[m["source"]].content_hash, "no chunk without its article"
    bm25 = engine.retriever.keyword
    bm25.refresh(force=True)
    assert {r[0] for r in bm25.snapshot().records} == set(got["ids"]), "BM25 and vector state agree"
    return arts
