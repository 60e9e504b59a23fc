"""The Gradio app: Chat (streamed answers, clickable [n] markers, sources panel), Library (list, upload,
delete) and a `/chat` API for programs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from ..chat import Conversation, Turn, append_feedback, ask_stream, feedback_record
from ..engine import Engine, QuestionError
from ..errors import FilterError, IndexFull, StoreUnavailable, error_record
from ..history import History
from ..ingest.metadata import display_date
from ..library import UploadError, add_upload, delete_article
from .history_panel import HISTORY_CSS, HistoryPanel, browser_secret
from .options import export_controls, filter_controls, filter_message, read_filter, wire_exports, wire_filter_refresh
from .render import CSS, JS_HEAD, cited_sources, esc, md_esc, message_markdown, panel_html

log = logging.getLogger(__name__)

# Gradio gives the upload handler a progress tracker because its default is a gr.Progress (the tracker reads the
# event from context variables, so one instance serves every app and event).
_PROGRESS = gr.Progress()

EXAMPLES = [
    "Who presented flags in Luohu?",
    "When did Liu Qiang visit Shizhong District?",
    "On what date did Licheng District hold its commendation conference?",
    "歷城區的地區生產總值突破了多少?",
]
LIBRARY_COLUMNS = ["File", "Title", "Outlet", "Date", "Chunks", "Sentences"]


class AppState:
    """Per-process helpers shared by all sessions (the engine is thread-safe for questions)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.feedback_path = Path(engine.settings.index_dir) / "feedback.jsonl"
        self._feedback_lock = threading.Lock()

    def articles_for(self, conv: Conversation) -> dict[str, str]:
        sources = sorted(set(cited_sources(conv)))
        return {s: a.text for s, a in self.engine.read_articles(sources).items()}

    def hashes(self, sources: list[str]) -> dict[str, str]:
        """Current content hash of each indexed article among `sources` (deleted ones are left out)."""
        return {s: a.content_hash for s, a in self.engine.read_articles(sorted(set(sources)), text=False).items()}

    def panel(self, conv: Conversation, active: str | None) -> str:
        """The sources panel, each citation checked against its article as it is now. During an index outage: the
        quoted sentences (kept with the conversation), unchecked, under a plain note."""
        try:
            return panel_html(conv, active, self.articles_for(conv), self.hashes(list(cited_sources(conv))))
        except StoreUnavailable as e:
            note = f'<p class="closest-note" id="sources-outage">{esc(e)}</p>'
            return panel_html(conv, active, {}).replace('<div id="sources-panel">', f'<div id="sources-panel">{note}', 1)

    def history_panel(self) -> HistoryPanel:
        folder = Path(self.engine.settings.index_dir)
        return HistoryPanel(History.in_folder(folder), self.panel, self.hashes, browser_secret(folder))

    def library_rows(self) -> list[list[Any]]:
        arts = self.engine.list_articles()
        return [[a.source, _clip(a.title, 80), a.outlet, display_date(a.date), a.chunks, a.sentences]
                for a in sorted(arts.values(), key=lambda a: a.source)]

    def library_view(self) -> tuple[Any, Any, str]:
        """(table rows, article choices, status) for the Library tab; during an index outage the table and
        choices stay as they are and the status says why (a plain message, not an error badge)."""
        try:
            rows = self.library_rows()
        except StoreUnavailable as e:
            return gr.update(), gr.update(), outage_message(e)
        return rows, gr.update(choices=[r[0] for r in rows]), ""

    def initial_rows(self) -> list[list[Any]]:
        """The table when a page loads: empty during an outage (the tab's status then says why)."""
        try:
            return self.library_rows()
        except StoreUnavailable:
            return []

    def record_feedback(self, record: dict[str, Any]) -> None:
        with self._feedback_lock:
            append_feedback(self.feedback_path, record)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def outage_message(e: StoreUnavailable) -> str:
    return f"⏳ **Index unavailable:** {md_esc(e)}"


def notice_message(e: FilterError | StoreUnavailable) -> str:
    """A bad filter or an index outage as a chat message: what is wrong and that the question is still in the box."""
    if isinstance(e, FilterError):
        return filter_message(e)
    return f"{outage_message(e)} Your question is still in the box: send it again then."


def _turn_id_of(message: Any) -> str | None:
    import re

    text = message if isinstance(message, str) else str(message)
    m = re.search(r"#cite-([0-9a-f]+)-", text)
    return m.group(1) if m else None


