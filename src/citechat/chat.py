"""Chat turn handling, independent of any UI: a conversation is plain data (JSON-able), one per browser session.

Each turn keeps its own answer and citations, so any earlier message can show the sources that belong to it.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .answering import Answer
from .engine import Engine


@dataclass
class Turn:
    id: str
    question: str
    answer: dict[str, Any]  # Answer.to_json()

    @property
    def answerable(self) -> bool:
        return bool(self.answer.get("answerable"))


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    def add(self, question: str, answer: Answer) -> Turn:
        turn = Turn(id=uuid.uuid4().hex[:10], question=question, answer=answer.to_json())
        self.turns.append(turn)
        return turn

    def get(self, turn_id: str) -> Turn | None:
        return next((t for t in self.turns if t.id == turn_id), None)


def ask(engine: Engine, conversation: Conversation, message: str) -> Turn:
    """Answer one message and record it. Raises QuestionError for an unusable message.

    The extractive answerer treats each message as a standalone question; follow-up condensation comes
    with the LLM answerer.
    """
    answer = engine.ask(message)
    return conversation.add(message.strip(), answer)


def feedback_record(turn: Turn, liked: bool) -> dict[str, Any]:
    """What the feedback log keeps: the verdict, the question, the answer and where its citations point."""
    return {
        "ts": round(time.time(), 3),
        "turn": turn.id,
        "liked": liked,
        "question": turn.question,
        "answer": turn.answer.get("answer", ""),
        "answerable": turn.answer.get("answerable"),
        "citations": [
            {k: c.get(k) for k in ("n", "source", "start", "end", "text", "score")}
            for c in turn.answer.get("citations", [])
        ],
    }


def append_feedback(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_feedback(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
