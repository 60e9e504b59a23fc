"""The chat's options area: "Narrow to" filter controls (articles, outlets, date range) and the conversation
export buttons (Markdown, JSON). Built and wired here so that `build_app` only places them."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ..chat import Conversation
from ..engine import Engine
from ..errors import FilterError, StoreUnavailable
from ..export import conversation_json, conversation_markdown, export_filename
from ..filters import ArticleFilter
from .render import md_esc

DATE_HINT = "YYYY-MM-DD"


# --- Narrow to: filters ---------------------------------------------------------------------------------

def article_choices(engine: Engine) -> list[tuple[str, str]]:
    """(label, file name) of every indexed article, by title; the file name tells equal titles apart."""
    arts = sorted(engine.list_articles().values(), key=lambda a: ((a.title or a.source).lower(), a.source))
    out = []
    for a in arts:
        title = a.title if len(a.title) <= 60 else a.title[:59] + "…"
        out.append((f"{title} ({a.source})" if title else a.source, a.source))
    return out


def outlet_choices(engine: Engine) -> list[str]:
    """The distinct outlets of the indexed articles."""
    return sorted({a.outlet.strip() for a in engine.list_articles().values() if a.outlet.strip()},
                  key=str.lower)


@dataclass
class FilterControls:
    articles: gr.Dropdown
    outlets: gr.Dropdown
    since: gr.Textbox
    until: gr.Textbox

    @property
    def inputs(self) -> list[Any]:
        """In the order `read_filter` takes them."""
        return [self.articles, self.outlets, self.since, self.until]


def filter_controls(engine: Engine) -> FilterControls:
    """The "Narrow to" group (placed inside the caller's layout context)."""
    with gr.Group(elem_id="narrow"):
        gr.Markdown("**Narrow to** (empty: all articles)", elem_id="narrow-title")
        articles = gr.Dropdown(label="Articles", choices=article_choices(engine), value=[], multiselect=True,
                               elem_id="narrow-articles")
        outlets = gr.Dropdown(label="Outlets", choices=outlet_choices(engine), value=[], multiselect=True,
                              elem_id="narrow-outlets")
        with gr.Row():
            since = gr.Textbox(label="Since", placeholder=DATE_HINT, max_length=10, elem_id="narrow-since")
            until = gr.Textbox(label="Until", placeholder=DATE_HINT, max_length=10, elem_id="narrow-until")
    return FilterControls(articles, outlets, since, until)


def read_filter(sources: Iterable[str] | str | None, outlets: Iterable[str] | str | None, since: str | None,
                until: str | None) -> ArticleFilter | None:
    """The filter the controls (or the API's arguments) describe; None when nothing narrows. FilterError on a
    bad date."""
    f = ArticleFilter.parse(sources=sources, outlets=outlets, since=since, until=until)
    return None if f.is_empty() else f


def filter_message(e: FilterError) -> str:
    """A FilterError as a chat message: what is wrong and that the question is still in the box."""
    return f"🔎 **Narrow to:** {md_esc(e)} Your question is still in the box: change the filter and send it again."


def refresh_filter_choices(engine: Engine, articles: list[str] | None, outlets: list[str] | None) -> tuple:
    """New choices after the library changed; selected values that are gone are dropped. During an index outage
    the choices stay as they are (the Library tab and the chat say why)."""
    try:
        arts, outs = article_choices(engine), outlet_choices(engine)
    except StoreUnavailable:
        return gr.update(), gr.update()
    keep_a = [v for v in (articles or []) if v in {s for _, s in arts}]
    keep_o = [v for v in (outlets or []) if v in outs]
    return gr.update(choices=arts, value=keep_a), gr.update(choices=outs, value=keep_o)


def wire_filter_refresh(engine: Engine, controls: FilterControls, events: Iterable[Any], demo: gr.Blocks) -> None:
    """Refresh the article and outlet choices when a page loads and after each of `events` (upload, delete)."""

    def refresh(articles: list[str] | None, outlets: list[str] | None) -> tuple:
        return refresh_filter_choices(engine, articles, outlets)

    both = [controls.articles, controls.outlets]
    demo.load(refresh, both, both, api_visibility="private", show_progress="hidden")
    for ev in events:
        ev.then(refresh, both, both, api_visibility="private", show_progress="hidden")


# --- export -----------------------------------------------------------------------------------------------

@dataclass
class ExportControls:
    markdown: gr.DownloadButton
    json: gr.DownloadButton

    @property
    def outputs(self) -> list[Any]:
        return [self.markdown, self.json]


def export_controls() -> ExportControls:
    """"Download as Markdown" and "Download as JSON"; usable once the conversation has an answer."""
    with gr.Row(elem_id="export"):
        md = gr.DownloadButton("Download as Markdown", interactive=False, size="sm", elem_id="export-md")
        js = gr.DownloadButton("Download as JSON", interactive=False, size="sm", elem_id="export-json")
    return ExportControls(md, js)


class ExportFolders:
    """Each page session's export files in its own folder under one temporary root, removed when the page
    closes (`drop`): one session can never overwrite or delete another's files."""

    def __init__(self) -> None:
        self._root: Path | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="citechat-export-"))
                # the whole root goes when the app stops (or this object does): no conversation outlives the server
                weakref.finalize(self, shutil.rmtree, self._root, True)
            return self._root

    def session_dir(self, session: str) -> Path:
        return self.root / hashlib.sha256(session.encode("utf-8")).hexdigest()[:24]  # the hash is client-chosen

    def folder(self, session: str, conv: Conversation) -> Path:
        folder = self.session_dir(session) / (conv.id or "live")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write(self, session: str, conv: Conversation) -> tuple[Path, Path]:
        """Write the conversation as Markdown and JSON into its folder, replacing its previous export (so files
        don't pile up: one pair per conversation); return both paths."""
        folder = self.folder(session, conv)
        for old in folder.iterdir():
            old.unlink()
        md, js = folder / export_filename("md"), folder / export_filename("json")
        md.write_text(conversation_markdown(conv), encoding="utf-8")
        js.write_text(conversation_json(conv), encoding="utf-8")
        return md, js

    def drop(self, session: str) -> None:
        """Remove a closed session's exports (Gradio keeps its own copies of files it already served)."""
        if self._root is not None:
            shutil.rmtree(self.session_dir(session), ignore_errors=True)


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "no-session"


def wire_exports(controls: ExportControls, conv_state: Any, events: Iterable[Any], demo: gr.Blocks,
                 folders: ExportFolders | None = None) -> ExportFolders:
    """Refresh the export files after each of `events` (an answer, clearing the conversation); a session's files
    are removed when its page closes."""
    folders = folders or ExportFolders()

    def update(conv: Conversation | None, request: gr.Request) -> tuple:
        """The buttons' files for the conversation so far (disabled while it is empty)."""
        if conv is None or not conv.turns:
            return gr.update(value=None, interactive=False), gr.update(value=None, interactive=False)
        md, js = folders.write(_session(request), conv)
        return gr.update(value=str(md), interactive=True), gr.update(value=str(js), interactive=True)

    def closed(request: gr.Request) -> None:
        folders.drop(_session(request))

    for ev in events:
        ev.then(update, [conv_state], controls.outputs, api_visibility="private", show_progress="hidden")
    demo.unload(closed)
    return folders