def build_app(engine: Engine) -> gr.Blocks:
    app = AppState(engine)
    saved = app.history_panel()

    def respond(message: str, history: list, conv: Conversation | None, owner: str | None,
                browser_id: str | None, request: gr.Request, *narrow: Any) -> Iterator[tuple]:
        # `request` comes before *narrow: Gradio inserts it at its place among the positional inputs.
        conv = conv or Conversation()
        history = list(history or [])
        question = (message or "").strip()
        history.append({"role": "user", "content": md_esc(question) or "(empty)"})
        history.append({"role": "assistant", "content": ""})
        draft = ""
        turn = None
        try:
            for item in ask_stream(engine, conv, message or "", read_filter(*narrow)):
                if isinstance(item, Turn):
                    turn = item
                    break
                draft += item  # LLM tokens: shown as a draft until the citation check has run
                history[-1] = {"role": "assistant", "content": md_esc(draft) + " …"}
                yield history, gr.update(), conv, ""
        except QuestionError as e:
            history[-1] = {"role": "assistant", "content": f"⚠️ {md_esc(e)}"}
            yield history, gr.update(), conv, ""
            return
        except (FilterError, StoreUnavailable) as e:  # a clear message, not an error badge; the question stays
            history[-1] = {"role": "assistant", "content": notice_message(e)}
            yield history, gr.update(), conv, message
            return
        assert turn is not None
        full = message_markdown(turn)
        unsaved = saved.save(owner, conv, turn, browser_id, request)
        history[-1] = {"role": "assistant", "content": full + (f"\n\n⚠️ {md_esc(unsaved)}" if unsaved else "")}
        yield history, app.panel(conv, turn.id), conv, ""

    def on_like(data: gr.LikeData, conv: Conversation | None) -> None:
        if conv is None:
            return
        turn = conv.get(_turn_id_of(data.value) or "")
        if turn is None:
            return
        liked = data.liked if isinstance(data.liked, bool) else str(data.liked).lower() in ("like", "true", "1")
        app.record_feedback(feedback_record(turn, liked))

    def on_select(data: gr.SelectData, conv: Conversation | None) -> Any:
        if conv is None:
            return gr.update()
        tid = _turn_id_of(data.value)
        return app.panel(conv, tid) if tid else gr.update()

    uploads = engine.settings.uploads_enabled

    def upload(files: list | None, progress: gr.Progress = _PROGRESS) -> tuple:
        if not uploads:
            return gr.update(), "**Error:** uploads are disabled on this server (set CITECHAT_AUTH or CITECHAT_ALLOW_UPLOADS=true)."
        if not files:
            return gr.update(), "Choose one or more .txt, .md or .html files first."
        lines = []
        paths = [Path(f if isinstance(f, str) else f.name) for f in files]
        for i, p in enumerate(paths):
            progress((i, len(paths)), desc=f"Indexing {p.name}")
            try:
                res = add_upload(engine, p.name, p.read_bytes())
                kept = f"; the file it replaced is kept as `{md_esc(res.replaced)}`" if res.replaced else ""
                lines.append(f"**Added:** {md_esc(res.source)} ({res.status}{kept})")
            except (UploadError, IndexFull) as e:
                lines.append(f"**Error:** {md_esc(e)}")
            except StoreUnavailable as e:
                lines.append(f"{md_esc(p.name)}: not added. {outage_message(e)}")
            except OSError as e:
                lines.append(f"**Error:** {md_esc(p.name)}: could not be read ({md_esc(e.strerror)})")
        progress((len(paths), len(paths)), desc="Done")
        rows, _, down = app.library_view()
        return rows, "\n\n".join(lines + ([down] if down else []))

    def delete(source: str | None) -> tuple:
        if not uploads:
            return gr.update(), gr.update(), "**Error:** changes to the library are disabled on this server."
        if not source:
            return gr.update(), gr.update(), "Choose an article to delete."
        try:
            moved = delete_article(engine, source)
        except (UploadError, IndexFull) as e:
            return app.library_view()[0], gr.update(), f"**Error:** {md_esc(e)}"
        except StoreUnavailable as e:
            return gr.update(), gr.update(), f"{md_esc(source)}: not deleted. {outage_message(e)}"
        where = f" Its file was moved to `{md_esc(moved)}`." if moved else ""
        rows, choices, down = app.library_view()
        if down:
            return rows, choices, f"**Deleted:** {md_esc(source)}.{where} {down}"
        return rows, gr.update(choices=[r[0] for r in rows], value=None), f"**Deleted:** {md_esc(source)}.{where}"

    def refresh_library() -> tuple:
        return app.library_view()

    def api_chat(message: str, sources: list[str] | None = None, outlets: list[str] | None = None,
                 since: str | None = None, until: str | None = None) -> dict[str, Any]:
        """Answer one question, optionally only from some articles (file names), outlets or dates (YYYY-MM-DD).
        Returns the answer text and its citations (see README: "/chat API")."""
        try:
            return engine.ask(message, read_filter(sources, outlets, since, until)).to_json()
        except (QuestionError, FilterError, StoreUnavailable) as e:
            return {**error_record(e, question=message), "answer": "", "answerable": False, "citations": [],
                    "closest": []}

    def api_article(source: str) -> str:
        """The whole text of one indexed article (the sources panel's "Open the whole article" fetches it)."""
        try:
            art = engine.read_articles([source]).get(source)
        except StoreUnavailable as e:
            raise gr.Error(str(e)) from e
        if art is None:
            raise gr.Error(f"No article named {source!r} is indexed (it may have been deleted since this answer).")
        return art.text

    # delete_cache: Gradio's copies of served files (exports, uploads) older than a day go, checked hourly
    with gr.Blocks(title="citechat", analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
        conv_state = gr.State(None)
        gr.Markdown("## citechat\nAsk about the news articles. Every answer quotes the sentences it comes from — "
                    "click a **[n]** to check it. When the articles don't say, citechat says so.")
        with gr.Tab("Chat"):
            with gr.Row():
                saved.render()
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(elem_id="chat", height=540, sanitize_html=True, label="Chat",
                                         feedback_options=("Like", "Dislike"), group_consecutive_messages=False)
                    with gr.Row():
                        box = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                         scale=5, elem_id="question", max_length=engine.settings.answer.max_question_chars)
                        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                    clear_btn = gr.Button("Clear conversation", elem_id="clear")
                    exports = export_controls()
                    with gr.Accordion("Options", open=False, elem_id="options"):
                        narrow = filter_controls(engine)
                    gr.Examples(examples=EXAMPLES, inputs=box, label="Try one of these")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    panel = gr.HTML(panel_html(Conversation(), None, {}), elem_id="sources")
        with gr.Tab("Library") as lib_tab:
            table = gr.Dataframe(headers=LIBRARY_COLUMNS, value=app.initial_rows, interactive=False,
                                 elem_id="library-table", wrap=True,
                                 column_widths=["20%", "40%", "16%", "10%", "7%", "7%"])
            if not uploads:
                gr.Markdown("Uploads and deletes are off: this server has no password, and anyone who reaches it "
                            "(through a proxy, too) could change the library. Set `CITECHAT_AUTH=user:pass`, or "
                            "`CITECHAT_ALLOW_UPLOADS=true` if only you can reach it.", elem_id="uploads-off")
            with gr.Row(visible=uploads):
                files = gr.File(label="Add articles (.txt, .md, .html; up to 5 MB each)", file_count="multiple",
                                file_types=[".txt", ".md", ".markdown", ".html", ".htm"], elem_id="upload")
                with gr.Column():
                    upload_btn = gr.Button("Add to the library", variant="primary", elem_id="upload-button")
                    choice = gr.Dropdown(label="Article", choices=[r[0] for r in app.initial_rows()],
                                         elem_id="delete-choice")
                    delete_btn = gr.Button("Delete article", variant="stop", elem_id="delete-button")
            status = gr.Markdown(elem_id="library-status")

        outputs = [chatbot, panel, conv_state, box]
        inputs = [box, chatbot, conv_state, saved.owner, saved.browser_id, *narrow.inputs]
        # "ask" is the browser's own chat event (answer, history save, sources panel); undocumented, so programs use
        # /chat, but the load test can time what a browser gets (bench/load.py, client "chat-event")
        asked = [box.submit(respond, inputs, outputs, api_name="ask", api_visibility="undocumented"),
                 send.click(respond, inputs, outputs, api_visibility="private")]
        switched = saved.wire(demo, chatbot, panel, conv_state, box, asked, clear_btn)
        wire_exports(exports, conv_state, [*asked, *switched], demo)
        chatbot.like(on_like, [conv_state], None, api_visibility="private")
        chatbot.select(on_select, [conv_state], panel, api_visibility="private")
        library_changed = [upload_btn.click(upload, [files], [table, status], api_visibility="private",
                                            concurrency_limit=1),
                           delete_btn.click(delete, [choice], [table, choice, status], api_visibility="private",
                                            concurrency_limit=1),
                           lib_tab.select(refresh_library, None, [table, choice, status], api_visibility="private")]
        wire_filter_refresh(engine, narrow, library_changed, demo)
        gr.api(api_chat, api_name="chat")
        gr.api(api_article, api_name="article")
    return demo


def launch_kwargs() -> dict[str, Any]:
    return {"css": CSS + HISTORY_CSS, "head": JS_HEAD}
