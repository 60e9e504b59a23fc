"""Conversation history (src/citechat/history.py): SQLite under the index folder, keyed to an owner."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from citechat.answer.types import Answer
from citechat.errors import HistoryError
from citechat.history import FILENAME, History, new_owner_id


def answer(question: str, source: str = "a.txt", text: str = "Liu Sheng presented flags.") -> Answer:
    cit = {"n": 1, "source": source, "title": "T", "text": text, "start": 10, "end": 10 + len(text), "score": 0.9}
    return Answer.from_json({"question": question, "answer": text + " [1]", "answerable": True, "citations": [cit],
                             "closest": [{**cit, "n": 1, "source": "b.txt"}]})


@pytest.fixture
def hist(tmp_path):
    return History.in_folder(tmp_path / "index")


def test_create_add_get_keeps_answer_citations_and_hashes(hist, tmp_path):
    cid = hist.create("alice")
    hist.add_turn("alice", cid, "t1", "Who presented flags?", answer("Who presented flags?"), {"a.txt": "h1"})
    hist.add_turn("alice", cid, "t2", "And when?", answer("And when?", text="On Monday."), {"a.txt": "h1"})
    conv = hist.get("alice", cid)
    assert (tmp_path / "index" / FILENAME).exists()
    assert conv.title == "Who presented flags?"  # the first question
    assert [t.id for t in conv.turns] == ["t1", "t2"]
    assert conv.turns[1].answer.answer == "On Monday. [1]"
    c = conv.turns[0].citations[0]
    assert (c.kind, c.n, c.source, c.start, c.end, c.text, c.content_hash) == (
        "citation", 1, "a.txt", 10, 36, "Liu Sheng presented flags.", "h1")
    assert conv.turns[0].hashes == {"a.txt": "h1"}  # b.txt (closest) had no hash given
    assert conv.turns[0].citations[1].content_hash == ""
    assert [c.kind for c in conv.turns[0].citations] == ["citation", "closest"]


def test_list_is_newest_first_with_title_and_date(hist):
    first = hist.create("alice")
    hist.add_turn("alice", first, "t1", "First question?", answer("First question?"), {})
    second = hist.create("alice")
    hist.add_turn("alice", second, "t1", "Second question?", answer("Second question?"), {})
    listed = hist.conversations("alice")
    assert [c.id for c in listed] == [second, first]
    assert [c.title for c in listed] == ["Second question?", "First question?"]
    assert listed[0].updated >= listed[1].updated > 1.7e9
    hist.add_turn("alice", first, "t2", "More?", answer("More?"), {})  # using it again moves it to the top
    assert [c.id for c in hist.conversations("alice")] == [first, second]
    assert hist.conversations("alice")[0].title == "First question?"  # later questions don't retitle it


def test_rename_and_delete(hist):
    cid = hist.create("alice")
    hist.add_turn("alice", cid, "t1", "Q?", answer("Q?"), {"a.txt": "h"})
    hist.rename("alice", cid, "  Flags   in Luohu ")
    assert hist.get("alice", cid).title == "Flags in Luohu"
    with pytest.raises(ValueError):
        hist.rename("alice", cid, "   ")
    hist.set_open("alice", cid)
    hist.delete("alice", cid)
    assert hist.conversations("alice") == []
    assert hist.last_open("alice") is None
    with pytest.raises(HistoryError):
        hist.get("alice", cid)
    with sqlite3.connect(hist.path) as db:  # turns and citations went with it
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM citations").fetchone()[0] == 0


def test_owners_are_isolated(hist):
    cid = hist.create("alice")
    hist.add_turn("alice", cid, "t1", "Alice's secret question?", answer("Q"), {})
    assert hist.conversations("bob") == []
    for op in (lambda: hist.get("bob", cid), lambda: hist.rename("bob", cid, "mine"),
               lambda: hist.delete("bob", cid), lambda: hist.add_turn("bob", cid, "t2", "Q", answer("Q"), {}),
               lambda: hist.set_open("bob", cid)):
        with pytest.raises(HistoryError):
            op()
    conv = hist.get("alice", cid)  # untouched by bob's attempts
    assert conv.title == "Alice's secret question?" and len(conv.turns) == 1


def test_persists_across_reopening_the_file(tmp_path):
    h1 = History.in_folder(tmp_path)
    cid = h1.create("browser:1")
    h1.add_turn("browser:1", cid, "t1", "Kept?", answer("Kept?"), {"a.txt": "h1"})
    h1.set_open("browser:1", cid)
    del h1
    h2 = History(tmp_path / FILENAME)
    assert [c.id for c in h2.conversations("browser:1")] == [cid]
    assert h2.last_open("browser:1") == cid
    assert h2.get("browser:1", cid).turns[0].citations[0].content_hash == "h1"
    with sqlite3.connect(tmp_path / FILENAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_bad_ids_give_a_clear_error(hist):
    for bad in ("nope", "", "x" * 500, "' OR 1=1 --"):
        with pytest.raises(HistoryError, match="no conversation .* for this user"):
            hist.get("alice", bad)
    cid = hist.create("alice")
    hist.add_turn("alice", cid, "t1", "Q?", answer("Q?"), {})
    with pytest.raises(HistoryError, match="already stored"):
        hist.add_turn("alice", cid, "t1", "Q?", answer("Q?"), {})
    with pytest.raises(ValueError):
        hist.create("")


def test_open_conversation_is_remembered_per_owner(hist):
    a, b = hist.create("alice"), hist.create("alice")
    assert hist.last_open("alice") is None
    hist.set_open("alice", a)
    hist.set_open("alice", b)
    assert hist.last_open("alice") == b
    hist.set_open("alice", None)  # a new conversation, not saved yet
    assert hist.last_open("alice") is None
    assert hist.last_open("bob") is None


def test_concurrent_writers(hist):
    owners = [new_owner_id() for _ in range(4)]
    assert len(set(owners)) == 4 and all(len(o) == 32 for o in owners)
    ids = {o: hist.create(o) for o in owners}

    def write(o: str) -> None:
        for i in range(15):
            hist.add_turn(o, ids[o], f"t{i}", f"Q{i}?", answer(f"Q{i}?"), {"a.txt": "h"})

    threads = [threading.Thread(target=write, args=(o,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in owners:
        assert [t.id for t in hist.get(o, ids[o]).turns] == [f"t{i}" for i in range(15)]


# --- the sources panel of a saved turn, and who owns a conversation (ui/render.py, ui/history_panel.py) ---

ARTICLE = "Title\n\nIntro sentence here. Liu Sheng presented flags. Closing line."


def saved_turn(hashes: dict[str, str]):
    from citechat.chat import Conversation, Turn

    text = "Liu Sheng presented flags."
    start = ARTICLE.index(text)
    cit = {"n": 1, "source": "a.txt", "title": "T", "text": text, "start": start, "end": start + len(text),
           "score": 0.9}
    turn = Turn(id="abc123", question="Q?", answer=Answer.from_json({"answerable": True, "citations": [cit]}),
                hashes=hashes)
    return Conversation(turns=[turn], id="c1")


def test_panel_highlights_an_unchanged_citation():
    from citechat.ui.render import panel_html

    html = panel_html(saved_turn({"a.txt": "h1"}), None, {"a.txt": ARTICLE}, {"a.txt": "h1"})
    assert '<mark class="hl">Liu Sheng presented flags.</mark>' in html
    assert "open-article" in html and "src-stale" not in html


def test_panel_sends_the_paragraph_not_the_whole_article():
    """A 5 MB article: the panel carries the cited sentence's paragraph (clipped), never the article itself; the
    browser fetches the whole text from the /article API when asked (tests/test_browser.py opens one)."""
    from citechat.ui.render import panel_html

    filler = "Filler paragraph about other things entirely. " * 400 + "\n\n"
    big = ARTICLE.replace("Title\n\n", "Title\n\n" + filler * 270)  # about 5 MB before the cited paragraph
    conv = saved_turn({"a.txt": "h1"})
    c = conv.turns[0].answer.citations[0]
    c.start, c.end = big.index(c.text), big.index(c.text) + len(c.text)
    html = panel_html(conv, None, {"a.txt": big}, {"a.txt": "h1"})
    assert len(big) > 4_900_000 and len(html) < 5_000, len(html)
    assert 'Intro sentence here. <mark class="hl">Liu Sheng presented flags.</mark> Closing line.' in html
    assert "Filler" not in html and 'data-source="a.txt"' in html  # the opener names the article to fetch


def test_panel_says_changed_and_never_marks_text_that_moved():
    from citechat.ui.render import panel_html

    moved = "Title\n\nA new first paragraph.\n\nIntro sentence here. Liu Sheng gave flags. Closing line."
    html = panel_html(saved_turn({"a.txt": "h1"}), None, {"a.txt": moved}, {"a.txt": "h2"})
    assert "changed since this answer; the quoted sentence was:" in html
    assert '<blockquote class="src-quote">Liu Sheng presented flags.</blockquote>' in html
    assert "<mark" not in html and "open-article" not in html
    # changed elsewhere, the quote still at its place: highlighted, with the note
    html = panel_html(saved_turn({"a.txt": "h1"}), None, {"a.txt": ARTICLE + " More."}, {"a.txt": "h2"})
    assert "quoted sentence is still in it" in html and '<mark class="hl">Liu Sheng presented flags.</mark>' in html


def test_panel_says_deleted():
    from citechat.ui.render import panel_html

    html = panel_html(saved_turn({"a.txt": "h1"}), None, {}, {})
    assert "deleted since this answer" in html and "Liu Sheng presented flags." in html and "<mark" not in html


def test_owner_is_the_user_when_logged_in_else_the_browser():
    from citechat.ui.history_panel import owner_of

    bid = new_owner_id()
    assert owner_of(bid, None) == (bid, f"browser:{bid}")
    assert owner_of(bid, "reader") == (bid, "user:reader")
    new, owner = owner_of("../../not-an-id", None)  # a malformed or missing id gets a fresh one
    assert new != "../../not-an-id" and len(new) == 32 and owner == f"browser:{new}"
    assert owner_of(None, None)[0] != owner_of(None, None)[0]


def test_the_chat_saves_turns_with_their_articles_hashes(hist):
    from citechat.chat import Conversation, Turn
    from citechat.ui.history_panel import HistoryPanel

    saver = HistoryPanel(hist, panel=lambda conv, active: "", hashes=lambda sources: {"a.txt": "h-now"}, secret="s")
    conv = Conversation()
    for i in range(2):
        conv.turns.append(Turn(id=f"t{i}", question=f"Q{i}?", answer=answer(f"Q{i}?")))
        saver.save("browser:1", conv, conv.turns[-1])
    saved = hist.get("browser:1", conv.id)
    assert [t.id for t in saved.turns] == ["t0", "t1"] and saved.title == "Q0?"
    assert saved.turns[0].hashes == {"a.txt": "h-now"} == conv.turns[0].hashes
    assert hist.last_open("browser:1") == conv.id
    restored = saver.load_conversation("browser:1", conv.id)
    assert [(t.id, t.answer, t.hashes) for t in restored.turns] == [(t.id, t.answer, t.hashes) for t in conv.turns]
    hist.delete("browser:1", conv.id)  # deleted elsewhere: the next turn starts a new saved conversation
    old = conv.id
    conv.turns.append(Turn(id="t2", question="Q2?", answer=answer("Q2?")))
    saver.save("browser:1", conv, conv.turns[-1])
    assert conv.id != old and [t.id for t in hist.get("browser:1", conv.id).turns] == ["t2"]
    saver.save(None, conv, conv.turns[-1])  # no owner (the page had not loaded): nothing saved, no error
    assert len(hist.conversations("browser:1")) == 1


def test_page_load_leaves_the_chat_alone_unless_it_reopens_a_conversation(hist):
    """The load step can run after a first question (it queues behind answers): it must not wipe that chat."""
    from types import SimpleNamespace

    import gradio as gr

    from citechat.chat import Conversation, Turn
    from citechat.ui.history_panel import HistoryPanel

    panel = HistoryPanel(hist, panel=lambda conv, active: f"panel:{len(conv.turns)}", hashes=lambda s: {}, secret="s")
    bid = new_owner_id()
    request = SimpleNamespace(username=None)  # what the handler reads of gr.Request
    out = panel.on_load(bid, None, request)
    assert out[:2] == (bid, f"browser:{bid}") and all(x == gr.skip() for x in out[2:6])  # nothing to reopen
    conv = Conversation()
    conv.turns.append(Turn(id="t0", question="Q0?", answer=answer("Q0?")))
    panel.save(f"browser:{bid}", conv, conv.turns[0])
    reopened = panel.on_load(bid, None, request)  # a reload: the saved conversation comes back
    assert reopened[4].id == conv.id and reopened[3] == "panel:1"
    asked = Conversation(turns=[Turn(id="t9", question="Q9?", answer=answer("Q9?"))])
    kept = panel.on_load(bid, asked, request)  # a question already answered in this page: left in view
    assert all(x == gr.skip() for x in kept[2:6])
