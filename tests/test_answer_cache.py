"""Kept answers (answer_cache.py): a repeated question on an unchanged index is looked up, any change to the index
retires every kept answer, and callers never share one answer object. A real Chroma store with the small
word-hashing embedder keeps this fast."""

from __future__ import annotations

from citechat.answer_cache import AnswerCache
from citechat.answer.types import Answer, Citation
from citechat.engine import Engine
from citechat.filters import ArticleFilter

from conftest import WordHashEmbedder, make_settings

QUESTION = "How many passengers does the ferry carry?"


def _answer(text: str) -> Answer:
    return Answer("q", text, True, [Citation(1, "a.txt", "", text, 0, len(text), 1.0)])


def test_cache_keeps_one_revision_and_hands_out_copies():
    cache = AnswerCache(8)
    cache.put("r1", "q", None, _answer("forty"))
    got = cache.get("r1", "q", None)
    assert got is not None and got.answer == "forty"
    got.citations[0].text = "changed by a caller"
    assert cache.get("r1", "q", None).citations[0].text == "forty"
    assert cache.get("r1", "q", ["a.txt"]) is None  # another filter is another question
    assert cache.get("r2", "q", None) is None  # the index moved
    cache.put("r2", "other", None, _answer("ninety"))
    assert cache.get("r1", "q", None) is None  # the old revision's answers are gone
    assert cache.hits == 2 and cache.misses == 3


def test_sources_in_any_order_are_one_key():
    cache = AnswerCache(8)
    cache.put("r", "q", ["b.txt", "a.txt"], _answer("x"))
    assert cache.get("r", "q", ["a.txt", "b.txt"]) is not None


def _engine(tmp_path, size: int) -> Engine:
    data = tmp_path / "articles"
    data.mkdir(exist_ok=True)
    (data / "a.txt").write_text("Kelmport ferry\n\nThe Kelmport ferry carries 240 passengers.", encoding="utf-8")
    (data / "b.txt").write_text("Aston ferry\n\nThe Aston ferry carries 90 passengers.", encoding="utf-8")
    eng = Engine(make_settings(data_dir=data, index_dir=tmp_path / "index", answer_cache=size,
                               retrieval={"reranker": "none"}), embedder=WordHashEmbedder())
    eng.ingest(progress=False, workers=0)
    return eng


def test_engine_answers_a_repeat_from_the_cache_until_the_index_changes(tmp_path):
    eng = _engine(tmp_path, 16)
    first = eng.ask(QUESTION)
    assert "cache" not in first.timings_ms and "rerank" in first.timings_ms
    again = eng.ask(QUESTION)
    assert "cache" in again.timings_ms
    assert again.to_json()["citations"] == first.to_json()["citations"] and again.answer == first.answer
    only_b = eng.ask(QUESTION, ArticleFilter.parse(sources=["b.txt"]))
    assert "cache" not in only_b.timings_ms
    # The filtered question is answered, from b.txt alone (an abstention with nothing listed would not show that).
    assert only_b.answerable and "90 passengers" in only_b.answer, only_b.answer
    assert [c.source for c in only_b.citations] == ["b.txt"] and {c.source for c in only_b.closest} <= {"b.txt"}
    (tmp_path / "articles" / "c.txt").write_text("Ferry news\n\nThe Drumlin ferry carries 12 passengers.",
                                                 encoding="utf-8")
    eng.ingest(progress=False, workers=0)
    assert "cache" not in eng.ask(QUESTION).timings_ms  # the ingest moved the revision
    assert eng.remove("c.txt")
    assert "cache" not in eng.ask(QUESTION).timings_ms  # so did the delete


def test_a_zero_size_turns_the_cache_off(tmp_path):
    eng = _engine(tmp_path, 0)
    assert eng.cache is None
    eng.ask(QUESTION)
    assert "cache" not in eng.ask(QUESTION).timings_ms


def test_sessions_asking_one_new_question_at_once_cost_one_search(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    eng = _engine(tmp_path, 16)
    searches = []
    retrieve = eng.retriever.retrieve
    eng.retriever.retrieve = lambda *a, **kw: searches.append(1) or retrieve(*a, **kw)  # counts, then searches
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: eng.ask(QUESTION), range(8)))
    assert len(searches) == 1
    assert len({a.answer for a in answers}) == 1 and sum("cache" in a.timings_ms for a in answers) == 7
