"""Incremental ingest against a real Chroma folder with the real default embedder."""

import shutil
import numpy as np
import pytest
from pathlib import Path

from citechat.ingest.indexing import Indexer
from citechat.ingest.loading import content_hash

from conftest import ARTICLES


def _copy_articles(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in ARTICLES.iterdir():
        shutil.copy2(f, dst / f.name)
    return dst


def _sentence_counts(engine) -> dict[str, int]:
    got = engine.store.sentences.get(include=["metadatas"])
    counts: dict[str, int] = {}
    for m in got["metadatas"]:
        counts[m["source"]] = counts.get(m["source"], 0) + 1
    return counts


def test_content_hash_is_stable_and_sensitive():
    assert content_hash("abc") == content_hash("abc")
    assert content_hash("abc") != content_hash("abd")


def test_incremental_ingest(make_engine, tmp_path):
    data = _copy_articles(tmp_path / "articles")
    engine = make_engine(data_dir=data)

    first = engine.ingest(progress=False)
    assert sorted(first.added) == sorted(p.name for p in data.iterdir())
    counts = _sentence_counts(engine)
    stored = engine.store.list_articles()
    assert set(counts) == set(stored)
    assert all(counts[s] == stored[s].sentences for s in stored)

    # Unchanged: no embedding work at all.
    calls = engine.embedder.calls
    again = engine.ingest(progress=False)
    assert again.added == again.updated == again.removed == []
    assert len(again.unchanged) == 5
    assert engine.embedder.calls == calls
    assert _sentence_counts(engine) == counts

    # Changed: old sentences replaced, no duplicates.
    target = data / "003_f440de96462a1fc9.txt"
    target.write_text(target.read_text(encoding="utf-8") + "\n\nThe zebra parade drew 4,321 visitors.", encoding="utf-8")
    changed = engine.ingest(progress=False)
    assert changed.updated == [target.name]
    new_counts = _sentence_counts(engine)
    assert new_counts[target.name] == counts[target.name] + 1
    all_ids, all_texts, all_metas = engine.store.all_sentences()
    mine = [(i, t, m) for i, t, m in zip(all_ids, all_texts, all_metas) if m["source"] == target.name]
    ids = [i for i, _, _ in mine]
    texts = [t for _, t, _ in mine]
    spans = [(m["start"], m["end"]) for _, _, m in mine]
    # all_sentences() only returns rows of the article's current version, so this count matching the raw store
    # count means no stale rows of the old version were left behind.
    assert len(texts) == new_counts[target.name]
    assert len(ids) == len(set(ids))
    assert len(spans) == len(set(spans))
    assert len(texts) == len(set(texts))  # the article has no repeated sentences, so a repeat is a duplicate
    assert texts.count("The zebra parade drew 4,321 visitors.") == 1

    # Removed: its sentences and record disappear; others stay.
    target.unlink()
    removed = engine.ingest(progress=False)
    assert removed.removed == [target.name]
    assert target.name not in _sentence_counts(engine)
    assert target.name not in engine.store.list_articles()
    assert len(engine.store.list_articles()) == 4


def test_ingest_refreshes_stale_metadata_without_re_embedding(make_engine, tmp_path):
    """An index written by older metadata rules (same cleaned text, other title/outlet/date) gets the new
    metadata on the next ingest: only the article records are rewritten, nothing is embedded again."""
    data = _copy_articles(tmp_path / "articles")
    engine = make_engine(data_dir=data)
    engine.ingest(progress=False)
    source = "004_cdb4b5fdbd235da2.txt"
    fresh = engine.read_articles([source], text=False)[source].meta
    assert fresh["date"] == "2022-02-08" and fresh["outlet"] == "Bincheng Times"
    old = {**fresh, "date": "", "outlet": "", "metadata_version": 1}
    old.pop("date_at")
    engine.store.articles.update(ids=[source], metadatas=[old])  # what the older rules stored
    counts, calls, revision = _sentence_counts(engine), engine.embedder.calls, engine.store.revision()

    report = engine.ingest(progress=False)
    assert report.refreshed == [source] and report.updated == report.added == []
    assert len(report.unchanged) == 5 and "1 with new metadata" in report.summary()
    assert engine.embedder.calls == calls and _sentence_counts(engine) == counts
    stored = engine.read_articles([source], text=False)[source].meta
    assert (stored["date"], stored["outlet"], stored["date_at"]) == ("2022-02-08", "Bincheng Times", fresh["date_at"])
    assert stored["sentences"] == fresh["sentences"] and stored["content_hash"] == fresh["content_hash"]
    assert engine.store.revision() != revision  # other processes see the change
    assert engine.store.list_articles()[source].date == "2022-02-08"

    again = engine.ingest(progress=False)
    assert again.refreshed == [] and not again.changed


def test_ingesting_a_single_file_does_not_remove_others(make_engine, tmp_path):
    data = _copy_articles(tmp_path / "articles")
    engine = make_engine(data_dir=data)
    engine.ingest(progress=False)
    extra = tmp_path / "elsewhere" / "note.txt"
    extra.parent.mkdir()
    extra.write_text("A note about the harbour ferry.\n\nIt sails at noon.", encoding="utf-8")
    rep = engine.ingest([extra], progress=False)
    assert rep.added == ["note.txt"] and rep.removed == []
    assert len(engine.store.list_articles()) == 6


def test_leftovers_of_an_interrupted_ingest_are_removed(make_engine, tmp_path):
    data = _copy_articles(tmp_path / "articles")
    engine = make_engine(data_dir=data)
    engine.ingest(progress=False)
    before = _sentence_counts(engine)
    # Reproduce the state a crash leaves between "sentences written" and "article record written".
    indexer = Indexer(engine.settings, engine.store, engine.embedder)
    engine.store.articles.delete(ids=["000_9b7823553ab23a10.txt"])
    assert "000_9b7823553ab23a10.txt" in _sentence_counts(engine)
    report = engine.ingest(progress=False)
    assert report.added == ["000_9b7823553ab23a10.txt"]
    assert _sentence_counts(engine) == before
    assert indexer.remove_leftovers() == []


def test_remove_article(make_engine, tmp_path):
    data = _copy_articles(tmp_path / "articles")
    engine = make_engine(data_dir=data)
    engine.ingest(progress=False)
    assert engine.remove("001_a87b5d3a02c24cc1.txt") is True
    assert engine.remove("001_a87b5d3a02c24cc1.txt") is False
    assert "001_a87b5d3a02c24cc1.txt" not in _sentence_counts(engine)
    assert (data / "001_a87b5d3a02c24cc1.txt").exists()  # the file itself is never touched


def test_worker_processes_embed_like_the_main_process(embedder):
    """Large ingests embed in forked worker processes; the vectors must match in-process embedding."""
    from citechat.embedding import PARALLEL_MIN_TEXTS

    texts = [f"Sentence {i}: the ferry to island {i % 17} left at {i % 12 + 1} o'clock." for i in range(PARALLEL_MIN_TEXTS + 40)]
    texts[3] = "濟南市圖書館的館長是王麗華。"
    here = embedder.embed_many(texts, workers=0)
    calls = embedder.calls
    try:
        forked = embedder.embed_many(texts, workers=2)
        assert embedder._pool is not None, "the worker path was not taken"
    finally:
        embedder.close_workers()
    assert embedder.calls == calls + 1
    assert forked.shape == here.shape
    assert float(np.min(np.sum(forked * here, axis=1))) > 0.9999


def test_large_ingest_through_workers_is_complete(make_engine, tmp_path):
    """An ingest big enough for the worker path stores every sentence once, with the article's exact text."""
    from scale import write_corpus

    data = tmp_path / "many"
    write_corpus(data, 1200, exclude=[], seed=5)
    engine = make_engine(data_dir=data)
    engine.settings.embed_workers = 2
    report = engine.ingest(progress=False)
    arts = engine.store.list_articles()
    assert sorted(report.added) == sorted(arts) and len(arts) == len(list(data.glob("*.txt")))
    ids, texts, metas = engine.store.all_sentences()
    assert len(ids) == len(set(ids)) == sum(a.sentences for a in arts.values()) >= 1200
    for t, m in list(zip(texts, metas))[::97]:
        assert t and t == engine.read_articles([m["source"]])[m["source"]].text[m["start"]: m["end"]]
    # Dense search finds a sentence by its own text.
    probe_text = texts[len(texts) // 2]
    hits = engine.retriever.dense.retrieve(probe_text)
    assert any(h.text == probe_text for h in hits[:3])


@pytest.mark.slow
def test_a_killed_embedding_worker_loses_nothing(embedder, caplog):
    """A worker process killed mid-batch (as the OOM killer would) is real here: SIGKILL from the test.
    The batch is embedded again in this process, with the same vectors."""
    import os
    import signal
    import threading

    from citechat.embedding import PARALLEL_MIN_TEXTS

    texts = [f"Report {i}: the harbour crane {i % 23} lifted {i * 7} containers on Tuesday." for i in range(PARALLEL_MIN_TEXTS * 6)]
    expected = embedder.embed_many(texts, workers=0)
    pool = embedder._workers(2)
    pool.submit(int, 0).result()  # workers are up
    victim = next(iter(pool._processes))
    threading.Timer(0.3, os.kill, (victim, signal.SIGKILL)).start()
    try:
        got = embedder.embed_many(texts, workers=2)
    finally:
        embedder.close_workers()
    assert got.shape == expected.shape
    assert float(np.min(np.sum(got * expected, axis=1))) > 0.9999
    assert "worker process died" in caplog.text, "the kill did not land mid-batch"
