"""The chat tab's side list of saved conversations (history.py): open, rename, delete, start a new one, and bring
the last open conversation back after a page reload.

The owner of a conversation is the logged-in user (with CITECHAT_AUTH) or else the browser: a random id kept in
the browser's localStorage (`gr.BrowserState`), made on the first visit.
"""

from __future__ import annotations

import logging
import re
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from ..chat import Conversation, Turn
from ..errors import HistoryError, StoreUnavailable
from ..history import History, new_owner_id
from .render import md_esc, message_markdown

log = logging.getLogger(__name__)

STORAGE_KEY = "citechat-browser-id"
LOADING = "Conversations (loading…)"
_BROWSER_ID = re.compile(r"^[0-9a-f]{32}$")
SESSION_IDS = 10_000  # page sessions whose new browser id is remembered

HISTORY_CSS = """
#history-list { max-height: 420px; overflow-y: auto; }
#history-list label { width: 100%; }
#history-col .hist-buttons button { min-width: 0; }
@media (max-width: 640px) { #history-col { order: 9; } }  /* phones: the chat first, past conversations last */
"""


def browser_secret(folder: Path) -> str:
    """The key `gr.BrowserState` encrypts the browser id with; kept in the index folder so it outlives restarts."""
    path = Path(folder) / "browser_secret"
    try:
        return path.read_text(encoding="utf-8").strip() or _new_secret(path)
    except FileNotFoundError:
        return _new_secret(path)


def _new_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(16)
    path.write_text(value, encoding="utf-8")
    path.chmod(0o600)
    return value


def owner_of(browser_id: str | None, username: str | None,
             new_id: Callable[[], str] = new_owner_id) -> tuple[str, str]:
    """(browser id to keep, owner key): the user name when logged in, else the browser's id (`new_id()` if the
    browser has none or a malformed one)."""
    bid = browser_id if isinstance(browser_id, str) and _BROWSER_ID.match(browser_id) else new_id()
    return bid, (f"user:{username}" if username else f"browser:{bid}")


def chat_messages(conv: Conversation) -> list[dict[str, str]]:
    out = []
    for t in conv.turns:
        out.append({"role": "user", "content": md_esc(t.question) or "(empty)"})
        out.append({"role": "assistant", "content": message_markdown(t)})
    return out


def _label(title: str, when: float) -> str:
    return f"{title or '(untitled)'} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(when))}"


