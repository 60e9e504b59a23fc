"""The `citechat` command as a user runs it: real subprocesses, real index folders, real models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser_support import store_env
from conftest import ARTICLES, DEV_SET, local_only


def run(args: list[str], index: Path, data: Path = ARTICLES, timeout: int = 300,
        env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, CITECHAT_INDEX_DIR=str(index), CITECHAT_DATA_DIR=str(data), **store_env(index),
               **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "citechat", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def no_traceback(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


@pytest.fixture(scope="module")
def built_index(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("cli") / "index"
    p = run(["ingest", "--no-progress"], index)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("added  ") == 5
    return index


def test_reingest_reports_nothing_changed(built_index):
    p = run(["ingest", "--no-progress"], built_index)
    assert p.returncode == 0
    assert "0 added, 0 updated, 0 removed, 5 unchanged" in p.stdout
    assert "(0 sentences embedded" in p.stdout


def test_ask_human_and_json(built_index):
    p = run(["ask", "Who presented flags in Luohu?"], built_index)
    assert p.returncode == 0, p.stderr
    assert "Liu Sheng" in p.stdout and "001_a87b5d3a02c24cc1.txt" in p.stdout
    p = run(["ask", "--json", "Who presented flags in Luohu?"], built_index)
    d = json.loads(p.stdout)
    assert d["answerable"] is True
    assert d["citations"][0]["source"] == "001_a87b5d3a02c24cc1.txt"
    assert "Liu Sheng and Vanderfan presented flags" in d["citations"][0]["text"]
    assert set(d) >= {"id", "question", "answer", "answerable", "citations", "closest", "timings_ms"}


def test_ask_jsonl_one_object_per_line_and_bad_lines(built_index, tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"id": "a", "question": "Who presented flags in Luohu?"}\nnot json\n'
                 '{"id": "b", "question": "What is the capital of France?"}\n{"id": "c", "question": ""}\n',
                 encoding="utf-8")
    p = run(["ask", "--jsonl", str(f)], built_index)
    no_traceback(p)
    rows = [json.loads(line) for line in p.stdout.splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, "b", "c"]
    assert rows[0]["answerable"] and not rows[2]["answerable"]
    assert "error" in rows[1] and "error" in rows[3]
    assert p.returncode == 1


@pytest.mark.parametrize("question,needle", [("", "empty"), ("   ", "empty"), ("x" * 20000, "limit")])
def test_bad_questions(built_index, question, needle):
    p = run(["ask", question], built_index)
    assert p.returncode == 2
    assert needle in p.stderr
    no_traceback(p)


@local_only
def test_missing_index(tmp_path):
    p = run(["ask", "Who presented flags in Luohu?"], tmp_path / "nothing-here")
    assert p.returncode == 2
    assert "No index found" in p.stderr and "citechat ingest" in p.stderr
    no_traceback(p)
    assert not (tmp_path / "nothing-here").exists()


@local_only
def test_corrupt_index_then_rebuild(built_index, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    (index / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    data = tmp_path / "articles"
    shutil.copytree(ARTICLES, data)
    p = run(["ask", "Who presented flags in Luohu?"], index, data)
    assert p.returncode == 2
    assert "corrupt" in p.stderr and "citechat index rebuild" in p.stderr and str(index) in p.stderr
    no_traceback(p)
    p = run(["index", "rebuild", "--no-progress"], index, data)
    assert p.returncode == 0, p.stderr
    assert "5 added" in p.stdout
    assert sorted(x.name for x in data.iterdir()) == sorted(x.name for x in ARTICLES.iterdir())
    p = run(["ask", "--json", "Who presented flags in Luohu?"], index, data)
    assert json.loads(p.stdout)["answerable"]


@local_only
def test_foreign_folder_is_not_touched(tmp_path):
    index = tmp_path / "notes"
    index.mkdir()
    (index / "diary.txt").write_text("my notes", encoding="utf-8")
    p = run(["ingest", "--no-progress"], index)
    assert p.returncode == 2
    assert "not a citechat index" in p.stderr
    assert (index / "diary.txt").read_text(encoding="utf-8") == "my notes"
    assert sorted(x.name for x in index.iterdir()) == ["diary.txt"]


def test_folder_with_binary_and_non_utf8_files(tmp_path):
    data = tmp_path / "articles"
    shutil.copytree(ARTICLES, data)
    (data / "photo.txt").write_bytes(bytes(range(256)) * 10)
    (data / "latin1.txt").write_bytes("Café crème: a story in Latin-1.".encode("latin-1") * 20)
    (data / "empty.md").write_text("", encoding="utf-8")
    p = run(["ingest", "--no-progress"], tmp_path / "index", data)
    no_traceback(p)
    assert p.returncode == 0
    for name in ("photo.txt", "latin1.txt", "empty.md"):
        assert name in p.stderr
    assert p.stdout.count("added  ") == 5
    assert "3 skipped" in p.stdout


def test_missing_path_and_remove_unknown(built_index, tmp_path):
    p = run(["ingest", str(tmp_path / "nope")], built_index)
    assert p.returncode == 2 and "does not exist" in p.stderr
    p = run(["remove", "not-there.txt"], built_index)
    assert p.returncode == 2 and "not in the index" in p.stderr


def test_eval_command(built_index):
    p = run(["eval", str(DEV_SET)], built_index)
    assert p.returncode == 0, p.stderr
    for label in ("answer accuracy", "abstention accuracy", "citation hit rate", "median cited passage",
                  "latency p50 / p95", "stage p50", "misses"):
        assert label in p.stdout


@local_only
def test_options_work_before_and_after_the_command(built_index, tmp_path):
    # CITECHAT_INDEX_DIR points at built_index; the option must win wherever it is written
    before, after = tmp_path / "before", tmp_path / "after"
    p = run(["--index-dir", str(before), "ingest", "--no-progress"], built_index)
    assert p.returncode == 0, p.stderr
    assert "5 added" in p.stdout and (before / "chroma.sqlite3").exists()
    p = run(["ingest", "--no-progress", "--index-dir", str(after), str(ARTICLES / "001_a87b5d3a02c24cc1.txt")],
            built_index)
    assert p.returncode == 0, p.stderr
    assert "1 added" in p.stdout and (after / "chroma.sqlite3").exists()


def test_calibrate_works_with_an_llm_configured(built_index, tmp_path):
    # calibrate reads the extractive decision only, so the LLM (here a server address nobody answers) is never
    # called and its absence can't break it
    f = tmp_path / "cal.jsonl"
    f.write_text('{"id": "a", "question": "Who presented flags in Luohu?", "answers": ["Liu Sheng"], '
                 '"evidence": "Liu Sheng and Vanderfan presented flags"}\n'
                 '{"id": "b", "question": "What is the capital of France?", "answers": []}\n', encoding="utf-8")
    llm = {"CITECHAT_LLM": "openai-like", "CITECHAT_LLM_BASE_URL": "http://127.0.0.1:9/v1", "CITECHAT_LLM_MODEL": "x"}
    p = run(["calibrate", str(f)], built_index, env_extra=llm)
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    assert "threshold=" in p.stdout and "fewest mistakes here" in p.stdout
    assert "UNANS" in p.stdout and " a ans" in p.stdout


def test_an_unknown_nested_setting_is_an_error_that_names_it(built_index):
    p = run(["ask", "Who presented flags in Luohu?"], built_index, env_extra={"CITECHAT_RETRIEVAL__NO_SUCH_KEY": "1"})
    no_traceback(p)
    assert p.returncode == 2
    assert "CITECHAT_RETRIEVAL__NO_SUCH_KEY" in p.stderr and "dense_top_k" in p.stderr
    p = run(["ask", "Who presented flags in Luohu?"], built_index, env_extra={"CITECHAT_RETRIEVAL__DENSE_TOP_K": "0"})
    assert p.returncode == 2 and "CITECHAT_RETRIEVAL__DENSE_TOP_K" in p.stderr


def test_usage_errors_version_and_help(tmp_path):
    p = run([], tmp_path / "index")
    assert p.returncode == 2 and "Commands:" in p.stdout + p.stderr and "serve" in p.stdout + p.stderr
    p = run(["--version"], tmp_path / "index")
    assert p.returncode == 0 and p.stdout.startswith("citechat ")
    for args in (["no-such-command"], ["ask", "--no-such-option", "q"], ["ask", "--llm", "nope", "q"], ["remove"],
                 ["index"]):
        p = run(args, tmp_path / "index")
        assert p.returncode == 2, args
        no_traceback(p)
    assert not (tmp_path / "index").exists()


def test_shared_options_are_merged_before_and_after_the_command(monkeypatch):
    from citechat import cli, commands

    seen = []
    monkeypatch.setattr(cli, "prepare_process", lambda verbose: None)  # keep this process's logging as it is
    monkeypatch.setattr(commands, "rebuild", lambda opts, no_progress: seen.append((opts, no_progress)) or 0)
    assert cli.main(["--index-dir", "a", "--llm", "openai-like", "-v", "index", "--data-dir", "d", "rebuild",
                     "--index-dir", "b", "--debug", "--no-progress"]) == 0
    opts, no_progress = seen[0]
    assert opts.overrides == {"index_dir": Path("b"), "data_dir": Path("d"), "llm": "openai-like"}
    assert opts.verbose and opts.debug and no_progress


def test_serve_and_app_py_are_one_command(tmp_path):
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, CITECHAT_INDEX_DIR=str(tmp_path / "index"), CITECHAT_AUTH="no-colon")
    app_help = subprocess.run([sys.executable, str(root / "app.py"), "-h"], capture_output=True, text=True, env=env,
                              timeout=120)
    assert app_help.returncode == 0
    for option in ("--host", "--port", "--ingest", "--index-dir", "--data-dir"):
        assert option in app_help.stdout
    for cmd in ([sys.executable, str(root / "app.py")], [sys.executable, "-m", "citechat", "serve"]):
        p = subprocess.run([*cmd, "--port", "9"], capture_output=True, text=True, env=env, timeout=120)
        assert p.returncode == 2, p.stderr
        assert p.stderr.strip() == "error: CITECHAT_AUTH must look like user:password"
    assert not (tmp_path / "index").exists()


def test_ask_with_article_filters(built_index):
    q = "Who presented flags in Luohu?"
    p = run(["ask", "--json", "--source", "001_a87b5d3a02c24cc1.txt", q], built_index)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["answerable"] and {c["source"] for c in d["citations"]} == {"001_a87b5d3a02c24cc1.txt"}
    # the answer's article filtered out: citechat abstains, and nothing it shows comes from that article
    others = [f.name for f in sorted(ARTICLES.iterdir()) if f.name != "001_a87b5d3a02c24cc1.txt"]
    args = ["ask", "--json", *[x for name in others for x in ("--source", name)], q]
    d = json.loads(run(args, built_index).stdout)
    assert "001_a87b5d3a02c24cc1.txt" not in {c["source"] for c in d["citations"] + d["closest"]}
    p = run(["ask", "--since", "2022-13-01", q], built_index)
    assert p.returncode == 2 and "YYYY-MM-DD" in p.stderr and p.stderr.count("\n") == 1
    p = run(["ask", "--source", "no-such-file.txt", q], built_index)
    assert p.returncode == 2 and "Not in the index: no-such-file.txt" in p.stderr
    p = run(["ask", "--since", "2999-01-01", q], built_index)
    assert p.returncode == 2 and "No article matches the filter" in p.stderr
