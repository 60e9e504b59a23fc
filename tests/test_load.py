"""The load test's own machinery (bench/load.py) against a real app: browser-like sessions through the page's chat
event, each question asked once. `make bench` runs it at full size; this checks that what it counts is real."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import load

from citechat.history import History

from browser_support import AppServer

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["Who presented flags in Luohu?", "When did Liu Qiang visit Shizhong District?",
             "What is the capital of France?", "歷城區的地區生產總值突破了多少?", "Who presided over the meeting in Luohu?",
             "Where is Dongliudao station? ",  # public questions can end in a space
             "How many enterprises did Lixia's thirteen streets connect with?",
             "When was the first phase of the FAW-Toyota new energy project completed?"]


def test_distinct_questions_through_the_chat_event_are_each_answered_once_and_saved(tmp_path):
    index = tmp_path / "index"
    server = AppServer(ROOT / "data" / "articles", index, extra_env={"CITECHAT_ANSWER_CACHE": "0"})
    try:
        result = load.load_test(server.url, QUESTIONS, None, sessions=3, seconds=120, client="chat-event")
    finally:
        server.stop()
    assert result["errors"] == 0, result["error_samples"]
    # every question asked exactly once (the sessions share the list and stop when it is done), none crossed
    assert result["distinct_questions"] and result["requests"] == len(QUESTIONS), result
    assert result["mixed_up_answers"] == 0 and result["cache_hits"] == 0
    # the chat event saved each answer in the history, as it does for a browser
    with sqlite3.connect(History.in_folder(index).path) as db:
        asked = sorted(q for (q,) in db.execute("SELECT question FROM turns"))
    assert asked == sorted(q.strip() for q in QUESTIONS)


def test_public_questions_are_distinct_and_from_the_english_half_a_set():
    import pytest

    sys.path.insert(0, str(ROOT / "training"))
    from public_sets import PUBLIC_DIR

    if not (PUBLIC_DIR / "en-en.jsonl").exists():
        pytest.skip(f"the public sets are not at {PUBLIC_DIR} (set CITECHAT_PUBLIC_DIR)")
    corpus, questions = load.public_questions()
    assert corpus.name == "corpus-en" and len(questions) == len(set(questions)) > 2000
