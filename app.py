"""citechat web app: a Gradio chat whose answers list the sentences they cite.

    python app.py [--host 127.0.0.1] [--port 7860] [--index-dir index] [--data-dir data/articles]

`make run` ingests `data/articles/` first and then starts this. The full citation-checking UI is tracked
separately; this version streams the answer and lists its citations under it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterator

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

import gradio as gr  # noqa: E402

from citechat.answering import Answer  # noqa: E402
from citechat.config import Settings  # noqa: E402
from citechat.engine import Engine, QuestionError  # noqa: E402

EXAMPLES = [
    "Who presented flags in Luohu?",
    "When did Liu Qiang visit Shizhong District?",
    "歷城區的地區生產總值突破了多少?",
]


_MD_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'*_`[]#|~\\"})


def _esc(text: str) -> str:
    """Escape article or user text (HTML and Markdown) so the chat shows it literally."""
    return text.translate(_MD_ESCAPES)


def render_answer(ans: Answer) -> str:
    """The answer with [n] markers; article text escaped, markers kept."""
    if not ans.citations:
        return _esc(ans.answer)
    return " ".join(f"{_esc(c.text)} [{c.n}]" for c in ans.citations)


def render_sources(ans: Answer) -> str:
    if ans.citations:
        lines = ["", "", "**Sources**"]
        for c in ans.citations:
            meta = " · ".join(x for x in (_esc(c.outlet), _esc(c.date)) if x)
            lines.append(f"{c.n}. *{_esc(c.title[:90])}* ({_esc(c.source)}{', ' + meta if meta else ''}), "
                         f"chars {c.start}–{c.end}, score {c.score:.2f}  \n   “{_esc(c.text)}”")
        return "\n".join(lines)
    if ans.closest:
        lines = ["", "", "**Closest matches** (not citations: they do not answer the question)"]
        for c in ans.closest:
            lines.append(f"- ({_esc(c.source)}) “{_esc(c.text[:240])}”")
        return "\n".join(lines)
    return ""


def make_respond(engine: Engine):
    def respond(message: str, history: list) -> Iterator[str]:
        try:
            ans = engine.ask(message)
        except QuestionError as e:
            yield f"⚠️ {_esc(str(e))}"
            return
        body = render_answer(ans)
        # Stream the answer word by word, then append the sources once the answer is complete.
        words = body.split(" ")
        step = max(1, len(words) // 20)
        for i in range(step, len(words) + step, step):
            yield " ".join(words[:i])
            time.sleep(0.01)
        yield body + render_sources(ans)

    return respond


def build_app(engine: Engine) -> gr.Blocks:
    with gr.Blocks(title="citechat", analytics_enabled=False) as demo:
        gr.Markdown("## citechat\nAsk about the news articles. Every answer cites the sentences it comes from; "
                    "when the articles don't say, citechat says so.")
        gr.ChatInterface(
            fn=make_respond(engine),
            chatbot=gr.Chatbot(height=520, sanitize_html=True, label="citechat"),
            examples=EXAMPLES,
            api_name="chat",
            concurrency_limit=4,
        )
    return demo


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="citechat web app")
    p.add_argument("--host", default=None, help="bind address (default $CITECHAT_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default $CITECHAT_PORT or 7860)")
    p.add_argument("--index-dir", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ingest", action="store_true", help="bring the index up to date with the data folder first")
    args = p.parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port, "index_dir": args.index_dir,
                                   "data_dir": args.data_dir}.items() if v is not None}
    settings = Settings(**overrides)
    from citechat.embedding import ModelLoadError
    from citechat.store import IndexProblem

    try:
        engine = Engine(settings, create=True)
        if args.ingest:
            print(engine.ingest().summary())
        engine.warm_up()
    except (IndexProblem, ModelLoadError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not engine.store.list_articles():
        print(f"warning: the index in {settings.index_dir} is empty; run `citechat ingest` or start with --ingest",
              file=sys.stderr)
    demo = build_app(engine)
    print(f"citechat is running on http://{settings.host}:{settings.port}")
    demo.queue(default_concurrency_limit=4).launch(server_name=settings.host, server_port=settings.port,
                                                   show_error=False, max_file_size="10mb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
