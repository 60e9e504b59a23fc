"""What each `citechat` command does (`serve` is in serving.py). The command line itself (commands, options,
exit-code handling) is defined once, in cli.py; these functions receive its parsed values and return the exit
code, or raise a CitechatError (a UsageError for bad usage), which cli._run prints as one line."""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError, error_record
from .ingest.metadata import display_date

if TYPE_CHECKING:
    from .filters import ArticleFilter



@dataclass
class Options:
    """The options every command shares (cli.COMMON), merged from before and after the command name."""

    overrides: dict[str, Any] = field(default_factory=dict)  # settings given on the command line
    verbose: bool = False
    debug: bool = False

    def settings(self, **extra: Any):
        from .config import load_settings

        return load_settings(**{**self.overrides, **extra})

    def engine(self, create: bool):
        from .engine import Engine

        return Engine(self.settings(), create=create)


# --- output ------------------------------------------------------------------------------------------

def format_answer(ans) -> str:
    lines = [ans.answer, ""]
    if ans.reason:
        lines.insert(1, f"Why: {ans.reason}")
    if ans.notice:
        lines.insert(0, f"note: {ans.notice}")
    if ans.unverified:
        lines.append("Unverified (not supported by the sources, not cited):")
        lines += [f" ? {x.text} ({x.reason})" for x in ans.unverified]
        lines.append("")
    if ans.citations:
        lines.append("Citations:")
        for c in ans.citations:
            lines.append(f" [{c.n}] {c.source}: {c.title[:70]} ({c.score_label})")
            lines.append(f"     \"{c.text}\" (chars {c.start}-{c.end})")
            if c.note:
                lines.append(f"     ({c.note})")
    if ans.closest:
        lines.append("Closest matches (not citations; they do not answer the question):")
        for c in ans.closest:
            lines.append(f" - {c.source}: \"{c.text[:200]}\" ({c.score_label})")
    return "\n".join(lines).rstrip()


# --- commands ------------------------------------------------------------------------------------------

def ingest(opts: Options, paths: list[Path], no_progress: bool) -> int:
    from .errors import IndexOutdated

    try:
        engine = opts.engine(create=True)
    except IndexOutdated as e:
        # The index is derived data: rebuild it from the article folder (files are never touched).
        print(f"note: {e} Rebuilding it now.", file=sys.stderr)
        status = rebuild(opts, no_progress)
        if status or not paths:
            return status
        engine = opts.engine(create=True)
    paths = [Path(p) for p in paths] or [Path(engine.settings.data_dir)]
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        raise UsageError(f"{', '.join(map(str, missing))} does not exist. Give an article file or folder "
                         f"(default: {engine.settings.data_dir}).")
    report = engine.ingest(paths, progress=not no_progress)
    for kind in ("added", "updated", "removed", "refreshed"):
        for s in getattr(report, kind):
            print(f"{kind:8} {s}")
    for w in report.skipped:
        print(f"warning: {w}", file=sys.stderr)
    print(report.summary())
    return 0


def ask(opts: Options, question: str | None, as_json: bool, jsonl: Path | None, stream: bool,
        filters: ArticleFilter | None = None, as_markdown: bool = False) -> int:
    from .errors import FilterError, QuestionError

    if jsonl is not None:
        return ask_jsonl(opts, Path(jsonl), filters)
    if question is None:
        raise UsageError('give a question, e.g. citechat ask "Who presented flags in Luohu?"')
    if as_json and as_markdown:
        raise UsageError("choose one of --json and --markdown")
    engine = opts.engine(create=False)
    quiet = as_json or as_markdown  # the LLM's draft words go to stderr, the document to stdout
    try:
        if stream:
            ans = None
            for item in engine.ask_stream(question, filters):
                if isinstance(item, str):
                    print(item, end="", flush=True, file=sys.stderr if quiet else sys.stdout)
                else:
                    ans = item
            if not quiet:
                print("\n")
        else:
            ans = engine.ask(question, filters)
    except (QuestionError, FilterError) as e:
        if as_json:  # the document on stdout, the one line on stderr (cli._run)
            print(json.dumps(error_record(e, question=question), ensure_ascii=False))
        raise
    assert ans is not None  # ask_stream ends with the checked answer
    if as_markdown:
        from .export import question_markdown

        print(question_markdown(question.strip(), ans), end="")
    else:
        print(json.dumps(ans.to_json(), ensure_ascii=False) if as_json else format_answer(ans))
    return 0


def _read_question(line: str) -> dict[str, Any]:
    item = json.loads(line)
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object")
    if not isinstance(item.get("question"), str):
        raise ValueError("missing a string 'question' field")
    return item


