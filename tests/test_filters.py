"""Article filters: parsing user input, which articles they allow, and that retrieval and answers stay inside
them (a real Chroma store; the small word-hashing embedder keeps this fast)."""

from __future__ import annotations

from datetime import date

import pytest

from citechat.chat import Conversation, ask
from citechat.engine import Engine
from citechat.errors import FilterError
from citechat.filters import ArticleFilter
from citechat.store import StoredArticle

from conftest import WordHashEmbedder, make_settings

FERRY_A = ("Kelmport buys a ferry\n\nSource: Harbour Gazette\n\nPublished: 2024-03-02\n\n"
           "The town of Kelmport bought a new ferry in March. The ferry carries 240 passengers.")
FERRY_B = ("Ferry for Aston\n\nSource: Valley Post\n\nPublished: 2023-06-10\n\n"
           "Aston bought a ferry too. The Aston ferry carries 90 passengers.")
UNDATED = "Ferry museum\n\nThe ferry museum shows an old ferry that carried 40 passengers."


def _article(source: str, outlet: str = "", day: str = "") -> StoredArticle:
    return StoredArticle(source=source, title="", outlet=outlet, date=day, content_hash="h", path="", sentences=1,
                         chunks=1)


def test_parse_cleans_input_and_rejects_bad_dates():
    f = ArticleFilter.parse(sources=[" a.txt ", "", "a.txt"], outlets="Valley Post", since="2023-01-01")
    assert f == ArticleFilter(sources=("a.txt",), outlets=("Valley Post",), since=date(2023, 1, 1))
    assert ArticleFilter.parse(sources="a.txt, b.txt").sources == ("a.txt", "b.txt")
    assert ArticleFilter.parse().is_empty() and ArticleFilter.parse(since="  ").is_empty()
    with pytest.raises(FilterError, match="YYYY-MM-DD"):
        ArticleFilter.parse(until="7 Feb 2022")
    with pytest.raises(FilterError, match="range is empty"):
        ArticleFilter.parse(since="2024-01-02", until="2024-01-01")


def test_select_by_file_outlet_and_date():
    arts = {"a": _article("a", "Harbour Gazette", "2024-03-02"), "b": _article("b", "Valley Post", "2023-06-10"),
            "c": _article("c")}
    assert ArticleFilter.parse(outlets=["harbour gazette"]).select(arts) == ["a"]  # case ignored
    assert ArticleFilter.parse(since="2023-06-10", until="2023-12-31").select(arts) == ["b"]  # bounds included
    with pytest.raises(FilterError, match="No article matches"):
        ArticleFilter.parse(sources=["a", "c"], outlets=["Valley Post"]).select(arts)
    with pytest.raises(FilterError, match="Not in the index: zzz"):
        ArticleFilter.parse(sources=["zzz"]).select(arts)
    assert "c" not in ArticleFilter.parse(until="2030-01-01").select(arts)  # undated: outside any date range


@pytest.fixture
def engine(tmp_path) -> Engine:
    data = tmp_path / "articles"
    data.mkdir()
    for name, text in {"a.txt": FERRY_A, "b.txt": FERRY_B, "museum.txt": UNDATED}.items():
        (data / name).write_text(text, encoding="utf-8")
    eng = Engine(make_settings(data_dir=data, index_dir=tmp_path / "index", retrieval={"reranker": "none"}),
                 embedder=WordHashEmbedder())
    eng.ingest(progress=False, workers=0)
    return eng


@pytest.mark.parametrize("filters, allowed", [
    (ArticleFilter.parse(sources=["b.txt"]), {"b.txt"}),
    (ArticleFilter.parse(outlets=["Harbour Gazette"]), {"a.txt"}),
    (ArticleFilter.parse(since="2024-01-01"), {"a.txt"}),
    (ArticleFilter.parse(sources=["a.txt", "museum.txt"]), {"a.txt", "museum.txt"}),
])
def test_retrieval_and_answers_stay_inside_the_filter(engine, filters, allowed):
    sources = engine.allowed_sources(filters)
    assert set(sources) == allowed
    got = engine.retriever.retrieve("How many passengers does the ferry carry?", sources)
    assert got.candidates and {c.source for c in got.candidates} <= allowed
    everything = engine.retriever.retrieve("How many passengers does the ferry carry?")
    assert {c.source for c in everything.candidates} > allowed  # without the filter, other articles come up
    ans = engine.ask("How many passengers does the ferry carry?", filters)
    assert {c.source for c in ans.citations + ans.closest} <= allowed


def test_a_filter_that_allows_nothing_is_an_error_and_nothing_is_recorded(engine):
    conv = Conversation()
    with pytest.raises(FilterError, match="No article matches the filter \\(outlets: Nowhere Times\\)"):
        ask(engine, conv, "How many passengers?", ArticleFilter.parse(outlets=["Nowhere Times"]))
    assert conv.turns == []
    turn = ask(engine, conv, "How many passengers?", ArticleFilter.parse(sources=["b.txt"]))
    assert conv.turns == [turn]
