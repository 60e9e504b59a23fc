

import pytest

from citechat.chat import Conversation, append_feedback, feedback_record, read_feedback
from citechat.library import UploadError, add_upload, delete_article, safe_filename
from citechat.ui.render import message_markdown, panel_html




@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\evil.md", "evil.md"),
    ("/abs/path/story.html", "story.html"),
    ("we<ird>|name.txt", "we_ird__name.txt"),
    (".hidden.txt", "hidden.txt"),
])
def test_safe_filename_strips_paths(name, expected):
    assert safe_filename(name) == expected


@pytest.mark.parametrize("name", ["", "..", "...", "../"])
def test_unusable_names_rejected(name):
    with pytest.raises(UploadError):
        safe_filename(name)


def test_upload_validation_changes_nothing_on_error(make_engine, tmp_path):
    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    for name, blob, msg in [
        ("x.pdf", b"%PDF", "unsupported"),
        ("x.txt", b"\x00\x01" * 100, "binary"),
        ("x.txt", b"", "empty"),
        ("x.txt", b"a" * (6 * 1024 * 1024), "limit"),
    ]:
        with pytest.raises(UploadError, match=msg):
            add_upload(engine, name, blob)
    assert list(data.iterdir()) == []
    assert engine.store.list_articles() == {}


def test_upload_traversal_name_lands_inside_the_article_folder(make_engine, tmp_path):
    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    res = add_upload(engine, "../../outside.txt", b"A safe story.\n\nIt has a second sentence.")
    assert res.source == "outside.txt" and res.status == "added"
    assert (data / "outside.txt").exists()
    assert not (tmp_path / "outside.txt").exists()
    moved = delete_article(engine, "outside.txt")
    assert moved is not None and moved.parent == data / ".deleted" and moved.exists()
    assert "outside.txt" not in engine.store.list_articles()


def test_feedback_records_only_what_is_needed(tmp_path, corpus_engine):
    conv = Conversation()
    from citechat.chat import ask

    turn = ask(corpus_engine, conv, "Who presented flags in Luohu?")
    rec = feedback_record(turn, liked=False)
    assert set(rec) == {"ts", "turn", "liked", "question", "answer", "answerable", "citations"}
    path = tmp_path / "fb.jsonl"
    append_feedback(path, rec)
    append_feedback(path, feedback_record(turn, liked=True))
    got = read_feedback(path)
    assert [r["liked"] for r in got] == [False, True]
    assert got[0]["citations"][0]["source"] == "001_a87b5d3a02c24cc1.txt"


def test_rendering_escapes_article_text(corpus_engine):
    from citechat.answer.types import Answer, Citation

    conv = Conversation()
    evil = '<img src=x onerror="alert(1)"> **bold** [link](http://x)'
    ans = Answer(question="q", answer=evil, answerable=True,
                 citations=[Citation(n=1, source="a.txt", title="<b>t</b>", text=evil, start=0, end=len(evil), score=1.0)])
    turn = conv.add("<script>q</script>", ans)
    md = message_markdown(turn)
    assert "<img" not in md and "**bold**" not in md and "[link]" not in md
    html = panel_html(conv, turn.id, {"a.txt": evil + " rest"})
    assert "<img" not in html and "<b>t</b>" not in html and "<script>q" not in html
    assert "&lt;img" in html


@pytest.mark.skipif(__import__("conftest").SERVER_MODE, reason="the full disk is the local index folder's")
def test_upload_to_a_full_index_folder_says_so_and_keeps_the_index(make_engine, tmp_path, monkeypatch):
    """The upload shares the ingest path: with less room than a write needs (the space margin raised above the
    real free space - filling the disk for real is tests/test_full_disk.py's job), it raises IndexFull, which
    the Library tab shows as its one line; the index is left as it was."""
    from citechat.errors import IndexFull
    from citechat.store import guard

    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    add_upload(engine, "first.txt", b"A first story.\n\nIt has a second sentence.")
    monkeypatch.setattr(guard, "SPACE_MARGIN", guard.free_bytes(tmp_path) + 1)
    with pytest.raises(IndexFull, match=f"index folder {engine.settings.index_dir} is full .* articles already "
                                         "indexed are kept"):
        add_upload(engine, "second.txt", b"A second story.\n\nWith two sentences too.")
    monkeypatch.setattr(guard, "SPACE_MARGIN", 0)
    assert sorted(engine.store.list_articles()) == ["first.txt"]
    assert engine.store.sentence_sources() == {"first.txt"}
    assert sorted(p.name for p in data.iterdir()) == ["first.txt"]  # the failed upload's file is rolled back


def test_upload_over_an_existing_name_keeps_the_old_file(make_engine, tmp_path):
    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    old, new = b"The old story.\n\nIt names Alice Old.", b"The new story.\n\nIt names Bob New."
    add_upload(engine, "story.txt", old)
    res = add_upload(engine, "story.txt", new)
    assert res.status == "updated"
    assert (data / "story.txt").read_bytes() == new
    assert res.replaced is not None and res.replaced.parent == data / ".deleted"
    assert res.replaced.read_bytes() == old
    assert add_upload(engine, "story.txt", new).replaced is None  # the same bytes again replace nothing


@pytest.mark.skipif(__import__("conftest").SERVER_MODE, reason="the full disk is the local index folder's")
def test_a_failed_replacing_upload_puts_the_old_file_and_its_index_back(make_engine, tmp_path, monkeypatch):
    """Indexing the new version fails (the space margin raised above the free space, as in the test above): the
    old file is back in the article folder, a copy of it is in .deleted/, and once there is room the next ingest
    answers from the old text, not the rejected upload."""
    from citechat.errors import IndexFull
    from citechat.store import guard

    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    old = b"The old story.\n\nIt names Alice Old as the winner."
    add_upload(engine, "story.txt", old)
    monkeypatch.setattr(guard, "SPACE_MARGIN", guard.free_bytes(tmp_path) + 1)
    with pytest.raises(IndexFull):
        add_upload(engine, "story.txt", b"The new story.\n\nIt names Bob New as the winner.")
    monkeypatch.setattr(guard, "SPACE_MARGIN", 0)
    assert (data / "story.txt").read_bytes() == old
    assert [p.read_bytes() for p in (data / ".deleted").iterdir()] == [old]
    engine.ingest([data], progress=False)
    text = engine.read_articles(["story.txt"])["story.txt"].text
    assert "Alice Old" in text and "Bob New" not in text


def test_deletes_of_one_name_in_the_same_second_keep_every_copy(make_engine, tmp_path, monkeypatch):
    """The clock is held still (only the library's view of it), so both deletes fall in one second."""
    import types

    import citechat.library as library

    still = types.SimpleNamespace(time=lambda: 1.7e9, time_ns=__import__("time").time_ns,
                                  strftime=lambda *a: "20231114-221320")
    monkeypatch.setattr(library, "time", still)
    data = tmp_path / "articles"
    data.mkdir()
    engine = make_engine(data_dir=data)
    kept = []
    for body in (b"First version.\n\nOne.", b"Second version.\n\nTwo."):
        add_upload(engine, "same.txt", body)
        kept.append(delete_article(engine, "same.txt"))
    assert kept[0] != kept[1]
    assert [p.read_bytes() for p in kept] == [b"First version.\n\nOne.", b"Second version.\n\nTwo."]
