"""The retrieval roles one at a time (dense, keyword, fusion, rerank, the retriever) over a real Chroma store, with
a small word-hashing embedder instead of the big models, so these run in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from citechat.engine import Engine
from citechat.answer.features import candidate_features, question_features
from citechat.answer.question import analyse_question
from citechat.retrieval import Candidate, CrossEncoderRanker, Query, Scores, reciprocal_rank_fusion

from conftest import WordHashEmbedder, make_settings


ARTICLES = {
    "harbour.txt": "New ferry for Kelmport\n\nThe town of Kelmport bought a new ferry in March. "
                   "The ferry carries 240 passengers. Mayor Ines Dorvalle named it after the old lighthouse. "
                   "It sails to the island twice a day.",
    "bakery.txt": "A bakery turns fifty\n\nThe Brannock bakery opened in 1974 on Mill Street. "
                  "Its owner, Tomas Weyr, still bakes rye bread every morning. The ferry workers buy their bread there.",
    "rail.txt": "Rail line reopens\n\nThe valley rail line reopened after floods closed it for a year. "
                "Trains now run every hour between Aston and Vell. The repairs cost 12 million euros.",
}


def build_engine(tmp_path, settings_for=None) -> Engine:
    """The three articles in tmp_path/articles, ingested with the word-hashing embedder and no reranker.
    `settings_for(data, index)`: other settings (test_keyword.py's follow the test store mode)."""
    data = tmp_path / "articles"
    data.mkdir()
    for name, text in ARTICLES.items():
        (data / name).write_text(text, encoding="utf-8")
    index = tmp_path / "index"
    settings = settings_for(data, index) if settings_for else make_settings(
        data_dir=data, index_dir=index, retrieval={"reranker": "none"})
    eng = Engine(settings, embedder=WordHashEmbedder())
    eng.ingest(progress=False, workers=0)
    return eng


@pytest.fixture
def engine(tmp_path) -> Engine:
    return build_engine(tmp_path)


def test_dense_finds_a_sentence_by_its_own_text_and_honours_the_article_filter(engine):
    dense = engine.retriever.dense
    text = "Trains now run every hour between Aston and Vell."
    hits = dense.retrieve(text)
    assert hits[0].text == text and hits[0].source == "rail.txt"
    assert hits[0].scores.dense == pytest.approx(1.0, abs=1e-4)
    assert hits[0].scores.bm25 is None  # only the dense stage scored it
    only = dense.retrieve(Query(text, sources=["bakery.txt"]))
    assert only and {c.source for c in only} == {"bakery.txt"}


def test_keyword_search_scores_filters_and_knows_neighbours(engine):
    kw = engine.retriever.keyword
    hits = kw.retrieve("ferry passengers")
    assert hits[0].text == "The ferry carries 240 passengers."
    assert all(c.scores.bm25 > 0 for c in hits) and [c.scores.bm25 for c in hits] == sorted(
        (c.scores.bm25 for c in hits), reverse=True)
    assert {c.source for c in kw.retrieve("ferry", sources=["bakery.txt"])} == {"bakery.txt"}
    assert kw.retrieve("ferry", sources=["no-such-article.txt"]) == []
    # the sentences before and after, in reading order
    assert kw.neighbours(hits[0].id) == ("The town of Kelmport bought a new ferry in March. "
                                         "Mayor Ines Dorvalle named it after the old lighthouse.")
    stats = kw.stats
    assert stats.articles == 3 and stats.article_frequency("ferri") + stats.article_frequency("ferry") == 2
    assert stats.idf("zzzz-unknown") > stats.idf("ferry") or stats.idf("zzzz-unknown") > stats.idf("ferri")
    stale = Candidate(id=hits[0].id, text=hits[0].text, source=hits[0].source, start=0, end=1, content_hash="old")
    assert not kw.is_complete(stale) and kw.is_complete(hits[0])


def test_keyword_index_follows_the_store(engine, tmp_path):
    kw = engine.retriever.keyword
    assert kw.retrieve("Brannock")
    assert engine.remove("bakery.txt")
    assert kw.retrieve("Brannock") == [] and kw.stats.articles == 2


def _cand(i: str, **scores) -> Candidate:
    return Candidate(id=i, text=f"sentence {i}", source="a.txt", start=0, end=1, scores=Scores(**scores))


def test_reciprocal_rank_fusion_sums_ranks_and_merges_scores():
    dense = [_cand("x", dense=0.9), _cand("y", dense=0.8)]
    keyword = [_cand("y", bm25=3.0), _cand("z", bm25=1.0)]
    fused = reciprocal_rank_fusion([dense, keyword], k=60)
    assert [c.id for c in fused] == ["y", "x", "z"]
    y = fused[0]
    assert y.scores.fused == pytest.approx(1 / 62 + 1 / 61)
    assert (y.scores.dense, y.scores.bm25) == (0.8, 3.0)


class FixedLogits:
    """A stand-in cross-encoder with known logits per text, to test the ranker's sorting and cutting (the real
    model is exercised by the engine tests)."""

    def __init__(self, logits: dict[str, float]) -> None:
        self.logits, self.batches = logits, []

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        self.batches.append(list(passages))
        return np.array([self.logits[p] for p in passages], dtype=np.float32)


def test_ranker_sorts_scored_candidates_first_and_cuts():
    cands = [_cand(i) for i in "abcd"] + [Candidate(id="zh", text="渡輪可載240人。", source="b.txt", start=0, end=1)]
    enc = FixedLogits({"sentence a": -2.0, "sentence b": 4.0, "sentence c": 1.0, "sentence d": 0.5})
    ranked = CrossEncoderRanker(enc, top_n=3, first_round=2, confident_logit=9.0).run("Which one?", cands)
    assert [c.id for c in ranked] == ["b", "c", "a", "d", "zh"]  # c came in the second round; d and zh unscored
    assert enc.batches == [["sentence a", "sentence b"], ["sentence c"]]
    assert ranked[-1].scores.rerank is None
    confident = FixedLogits({"sentence a": 7.0, "sentence b": 1.0})
    cut = CrossEncoderRanker(confident, top_n=4, first_round=2, confident_logit=6.0, top_k=2).run(
        "Which one?", [_cand(i) for i in "abcd"])
    assert [c.id for c in cut] == ["a", "b"] and len(confident.batches) == 1  # confident: no second round
    fresh = [_cand(i) for i in "ab"]
    assert [c.scores.rerank for c in CrossEncoderRanker(enc).run("哪一個?", fresh)] == [None, None]  # Chinese question


def test_retriever_returns_plain_data_for_one_analysed_question(engine):
    info = analyse_question("How many passengers does the ferry of Kelmport carry, says Zorblat?")
    got = engine.retriever.retrieve(info)
    assert got.question is info
    assert got.unknown_terms == ["Zorblat"]
    assert got.candidates[0].source == "harbour.txt"  # the distinctive name routes its article first
    assert [c.order for c in got.candidates] == list(range(len(got.candidates)))
    assert all(c.scores.dense is not None for c in got.candidates)  # BM25-only finds get a dense score too
    assert got.corpus.articles == 3 and {"embed", "dense", "bm25", "fusion", "rerank"} <= set(got.timings)
    assert not hasattr(got, "store")


def test_features_do_not_depend_on_candidate_order(engine):
    got = engine.retriever.retrieve("Who named the ferry?")
    qf = question_features(got.question)
    X = candidate_features(qf, got.candidates, got.corpus)
    rev = list(reversed(got.candidates))
    Y = candidate_features(qf, rev, got.corpus)
    assert len(X) >= 3
    np.testing.assert_array_equal(X, Y[::-1])
