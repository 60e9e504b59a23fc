"""`citechat serve` (and `python app.py`): the web app's settings (login, threads per question), its engine, the
warnings a server owner needs, then Gradio's launch. The command line parses the options (cli.py)."""

from __future__ import annotations

import signal
import sys

from .commands import Options
from .errors import CitechatError, SettingsError, UsageError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SettingsError("CITECHAT_AUTH must look like user:password")
    return user, password


def _stop_on_sigterm() -> None:
    """SIGTERM (`kill`, `docker stop`, systemd) stops the server as Ctrl-C does: Gradio closes it and the exit
    handlers run, so the session export folders (ui/options.py) are removed."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def serve(opts: Options, host: str | None, port: int | None, ingest_first: bool) -> int:
    """Start the web app (Gradio) and serve until interrupted."""
    from .engine import Engine

    settings = opts.settings(**{k: v for k, v in {"host": host, "port": port}.items() if v is not None})
    auth = parse_auth(settings.auth)
    if settings.question_threads is None and settings.concurrency > 1:
        settings.question_threads = 1  # questions answered side by side: one core each does more per second
    if settings.question_threads is not None:
        from threadpoolctl import threadpool_limits

        threadpool_limits(settings.question_threads, user_api="blas")  # the query embedding's matrix products
    try:
        engine = Engine(settings, create=True)
        if ingest_first:
            print(engine.ingest().summary())
        engine.warm_up()
    except ValueError as e:  # a bad value found while building the engine: one line, like a settings error
        if isinstance(e, CitechatError):
            raise
        raise UsageError(str(e)) from e
    if not engine.list_articles():
        print(f"warning: the index in {settings.index_dir} is empty; run `citechat ingest` or start with --ingest",
              file=sys.stderr)
    if settings.host not in LOOPBACK and auth is None:
        print(f"warning: serving on {settings.host} without a password; set CITECHAT_AUTH=user:pass.", file=sys.stderr)
    if auth is None:
        print("Library uploads and deletes are "
              + ("on (CITECHAT_ALLOW_UPLOADS=true, no password)." if settings.uploads_enabled else
                 "off: set CITECHAT_AUTH=user:pass, or CITECHAT_ALLOW_UPLOADS=true if only you can reach this server."),
              file=sys.stderr)
    from .ui.app import build_app, launch_kwargs

    demo = build_app(engine)
    _stop_on_sigterm()
    print(f"citechat is running on http://{settings.host}:{settings.port}", flush=True)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=256).launch(
        server_name=settings.host, server_port=settings.port, auth=auth, show_error=False,
        max_file_size="5mb", **launch_kwargs(),
    )
    return 0
