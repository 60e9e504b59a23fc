"""Logging setup: human-readable lines by default, one JSON object per line with CITECHAT_LOG_FORMAT=json.

Ingest and query events carry counts and timings, never article bodies or API keys."""

from __future__ import annotations

import json
import logging
import time

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": round(time.time(), 3), "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        out.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")})
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(verbose: bool = False, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose or fmt == "json" else logging.WARNING)
    # (Chroma's logger is quieted by citechat.store.client, the one module that opens Chroma clients)
    for name in ("bm25s", "jieba", "httpx", "urllib3", "sentence_transformers", "httpcore", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
