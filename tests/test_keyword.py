"""BM25 refreshes are atomic: a question sees one whole revision of the keyword index, never a mix, also while
another process ingests and deletes articles in the same index (issue 21, item 4)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import bm25s
import pytest

from citechat.dictionary import translations
from citechat.engine import Engine
from citechat.language import tokenize
from citechat.retrieval import BM25Retriever

from browser_support import store_env
from conftest import WordHashEmbedder, make_settings
from test_retrieval import ARTICLES, build_engine

EXTRA = "extra.txt"
QUESTION = "ferry bread rail Vellmar timetable"


def extra_text(version: int) -> str:
    """The article the other process adds and deletes; each version has its own word (`r<version>`)."""
    v = f"r{version:02d}"
    lines = [f"Vellmar timetable {v}", f"The Vellmar ferry {v} leaves at {version} o'clock."]
    lines += [f"Sentence {k} {v} of the Vellmar timetable." for k in range(version % 4 + 1)]  # sizes vary
    lines.append("新的渡轮时刻表。" if version % 2 else f"The bread ferry {v} is late.")  # Chinese every other time
    return lines[0] + "\n\n" + " ".join(lines[1:])


def _settings(data: Path, index: Path):
    return make_settings(data_dir=data, index_dir=index, retrieval={"reranker": "none"},
                         **{k.removeprefix("CITECHAT_").lower(): v for k, v in store_env(index).items()})


@pytest.fixture
def engine(tmp_path) -> Engine:
    return build_engine(tmp_path, _settings)


def view(kw: BM25Retriever) -> tuple:
    """Everything a question reads from the keyword index, as plain values."""
    hits = kw.search(tokenize(QUESTION))
    return (
        [(c.id, c.text, c.source, c.scores.bm25) for c in hits],
        [kw.neighbours(c.id) for c in hits],
        [kw.is_complete(c) for c in hits],
        sorted(kw.stats.tokens), kw.has_chinese, len(kw.vocabulary()), kw.translate("new ferry"),
        [c.id for c in kw.search(tokenize("ferry"), sources=["harbour.txt", EXTRA])],
    )


@pytest.mark.parametrize("pause_at", ["building", "publishing"])
def test_a_question_during_a_refresh_sees_one_whole_revision(engine, tmp_path, monkeypatch, pause_at):
    """A refresh is held half-way (while bm25s indexes, or right after its first attribute write); a question
    asked meanwhile sees the old index whole, or the new one whole, never parts of both."""
    kw = engine.retriever.keyword
    kw.refresh()
    old = view(kw)
    # the store moves on: one article gone (the sentences' record numbers shift), a Chinese one added
    assert engine.remove("bakery.txt")
    (tmp_path / "articles" / EXTRA).write_text(extra_text(1), encoding="utf-8")
    engine.ingest([tmp_path / "articles" / EXTRA], progress=False, workers=0)

    refresher, paused, resume = None, threading.Event(), threading.Event()

    def hold() -> None:
        if threading.current_thread() is refresher and not paused.is_set():
            paused.set()
            resume.wait(30)

    if pause_at == "building":
        index = bm25s.BM25.index
        monkeypatch.setattr(bm25s.BM25, "index", lambda self, *a, **k: (hold(), index(self, *a, **k))[1])
    else:
        def setattr_then_hold(self, name, value):
            object.__setattr__(self, name, value)
            hold()

        monkeypatch.setattr(BM25Retriever, "__setattr__", setattr_then_hold)
    refresher = threading.Thread(target=kw.refresh)
    refresher.start()
    try:
        assert paused.wait(30), "the refresh reached the pause"
        during = view(kw)
    finally:
        resume.set()
        refresher.join(30)
    monkeypatch.undo()
    new = view(kw)
    assert new != old and new[4] and not old[4]  # the refresh happened (and found Chinese)
    if pause_at == "building":
        assert during == old
    else:
        assert during in (old, new), "a question saw parts of two revisions"


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import WordHashEmbedder
from test_keyword import EXTRA, _settings, extra_text
from citechat.dictionary import translations
from citechat.engine import Engine

data, index, rounds = Path({data!r}), Path({index!r}), {rounds}
engine = Engine(_settings(data, index), embedder=WordHashEmbedder(), create=False)
for version in range(1, rounds + 1):
    (data / EXTRA).write_text(extra_text(version), encoding="utf-8")
    engine.ingest([data / EXTRA], progress=False, workers=0)
    print("added", version, flush=True)
    time.sleep(0.1)
    if version % 3:  # sometimes replaced in place instead of deleted
        assert engine.remove(EXTRA)
        print("removed", version, flush=True)
        time.sleep(0.1)
"""


@pytest.mark.slow
def test_questions_stay_consistent_while_another_process_ingests_and_deletes(engine, tmp_path):
    """Reader threads ask while a second process adds, replaces and deletes an article in the same index: no
    error, and every result is of one revision (each sentence is its article's text, its neighbours are from the
    same article version, its article is in the statistics and complete)."""
    data, index = tmp_path / "articles", tmp_path / "index"
    versions = {EXTRA: [extra_text(v) for v in range(1, 13)], **{s: [t] for s, t in ARTICLES.items()}}
    retriever, kw = engine.retriever, engine.retriever.keyword
    # Dense search is left out: a local Chroma folder's vector index is not safe to query while another process
    # writes it ("Error finding id"); sentences and articles (all BM25 reads) are.
    retriever.dense.retrieve = lambda query: []
    retriever.dense.fill_scores = lambda candidates, qvec: None
    translations("ferry")  # the dictionary loads once (seconds), when the first Chinese article comes
    script = WRITER.format(tests=str(Path(__file__).parent), data=str(data), index=str(index), rounds=12)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    errors: list[str] = []
    seen: dict[str, int] = {"results": 0, "revisions": 0, "extra": 0}
    revisions: set[str] = set()

    def one_version(source: str, pieces: list[str]) -> bool:
        return any(all(p in t for p in pieces) for t in versions.get(source, []))

    def check(result) -> None:
        for c in result.candidates:
            assert c.source in result.corpus.tokens, f"{c.source} is not in this revision's statistics"
            words = [w for w in c.neighbours.split() if w]
            assert one_version(c.source, [c.text, *words]), f"{c.id}: {c.text!r} / {c.neighbours!r} mixed"
        for c in kw.search(tokenize(QUESTION)):  # ids name an article version, so a later refresh can't mix
            assert one_version(c.source, [c.text, *kw.neighbours(c.id).split()])

    def reader() -> None:
        while writer.poll() is None:
            try:
                result = retriever.retrieve(QUESTION)
                check(result)
                seen["results"] += 1
                seen["extra"] += any(c.source == EXTRA for c in result.candidates)
                revisions.add(result.revision)
            except Exception as e:  # noqa: BLE001 - every failure is reported below
                errors.append(f"{type(e).__name__}: {e}")
                if len(errors) > 5:
                    return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        out, err = writer.communicate(timeout=240)
    finally:
        if writer.poll() is None:
            writer.kill()
        for t in threads:
            t.join(60)
    assert writer.returncode == 0, err[-2000:]
    assert "added 12" in out, out
    assert not errors, json.dumps(errors[:5], ensure_ascii=False)
    seen["revisions"] = len(revisions)
    assert seen["results"] >= 20 and seen["revisions"] >= 3 and seen["extra"] >= 1, seen
    # and afterwards the index is the writer's last state, whole
    kw.refresh()
    assert EXTRA in kw.stats.tokens and one_version(EXTRA, [c.text for c in kw.search(tokenize("Vellmar"))])