def ask_jsonl(opts: Options, path: Path, filters: ArticleFilter | None = None) -> int:
    from .errors import QuestionError

    if not path.is_file():
        raise UsageError(f'{path} is not a file. Give a JSONL file of {{"id": ..., "question": ...}} lines.')
    engine = opts.engine(create=False)
    engine.allowed_sources(filters)  # a filter that allows no article fails once, before any question
    engine.warm_up()
    failures = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = _read_question(line)
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                failures += 1
                print(json.dumps(error_record(UsageError(f"bad input line: {e}"), id=None, line=lineno)))
                continue
            try:
                ans = engine.ask(item["question"], filters)
                ans.id = item.get("id")
                print(json.dumps(ans.to_json(), ensure_ascii=False), flush=True)
            except QuestionError as e:
                failures += 1
                print(json.dumps(error_record(e, id=item.get("id"), question=item["question"]), ensure_ascii=False))
    return 1 if failures else 0


def evaluate(opts: Options, file: Path, as_json: bool, answers: Path | None, compare_prefill: bool) -> int:
    from .evaluation import evaluate as run_eval
    from .evaluation import format_report, read_cases

    path = Path(file)
    if not path.is_file():
        raise UsageError(f"{path} is not a file (expected a dev.jsonl-style question set)")
    try:
        cases = read_cases(path)
    except ValueError as e:
        raise UsageError(str(e)) from e
    engine = opts.engine(create=False)
    res, answered = run_eval(engine, cases, compare_prefill=compare_prefill)
    if as_json:
        print(json.dumps(res.metrics(), ensure_ascii=False, indent=2))
    else:
        print(format_report(res, str(path)))
    if answers:
        with open(answers, "w", encoding="utf-8") as fh:
            for a in answered:
                fh.write(json.dumps(a.to_json(), ensure_ascii=False) + "\n")
    return 0


def list_articles(opts: Options) -> int:
    engine = opts.engine(create=False)
    arts = engine.list_articles()
    if not arts:
        print("The index is empty. Run `citechat ingest`.")
    for a in sorted(arts.values(), key=lambda a: a.source):
        print(f"{a.source}\t{a.title[:60]}\t{a.outlet or '-'}\t{display_date(a.date) or '-'}\t{a.chunks} chunks, "
              f"{a.sentences} sentences")
    return 0


def remove(opts: Options, sources: list[str]) -> int:
    engine = opts.engine(create=False)
    unknown = []
    for source in sources:
        if engine.remove(source):
            print(f"removed  {source}")
        else:
            unknown.append(source)
    if unknown:  # the others are removed first
        raise UsageError(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in the index "
                         "(see `citechat list`)")
    return 0


_CHROMA_OWNED = {"chroma.sqlite3", "chroma.sqlite3-journal", "chroma.sqlite3-wal", "chroma.sqlite3-shm"}


def _move_aside(index_dir: Path) -> Path | None:
    """Rename an existing index folder out of the way (keeping a copy of the feedback log in the new one)."""
    if not index_dir.exists():
        return None
    aside = index_dir.with_name(f"{index_dir.name}.old-{int(time.time())}")
    index_dir.rename(aside)
    feedback = aside / "feedback.jsonl"
    if feedback.exists():
        index_dir.mkdir(parents=True)
        shutil.copy2(feedback, index_dir / "feedback.jsonl")
    return aside


def rebuild(opts: Options, no_progress: bool) -> int:
    """Rebuild the index from the article folder. Article files are never touched: the old index folder is
    moved aside first and deleted only if it held nothing but Chroma's own files."""
    settings = opts.settings()
    index_dir, data_dir = Path(settings.index_dir).resolve(), Path(settings.data_dir).resolve()
    if data_dir == index_dir or index_dir in data_dir.parents:
        raise UsageError(f"the article folder {data_dir} is inside the index folder {index_dir}; refusing to "
                         "rebuild. Use a separate --index-dir.")
    if not data_dir.is_dir():
        raise UsageError(f"the article folder {data_dir} does not exist; nothing to rebuild from.")
    from .engine import Engine
    from .store import Store

    Store.forget_clients()
    aside = _move_aside(index_dir)
    engine = Engine(settings, create=True)
    report = engine.ingest([data_dir], progress=not no_progress)
    for w in report.skipped:
        print(f"warning: {w}", file=sys.stderr)
    print(f"rebuilt {index_dir}: {report.summary()}")
    if aside is not None:
        foreign = [p.name for p in aside.iterdir() if p.name not in _CHROMA_OWNED and p.name != "feedback.jsonl"
                   and not _looks_like_chroma_segment(p)]
        if foreign:
            print(f"the old index folder was kept at {aside} because it holds other files: {', '.join(foreign[:5])}")
        else:
            shutil.rmtree(aside, ignore_errors=True)
    return 0


def _looks_like_chroma_segment(p: Path) -> bool:
    import uuid

    try:
        uuid.UUID(p.name)
        return p.is_dir()
    except ValueError:
        return False


def model_install(opts: Options) -> int:
    from .llm import ensure_local_model

    path = ensure_local_model()
    print(f"local model ready: {path}")
    return 0


def doctor(opts: Options) -> int:
    from .doctor import diagnose, format_checks

    checks = diagnose(opts.settings())
    print(format_checks(checks))
    return 0 if all(c.ok for c in checks) else 1


def calibrate(opts: Options, files: list[Path]) -> int:
    from .calibration import calibrate as run_calibration

    engine = opts.engine(create=False)
    print(run_calibration(engine, [Path(f) for f in files]))
    return 0
