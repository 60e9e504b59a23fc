"""The store (store/index.py, store/sentences.py) against a real Chroma folder, with a tiny hash embedder: no model is
loaded, so these run in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citechat.ingest.chunking import split_sentences
from citechat.errors import IndexOutdated, IndexProblem
from citechat.ingest.indexing import Indexer
from citechat.ingest.loading import load_article
from citechat.store import Store, StoredSentence

from conftest import WordHashEmbedder, local_only, make_settings



HARBOUR = ("Harbour ferry returns\n\n"
           "The harbour ferry returned to service on Monday. Mr. Lee said 3.5 million people ride it each year.\n\n"
           "Tickets cost two dollars.At the pier, crowds waited. The next sailing is at noon.")
MARKET = "Night market opens\n\nThe night market opened on Friday. It has forty stalls."


@pytest.fixture
def setup(tmp_path):
    """(settings, store, indexer, data folder) over a fresh index folder."""
    data = tmp_path / "articles"
    data.mkdir()
    (data / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (data / "market.txt").write_text(MARKET, encoding="utf-8")
    settings = make_settings(data_dir=data, index_dir=tmp_path / "index")
    embedder = WordHashEmbedder()
    store = Store(settings, embedder.name)
    return settings, store, Indexer(settings, store, embedder, workers=0), data


def _expected_sentences(path: Path) -> list[str]:
    text = load_article(path).text
    return [text[s.start: s.end] for s in split_sentences(text)]


def test_ingested_sentences_read_back(setup):
    _, store, indexer, data = setup
    report = indexer.ingest([data], progress=False)
    assert sorted(report.added) == ["harbour.txt", "market.txt"]
    expected = _expected_sentences(data / "harbour.txt")
    assert "Tickets cost two dollars." in expected and "Mr. Lee said 3.5 million people ride it each year." in expected

    arts = store.list_articles()
    assert sorted(arts) == ["harbour.txt", "market.txt"]
    harbour = load_article(data / "harbour.txt")
    assert arts["harbour.txt"].sentences == len(expected)
    assert arts["harbour.txt"].content_hash == harbour.content_hash
    assert arts["harbour.txt"].title == "Harbour ferry returns"
    assert arts["harbour.txt"].path == str(data / "harbour.txt")

    ids, texts, metas = store.all_sentences()
    mine = sorted((m["sentence"], t) for t, m in zip(texts, metas) if m["source"] == "harbour.txt")
    assert [t for _, t in mine] == expected
    assert len(ids) == len(set(ids)) == len(expected) + len(_expected_sentences(data / "market.txt"))
    assert store.count() == len(ids)

    of = sorted(store.sentences_of("harbour.txt"), key=lambda m: m["sentence"])
    assert [harbour.text[m["start"]: m["end"]] for m in of] == expected
    assert all(m["content_hash"] == harbour.content_hash for m in of)
    assert [m["chunk"] for m in of] == sorted(m["chunk"] for m in of)
    assert store.sentences_of("no-such.txt") == []


def test_article_records(setup):
    _, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    harbour = load_article(data / "harbour.txt")
    got = store.read_articles(["harbour.txt"])
    assert list(got) == ["harbour.txt"] and got["harbour.txt"].text == harbour.text
    art = got["harbour.txt"]
    assert art.title == "Harbour ferry returns" and art.content_hash == harbour.content_hash
    assert art.meta["title"] == art.title and art.meta["content_hash"] == harbour.content_hash
    assert store.read_articles(["no-such.txt"]) == {}
    got = store.read_articles(["market.txt", "no-such.txt"], text=False)
    assert list(got) == ["market.txt"] and got["market.txt"].title == "Night market opens"
    assert got["market.txt"].text == ""  # not read
    assert store.read_articles([]) == {}
    both = store.read_articles(["market.txt", "harbour.txt", "market.txt"])  # duplicates are fine; asked-for order
    assert list(both) == ["market.txt", "harbour.txt"] and both["market.txt"].text == MARKET
    assert {s: a.meta for s, a in both.items()} == {s: a.meta for s, a in store.list_articles().items()}
    assert all(a.text == "" for a in store.list_articles().values())


def test_sentence_embeddings_are_the_stored_vectors(setup):
    _, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    ids, texts, _ = store.all_sentences()
    got = store.sentence_embeddings(ids)
    assert set(got) == set(ids)
    want = indexer.embedder.embed_documents(texts)
    for i, vec in zip(ids, want):
        assert got[i].shape == (WordHashEmbedder.dim,)
        assert np.allclose(got[i], vec, atol=1e-6)
    assert not np.allclose(got[ids[0]], got[ids[1]])


def test_nearest_cuts_text_from_the_article(setup):
    _, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    query = indexer.embedder.embed_documents(["It has forty stalls."])[0]
    got = store.nearest(query, 2)
    assert len(got) == 2 and isinstance(got[0], StoredSentence)
    assert got[0].text == "It has forty stalls."
    assert got[0].metadata["source"] == "market.txt"
    text = store.read_articles(["market.txt"])["market.txt"].text
    assert text[got[0].metadata["start"]: got[0].metadata["end"]] == got[0].text
    assert got[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert got[0].similarity > got[1].similarity
    assert got[0] == store.nearest(query.tolist(), 1)[0]  # a list of floats does too


def test_nearest_only_from_some_articles(setup):
    _, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    query = indexer.embedder.embed_documents(["It has forty stalls."])[0]
    got = store.nearest(query, 50, sources=["harbour.txt"])
    assert got and {s.metadata["source"] for s in got} == {"harbour.txt"}
    assert len(got) == store.list_articles()["harbour.txt"].sentences
    assert [s.similarity for s in got] == sorted((s.similarity for s in got), reverse=True)
    assert store.nearest(query, 5, sources=[]) == []
    assert store.nearest(query, 5, sources=["no-such.txt"]) == []


def test_revision_moves_on_add_and_delete(setup):
    settings, store, indexer, data = setup
    empty = store.revision()
    indexer.ingest([data], progress=False)
    added = store.revision()
    assert added != empty
    assert store.revision() == added  # reading it changes nothing
    assert Store(settings, WordHashEmbedder.name, create=False).revision() == added  # another opener sees it
    indexer.ingest([data], progress=False)  # nothing changed
    assert store.revision() == added
    store.delete_article("market.txt")
    assert store.revision() not in (empty, added)


def test_delete_article_removes_its_sentences(setup):
    _, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    before = store.count()
    n_market = store.list_articles()["market.txt"].sentences
    store.delete_article("market.txt")
    assert "market.txt" not in store.list_articles()
    assert store.sentences_of("market.txt") == []
    assert store.count() == before - n_market
    assert "market.txt" not in store.sentence_sources()
    _, _, metas = store.all_sentences()
    assert {m["source"] for m in metas} == {"harbour.txt"}
    assert store.read_articles(["market.txt"]) == {}


def test_an_interrupted_ingest_is_not_complete(setup):
    """Sentences written without their article record (a crash in between) are not an article."""
    _, store, indexer, data = setup
    indexer.ingest([data / "market.txt"], progress=False)
    harbour = load_article(data / "harbour.txt")
    nodes = indexer.embed.run(nodes=indexer.parser.article_nodes(harbour), show_progress=False)
    store.add_sentences(nodes)  # ... and then the process died before put_articles
    assert "harbour.txt" in store.sentence_sources()
    assert "harbour.txt" not in store.list_articles()
    _, _, metas = store.all_sentences()
    assert {m["source"] for m in metas} == {"market.txt"}
    assert store.current_texts({"harbour.txt": harbour.content_hash}) == {}
    assert sorted(indexer.remove_leftovers()) == sorted(n.node_id for n in nodes)
    assert store.sentences_of("harbour.txt") == []


def test_a_replaced_article_hides_its_old_sentences(setup):
    settings, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    old_hash = store.list_articles()["market.txt"].content_hash
    assert store.current_texts({"market.txt": old_hash})["market.txt"].startswith("Night market opens")
    (data / "market.txt").write_text(MARKET + " Parking is free.", encoding="utf-8")
    report = indexer.ingest([data], progress=False)
    assert report.updated == ["market.txt"]
    new_hash = store.list_articles()["market.txt"].content_hash
    assert new_hash != old_hash
    # A text is only ever served for the version it belongs to (so the offsets fit): the old text for the old hash
    # while this store still caches it, the new one for the new hash, and then nothing for the old hash.
    assert store.current_texts({"market.txt": old_hash}) == {"market.txt": MARKET}
    assert store.current_texts({"market.txt": new_hash})["market.txt"] == MARKET + " Parking is free."
    assert store.current_texts({"market.txt": old_hash}) == {}
    fresh = Store(settings, WordHashEmbedder.name, create=False)
    assert fresh.current_texts({"market.txt": old_hash}) == {}
    of = store.sentences_of("market.txt")
    assert {m["content_hash"] for m in of} == {new_hash}
    assert len(of) == len(_expected_sentences(data / "market.txt"))


def test_another_embedder_is_refused(setup):
    settings, _, indexer, data = setup
    indexer.ingest([data], progress=False)
    with pytest.raises(IndexOutdated, match=WordHashEmbedder.name):
        Store(settings, "some-other-embedder", create=False)


@local_only
def test_opening_a_missing_index_without_create(tmp_path):
    settings = make_settings(data_dir=tmp_path, index_dir=tmp_path / "nothing-here")
    with pytest.raises(IndexProblem, match="No index found"):
        Store(settings, WordHashEmbedder.name, create=False)
    assert not (tmp_path / "nothing-here").exists()


@local_only
def test_a_folder_that_is_not_an_index_is_refused(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(IndexProblem, match="not a citechat index"):
        Store(make_settings(data_dir=tmp_path, index_dir=folder), WordHashEmbedder.name)


def test_the_text_cache_is_bounded(setup, monkeypatch):
    settings, store, indexer, data = setup
    indexer.ingest([data], progress=False)
    hashes = {s: a.content_hash for s, a in store.list_articles().items()}
    monkeypatch.setattr("citechat.store.index.TEXT_CACHE_SIZE", 1)
    small = Store(settings, WordHashEmbedder.name, create=False)
    for _ in range(2):  # the second round reads again what the bound evicted
        got = small.current_texts(hashes)
        assert set(got) == {"harbour.txt", "market.txt"} and got["market.txt"] == MARKET
        assert len(small._texts) == 1
