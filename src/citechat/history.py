"""Conversation history kept on the server in SQLite (standard library only, no UI imports).

Every conversation belongs to one owner (a browser's random id, or a logged-in user name); an owner can only
list, open, rename or delete its own. Each turn keeps its answer JSON (`Answer.to_json()`), its citations
(source, offsets, quoted text) and the content hash each cited article had when the answer was given, so a
later reader can tell whether the article has changed or gone since.

Thread-safe: every call opens its own connection (WAL mode, so readers don't wait for a writer).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .answer.types import Answer
from .errors import HistoryError

FILENAME = "conversations.sqlite"
MAX_TITLE = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations (owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, id TEXT NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    created REAL NOT NULL, PRIMARY KEY (conversation, seq), UNIQUE (conversation, id));
CREATE TABLE IF NOT EXISTS citations (
    conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn TEXT NOT NULL, kind TEXT NOT NULL, n INTEGER NOT NULL, source TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, content_hash TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS citations_turn ON citations (conversation, turn);
CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, open TEXT);
"""


@dataclass
class CitationRecord:
    kind: str  # "citation" or "closest"
    n: int
    source: str
    start: int
    end: int
    text: str
    content_hash: str  # the article's hash when the answer was given ("" if it was not in the store)


@dataclass
class TurnRecord:
    id: str
    question: str
    answer: Answer
    created: float
    citations: list[CitationRecord] = field(default_factory=list)

    @property
    def hashes(self) -> dict[str, str]:
        """Content hash per cited source at the time of the answer (sources not in the store then left out)."""
        return {c.source: c.content_hash for c in self.citations if c.content_hash}


@dataclass
class ConversationInfo:
    id: str
    title: str  # the first question, unless renamed
    created: float
    updated: float


@dataclass
class ConversationRecord(ConversationInfo):
    turns: list[TurnRecord] = field(default_factory=list)


def new_owner_id() -> str:
    """A random browser id (128 bits): unguessable, so it can key a browser's conversations."""
    return uuid.uuid4().hex


def _clean_title(title: str) -> str:
    return " ".join(str(title).split())[:MAX_TITLE]


class History:
    """The conversations of all owners in one SQLite file (`<index_dir>/conversations.sqlite`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @classmethod
    def in_folder(cls, folder: Path | str) -> History:
        return cls(Path(folder) / FILENAME)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            with db:  # one transaction: committed on success, rolled back on an error
                yield db

    @staticmethod
    def _check(db: sqlite3.Connection, owner: str, conversation_id: str) -> None:
        row = db.execute("SELECT 1 FROM conversations WHERE id = ? AND owner = ?",
                         (str(conversation_id), str(owner))).fetchone()
        if row is None:
            raise HistoryError(f"no conversation {str(conversation_id)[:40]!r} for this user")

    def create(self, owner: str, title: str = "") -> str:
        """A new, empty conversation; returns its id. Without a title it takes its first question's."""
        if not owner:
            raise ValueError("a conversation needs an owner")
        cid, now = uuid.uuid4().hex, time.time()
        with self._db() as db:
            db.execute("INSERT INTO conversations (id, owner, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                       (cid, owner, _clean_title(title), now, now))
        return cid

    def add_turn(self, owner: str, conversation_id: str, turn_id: str, question: str, answer: Answer,
                 hashes: dict[str, str]) -> TurnRecord:
        """Append a turn: its answer JSON, and its citations and closest matches with `hashes[source]` (the cited
        article's content hash now). Raises HistoryError for an unknown id or a turn id already stored."""
        now = time.time()
        cits = [CitationRecord(kind, c.n, c.source, c.start, c.end, c.text, hashes.get(c.source, ""))
                for kind, group in (("citation", answer.citations), ("closest", answer.closest)) for c in group]
        with self._db() as db:
            self._check(db, owner, conversation_id)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE conversation = ?",
                             (conversation_id,)).fetchone()[0]
            try:
                db.execute("INSERT INTO turns (conversation, seq, id, question, answer, created) VALUES (?,?,?,?,?,?)",
                           (conversation_id, seq, turn_id, question, json.dumps(answer.to_json(), ensure_ascii=False),
                            now))
            except sqlite3.IntegrityError as e:
                raise HistoryError(f"turn {turn_id!r} is already stored in this conversation") from e
            db.executemany('INSERT INTO citations (conversation, turn, kind, n, source, start, "end", text, '
                           "content_hash) VALUES (?,?,?,?,?,?,?,?,?)",
                           [(conversation_id, turn_id, c.kind, c.n, c.source, c.start, c.end, c.text, c.content_hash)
                            for c in cits])
            db.execute("UPDATE conversations SET updated = ?, title = CASE WHEN title = '' THEN ? ELSE title END "
                       "WHERE id = ?", (now, _clean_title(question), conversation_id))
        return TurnRecord(turn_id, question, answer, now, cits)

    def conversations(self, owner: str) -> list[ConversationInfo]:
        """The owner's conversations, most recently used first."""
        with self._db() as db:
            rows = db.execute("SELECT id, title, created, updated FROM conversations WHERE owner = ? "
                              "ORDER BY updated DESC, created DESC", (str(owner),)).fetchall()
        return [ConversationInfo(*r) for r in rows]

    def get(self, owner: str, conversation_id: str) -> ConversationRecord:
        """One conversation with all its turns, in order."""
        with self._db() as db:
            self._check(db, owner, conversation_id)
            info = db.execute("SELECT id, title, created, updated FROM conversations WHERE id = ?",
                              (conversation_id,)).fetchone()
            turns = db.execute("SELECT id, question, answer, created FROM turns WHERE conversation = ? ORDER BY seq",
                               (conversation_id,)).fetchall()
            cits = db.execute('SELECT turn, kind, n, source, start, "end", text, content_hash FROM citations '
                              "WHERE conversation = ? ORDER BY rowid", (conversation_id,)).fetchall()
        by_turn: dict[str, list[CitationRecord]] = {}
        for t, *rest in cits:
            by_turn.setdefault(t, []).append(CitationRecord(*rest))
        cid, title, created, updated = info
        return ConversationRecord(cid, title, created, updated, turns=[
            TurnRecord(t, q, Answer.from_json(json.loads(a)), c, by_turn.get(t, [])) for t, q, a, c in turns])

    def rename(self, owner: str, conversation_id: str, title: str) -> None:
        title = _clean_title(title)
        if not title:
            raise ValueError("the new name is empty")
        with self._db() as db:
            self._check(db, owner, conversation_id)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, owner: str, conversation_id: str) -> None:
        """Delete a conversation with its turns and citations."""
        with self._db() as db:
            self._check(db, owner, conversation_id)
            db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            db.execute("UPDATE owners SET open = NULL WHERE owner = ? AND open = ?", (owner, conversation_id))

    def set_open(self, owner: str, conversation_id: str | None) -> None:
        """Remember which conversation the owner has open (None: a new, not yet saved one)."""
        with self._db() as db:
            if conversation_id is not None:
                self._check(db, owner, conversation_id)
            db.execute("INSERT INTO owners (owner, open) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET "
                       "open = excluded.open", (owner, conversation_id))

    def last_open(self, owner: str) -> str | None:
        """The conversation the owner had open last, if it still exists."""
        with self._db() as db:
            row = db.execute("SELECT o.open FROM owners o JOIN conversations c ON c.id = o.open AND c.owner = o.owner "
                             "WHERE o.owner = ?", (owner,)).fetchone()
        return row[0] if row else None