class HistoryPanel:
    """Builds the side list (`render`) and wires it to the chat (`wire`). `panel(conv, active)` renders the
    sources panel for a conversation with its citations checked against the current articles."""

    def __init__(self, history: History, panel: Callable[[Conversation, str | None], str],
                 hashes: Callable[[list[str]], dict[str, str]], secret: str) -> None:
        self.history, self.panel, self.hashes, self.secret = history, panel, hashes, secret
        self._lock = threading.Lock()
        # A browser's new id per page session, so a question asked before the load step has stored one is saved
        # under the id that step then gives the browser (both look it up here by the session hash).
        self._session_ids: OrderedDict[str, str] = OrderedDict()
        self._ids_lock = threading.Lock()

    def _session_id(self, request: gr.Request | None) -> str:
        key = getattr(request, "session_hash", None) or ""
        with self._ids_lock:
            bid = self._session_ids.get(key) or new_owner_id()
            self._session_ids[key] = bid
            while len(self._session_ids) > SESSION_IDS:
                self._session_ids.popitem(last=False)
        return bid

    def owner_for(self, browser_id: str | None, request: gr.Request | None) -> tuple[str, str]:
        """(browser id, owner key) for this page session: its stored id if valid, else the session's new one."""
        return owner_of(browser_id, getattr(request, "username", None), new_id=lambda: self._session_id(request))

    def render(self) -> None:
        with gr.Column(scale=1, min_width=220, elem_id="history-col"):
            self.browser_id = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=self.secret)
            self.owner = gr.State(None)
            self.new_btn = gr.Button("New conversation", elem_id="history-new", size="sm")
            self.items = gr.Radio(choices=[], label=LOADING, elem_id="history-list")
            with gr.Row(elem_classes="hist-buttons"):
                self.open_btn = gr.Button("Open", elem_id="history-open", size="sm")
                self.delete_btn = gr.Button("Delete", elem_id="history-delete", size="sm", variant="stop")
            self.name = gr.Textbox(placeholder="New name", show_label=False, elem_id="history-name", max_lines=1)
            self.rename_btn = gr.Button("Rename", elem_id="history-rename", size="sm")
            self.status = gr.Markdown(elem_id="history-status")

    def wire(self, demo: gr.Blocks, chatbot: gr.Chatbot, panel: gr.HTML, conv_state: gr.State,
             box: gr.Textbox, events: list[Any], clear_btn: gr.Button) -> list[Any]:
        """`events`: the chat's answer events, after which the list is refreshed. Returns the events that put
        another conversation in view (load, new, clear, open, delete)."""
        view = [chatbot, panel, conv_state, box]
        loaded = demo.load(self.on_load, [self.browser_id, conv_state],
                           [self.browser_id, self.owner, *view, self.items], api_visibility="private")
        for ev in events:
            ev.then(self.refresh, [self.owner, conv_state], [self.items], api_visibility="private")
        switched = [loaded,
                    self.new_btn.click(self.new, [self.owner], [*view, self.items, self.status],
                                       api_visibility="private"),
                    clear_btn.click(self.new, [self.owner], [*view, self.items, self.status], api_visibility="private"),
                    self.open_btn.click(self.open, [self.owner, self.items], [*view, self.items, self.status],
                                        api_visibility="private")]
        self.rename_btn.click(self.rename, [self.owner, self.items, self.name],
                              [self.items, self.name, self.status], api_visibility="private")
        switched.append(self.delete_btn.click(self.delete, [self.owner, self.items, conv_state],
                                              [*view, self.items, self.status], api_visibility="private"))
        return switched

    # --- handlers -----------------------------------------------------------------------------------------

    def choices(self, owner: str | None, selected: str | None) -> Any:
        convs = self.history.conversations(owner) if owner else []
        ids = {c.id for c in convs}
        return gr.update(choices=[(_label(c.title, c.updated), c.id) for c in convs],
                         value=selected if selected in ids else None, label="Conversations")

    def _view(self, conv: Conversation) -> tuple:
        return chat_messages(conv), self.panel(conv, None), conv, ""

    def load_conversation(self, owner: str, conversation_id: str) -> Conversation:
        rec = self.history.get(owner, conversation_id)
        turns = [Turn(id=t.id, question=t.question, answer=t.answer, hashes=t.hashes) for t in rec.turns]
        return Conversation(turns=turns, id=rec.id)

    def on_load(self, browser_id: str | None, current: Conversation | None, request: gr.Request) -> tuple:
        bid, owner = self.owner_for(browser_id, request)
        conv = None
        try:
            last = self.history.last_open(owner)
            if last:
                conv = self.load_conversation(owner, last)
        except (HistoryError, sqlite3.Error) as e:
            log.warning("history: could not reopen the last conversation: %s", e)
        if conv is None or (current is not None and current.turns):
            # Nothing to reopen, or a question was already asked before this (queued) load step ran: leave the chat
            # as it is, so an answer on its way is never wiped.
            keep = current.id if current is not None else None
            return (bid, owner, gr.skip(), gr.skip(), gr.skip(), gr.skip(), self.choices(owner, keep))
        return (bid, owner, *self._view(conv), self.choices(owner, conv.id))

    def save(self, owner: str | None, conv: Conversation, turn: Turn, browser_id: str | None = None,
             request: gr.Request | None = None) -> str | None:
        """Keep a new turn with its cited articles' current content hashes. Never breaks the chat: returns None
        when saved, else a line for the user. Before the load step has set `owner`, the session's id is used."""
        if not owner:
            owner = self.owner_for(browser_id, request)[1]
        sources = sorted({c.source for c in turn.answer.citations + turn.answer.closest})
        try:
            turn.hashes = self.hashes(sources)
            with self._lock:
                if conv.id is None or conv.id not in {c.id for c in self.history.conversations(owner)}:
                    conv.id = self.history.create(owner)  # new, or deleted meanwhile (e.g. in another tab)
                self.history.add_turn(owner, conv.id, turn.id, turn.question, turn.answer, turn.hashes)
                self.history.set_open(owner, conv.id)
        except (HistoryError, sqlite3.Error, StoreUnavailable) as e:
            log.warning("history: could not save a turn: %s", e)
            return f"This answer was not saved to your conversations ({e}); export it to keep it."
        return None

    def refresh(self, owner: str | None, conv: Conversation | None) -> Any:
        return self.choices(owner, conv.id if conv else None)

    def new(self, owner: str | None) -> tuple:
        if owner:
            self.history.set_open(owner, None)
        return (*self._view(Conversation()), self.choices(owner, None), "")

    def open(self, owner: str | None, conversation_id: str | None) -> tuple:
        if not owner or not conversation_id:
            return (*[gr.update()] * 4, gr.update(), "Choose a conversation first.")
        try:
            conv = self.load_conversation(owner, conversation_id)
            self.history.set_open(owner, conv.id)
        except HistoryError as e:
            return (*[gr.update()] * 4, self.choices(owner, None), f"**Error:** {md_esc(e)}")
        return (*self._view(conv), self.choices(owner, conv.id), "")

    def rename(self, owner: str | None, conversation_id: str | None, name: str) -> tuple:
        if not owner or not conversation_id:
            return gr.update(), gr.update(), "Choose a conversation first."
        try:
            self.history.rename(owner, conversation_id, name or "")
        except (HistoryError, ValueError) as e:
            return gr.update(), gr.update(), f"**Error:** {md_esc(e)}"
        return self.choices(owner, conversation_id), "", "Renamed."

    def delete(self, owner: str | None, conversation_id: str | None, conv: Conversation | None) -> tuple:
        if not owner or not conversation_id:
            return (*[gr.update()] * 4, gr.update(), "Choose a conversation first.")
        try:
            self.history.delete(owner, conversation_id)
        except HistoryError as e:
            return (*[gr.update()] * 4, self.choices(owner, None), f"**Error:** {md_esc(e)}")
        if conv is not None and conv.id == conversation_id:  # the open one: start afresh
            return (*self._view(Conversation()), self.choices(owner, None), "Deleted.")
        return (*[gr.update()] * 4, self.choices(owner, conv.id if conv else None), "Deleted.")
