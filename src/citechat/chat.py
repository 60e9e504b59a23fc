"""Chat turn handling, independent of any UI: a conversation is plain data (JSON-able), one per browser session.

Each turn keeps its own answer and citations, so any earlier message can show the sources that belong to it.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .answer.question import analyse_question, holds_what_is_asked, question_type, topics
from .answer.types import CANNOT_ANSWER, Answer, final_item
from .engine import Engine
from .filters import ArticleFilter
from .language import chinese_terms, is_cjk, proper_terms

log = logging.getLogger(__name__)


@dataclass
class Turn:
    id: str
    question: str
    answer: Answer
    hashes: dict[str, str] = field(default_factory=dict)  # cited source -> its content hash when answered

    @property
    def answerable(self) -> bool:
        return self.answer.answerable


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    id: str | None = None  # its id in the saved history (history.py), once saved

    def add(self, question: str, answer: Answer) -> Turn:
        # a copy: the engine may hand the same kept answer to other conversations (answer_cache.py)
        turn = Turn(id=uuid.uuid4().hex[:10], question=question, answer=Answer.from_json(answer.to_json()))
        self.turns.append(turn)
        return turn

    def get(self, turn_id: str) -> Turn | None:
        return next((t for t in self.turns if t.id == turn_id), None)


_FOLLOW_UP = re.compile(
    r"^\s*(and|but|also|what about|how about|and what|so)\b|\b(it|its|they|them|their|he|him|his|she|her|this|"
    r"that|these|those|there|then|the same)\b|[他她它其該该這这那此]", re.IGNORECASE)
# Words that point back at something named earlier. Not "that", "there" or "then": those are as often a
# conjunction or an adverb ("Who said that ...", "Was there ...") as a reference.
_REFERS_BACK = re.compile(
    r"\b(it|its|they|them|their|he|him|his|she|her|this|these|those|the same)\b|[他她它其該该這这那此]", re.IGNORECASE)

NOT_WHAT_WAS_ASKED = ("The passages found for this follow-up are about the earlier question and say nothing of what "
                      "it asks; ask it as a complete question.")
UNRESOLVED_FOLLOW_UP = ("This follow-up refers to an earlier question that had no answer in the articles; "
                        "ask it as a complete question.")


def refers_back(message: str) -> bool:
    return bool(_REFERS_BACK.search(message))


def has_own_terms(message: str) -> bool:
    """The message names something itself: a capitalised name (not sentence-initial) or a Chinese content word."""
    return bool(proper_terms(message) or chinese_terms(message))


def is_follow_up(message: str) -> bool:
    """A message that leans on the previous turn: it has a follow-up cue ("And ...", "it", "there", 他 ...) and
    either names nothing of its own or refers back with a pronoun. A message with its own names and no pronoun
    ("Was there a meeting in Lixia?") is a new topic."""
    if not _FOLLOW_UP.search(message):
        return False
    return refers_back(message) or not has_own_terms(message)


_EN_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|him|his|she|her)\b", re.IGNORECASE)
_EN_PERSONAL = frozenset("he him his she her".split())
_EN_POSSESSIVE = frozenset("its their his".split())
_ZH_PRONOUN = re.compile(r"它們|它们|他們|他们|她們|她们|它|他|她")


def standalone_question(engine: Engine, conversation: Conversation, message: str) -> str | None:
    """Rewrite a follow-up ("And who presided over it?") into a question that stands alone.

    The answerer rewrites it if it can (the generative answerer's condense prompt). Otherwise `resolve_follow_up`
    puts what the previous question was about in place of the pronoun.

    Returns None for a follow-up that cannot be resolved: the previous turn abstained, so whatever "it" points at
    was never found in the articles, and borrowing that question's names would only answer a different question.
    """
    message = message.strip()
    if not conversation.turns or not is_follow_up(message):
        return message
    prev = conversation.turns[-1]
    if not prev.answerable:
        return None
    rewritten = engine.answerer.condense([(t.question, t.answer.answer) for t in conversation.turns], message)
    return rewritten or resolve_follow_up(prev.answer.question or prev.question, prev.answer.answer, message)


def resolve_follow_up(previous: str, previous_answer: str, message: str) -> str:
    """The rule rewrite: a pronoun gives way to the previous question's topic ("Who presided over it?" after a
    question about Luohu District's meeting -> "Who presided over Luohu District?"); "he"/"she" after a who-question
    to a new name in its answer, if it has one. A follow-up without a pronoun ("And when?") gets the previous
    question's names, numbers and Chinese words added instead."""
    found = topics(previous)
    if is_cjk(message):
        topic = next((t for t in found if is_cjk(t)), "")
        if topic and _ZH_PRONOUN.search(message):
            return _ZH_PRONOUN.sub(topic, message, count=1)
    else:
        m = _EN_PRONOUN.search(message)
        if m:
            pronoun = m.group(1).lower()
            topic = found[0] if found else ""
            if pronoun in _EN_PERSONAL and question_type(analyse_question(previous)) == "who":
                said = [t for t in topics(re.sub(r"\s*\[\d+\]", "", previous_answer)) if t not in found]
                topic = said[0] if said else ""
            if topic:
                return message[:m.start()] + topic + ("'s" if pronoun in _EN_POSSESSIVE else "") + message[m.end():]
    terms = proper_terms(previous) + re.findall(r"\b(?:19|20)\d\d\b", previous) + chinese_terms(previous)
    terms = [t for t in dict.fromkeys(terms) if t.lower() not in message.lower()]
    return f"{message} ({' '.join(terms)})" if terms else message


def ask_stream(engine: Engine, conversation: Conversation, message: str,
               filters: ArticleFilter | None = None) -> Iterator[str | Turn]:
    """Text deltas while an LLM writes, then the recorded `Turn`. Follow-ups are made standalone first; one that
    cannot be (it follows an abstention) is recorded as an abstention with its reason, without retrieving.
    `filters`: answer only from the articles it allows. Raises QuestionError for an unusable message, FilterError
    for a filter that allows no article."""
    engine.validate_question(message)
    question = standalone_question(engine, conversation, message)
    if question is None:
        if filters is not None:
            engine.allowed_sources(filters)  # a filter that allows nothing is an error here too, not an abstention
        log.info("ask: unresolvable follow-up", extra={"event": "ask", "mode": "follow-up", "answerable": False})
        yield conversation.add(message.strip(), Answer(question=message.strip(), answer=CANNOT_ANSWER,
                                                       answerable=False, reason=UNRESOLVED_FOLLOW_UP))
        return
    for item in engine.ask_stream(question, filters):
        if isinstance(item, Answer):
            if question != message.strip():
                item = _answers_what_is_asked(message.strip(), item)
            yield conversation.add(message.strip(), item)
        else:
            yield item


def _answers_what_is_asked(message: str, answer: Answer) -> Answer:
    """A rewritten follow-up's answer must hold something the follow-up itself asks: cited only for what it
    borrowed from the previous question (the same sentence again), it becomes an abstention with its reason."""
    if not answer.answerable or holds_what_is_asked(message, [c.text for c in answer.citations]):
        return answer
    log.info("ask: follow-up evidence lacks what it asks", extra={"event": "ask", "mode": "follow-up",
                                                                  "answerable": False})
    return replace(answer, answer=CANNOT_ANSWER, answerable=False, citations=[],
                   closest=answer.citations + answer.closest, sentences=None, reason=NOT_WHAT_WAS_ASKED)


def ask(engine: Engine, conversation: Conversation, message: str, filters: ArticleFilter | None = None) -> Turn:
    """Answer one message and record it (see `ask_stream`)."""
    return final_item(ask_stream(engine, conversation, message, filters), Turn)


def feedback_record(turn: Turn, liked: bool) -> dict[str, Any]:
    """What the feedback log keeps: the verdict, the question, the answer and where its citations point."""
    return {
        "ts": round(time.time(), 3),
        "turn": turn.id,
        "liked": liked,
        "question": turn.question,
        "answer": turn.answer.answer,
        "answerable": turn.answer.answerable,
        "citations": [{"n": c.n, "source": c.source, "start": c.start, "end": c.end, "text": c.text,
                       "score": c.score} for c in turn.answer.citations],
    }


def append_feedback(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_feedback(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
