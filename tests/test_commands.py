"""The commands' usage errors, in-process (cli.main): each is a UsageError that cli._run turns into one line on
stderr and exit 2, and nothing is changed. (tests/test_cli.py runs the real command in subprocesses.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from citechat import cli
from citechat.errors import EXIT_USAGE, CitechatError, HistoryError, QuestionError, UsageError, error_record


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setattr(cli, "prepare_process", lambda verbose: None)  # keep this process's logging as it is


def usage_error(capsys, argv: list[str]) -> str:
    assert cli.main(argv) == EXIT_USAGE
    out, err = capsys.readouterr()
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_ask_without_a_question(capsys):
    assert "give a question" in usage_error(capsys, ["ask"])


def test_ask_with_both_formats(capsys):
    assert "choose one of --json and --markdown" in usage_error(capsys, ["ask", "--json", "--markdown", "q"])


def test_ask_jsonl_file_that_is_not_there(capsys, tmp_path):
    err = usage_error(capsys, ["ask", "--jsonl", str(tmp_path / "none.jsonl")])
    assert "none.jsonl is not a file" in err


def test_eval_file_that_is_not_there(capsys, tmp_path):
    assert "is not a file" in usage_error(capsys, ["eval", str(tmp_path / "none.jsonl")])


def test_rebuild_refuses_an_article_folder_inside_the_index(capsys, tmp_path):
    index = tmp_path / "index"
    (index / "articles").mkdir(parents=True)
    (index / "articles" / "a.txt").write_text("An article.", encoding="utf-8")
    err = usage_error(capsys, ["index", "--index-dir", str(index), "--data-dir", str(index / "articles"), "rebuild"])
    assert "refusing to rebuild" in err
    assert (index / "articles" / "a.txt").read_text(encoding="utf-8") == "An article."  # nothing moved
    assert [p.name for p in tmp_path.iterdir()] == ["index"]


def test_rebuild_without_an_article_folder(capsys, tmp_path):
    err = usage_error(capsys, ["index", "--index-dir", str(tmp_path / "index"), "--data-dir",
                               str(tmp_path / "none"), "rebuild"])
    assert "does not exist; nothing to rebuild from" in err
    assert not (tmp_path / "index").exists()


def test_errors_share_one_base_and_one_json_shape():
    for cls in (UsageError, HistoryError, QuestionError):
        assert issubclass(cls, CitechatError)
    assert error_record(QuestionError("The question is empty."), id="a", question="") == {
        "id": "a", "question": "", "error": "The question is empty.", "kind": "QuestionError"}
    assert error_record(UsageError("bad input line"), line=3)["kind"] == "UsageError"


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(UsageError):
        cli.main(["--debug", "ask", "--jsonl", str(Path(tmp_path) / "none.jsonl")])
