"""citechat web app: chat with cited answers, a sources panel, and a library of articles.

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index] [--data-dir data/articles] [--ingest]

`make run` ingests `data/articles/` and starts this. Environment: CITECHAT_HOST, CITECHAT_PORT,
CITECHAT_AUTH=user:pass (optional login), and every other CITECHAT_* setting.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from citechat.config import load_settings  # noqa: E402
from citechat.errors import CitechatError  # noqa: E402
from citechat.engine import Engine  # noqa: E402


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("CITECHAT_AUTH must look like user:password")
    return user, password


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="citechat web app")
    p.add_argument("--host", default=None, help="bind address (default $CITECHAT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default $CITECHAT_PORT or 7860)")
    p.add_argument("--index-dir", default=None, help="index folder (default $CITECHAT_INDEX_DIR or index)")
    p.add_argument("--data-dir", default=None, help="article folder (default $CITECHAT_DATA_DIR or data/articles)")
    p.add_argument("--ingest", action="store_true", help="bring the index up to date with the article folder first")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "index_dir": args.index_dir,
                                   "data_dir": args.data_dir}.items() if v is not None}
    try:
        settings = load_settings(**overrides)
    except CitechatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from citechat.logs import setup_logging

    setup_logging(False, settings.log_format)
    try:
        auth = parse_auth(settings.auth)
        engine = Engine(settings, create=True)
        if args.ingest:
            print(engine.ingest().summary())
        engine.warm_up()
    except (CitechatError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not engine.store.list_articles():
        print(f"warning: the index in {settings.index_dir} is empty; run `citechat ingest` or start with --ingest",
              file=sys.stderr)
    if settings.host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"warning: serving on {settings.host} without a password; set CITECHAT_AUTH=user:pass. Library uploads "
              f"are {'on (CITECHAT_ALLOW_UPLOADS)' if settings.uploads_enabled else 'off'}.", file=sys.stderr)

    from citechat.ui.app import build_app, launch_kwargs

    demo = build_app(engine)
    print(f"citechat is running on http://{settings.host}:{settings.port}", flush=True)
    demo.queue(default_concurrency_limit=settings.concurrency, max_size=256).launch(
        server_name=settings.host, server_port=settings.port, auth=auth, show_error=False,
        max_file_size="5mb", **launch_kwargs(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
