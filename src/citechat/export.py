"""A conversation as a file to keep: Markdown for people, JSON for programs. No UI imports.

Each answer is followed by its numbered citations (the same numbers as the [n] markers in its text): title,
outlet, date, file, and the exact quoted sentence with its character offsets in the cleaned article
(`text == article[start:end]`). An abstention keeps its fixed phrase, the reason line, and the closest matches,
labelled as not being citations. `citechat ask --markdown` prints the Markdown of a one-question conversation.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .answer.types import CANNOT_ANSWER, NOT_IN_ARTICLES, Answer, Citation
from .ingest.metadata import display_date

if TYPE_CHECKING:
    from .chat import Conversation, Turn

FORMAT = "citechat-conversation"
VERSION = 1


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _quote(text: str) -> str:
    """A Markdown block quote of the exact sentence (its line breaks kept as quoted lines)."""
    return "\n".join("> " + line if line.strip() else ">" for line in str(text).splitlines() or [""])


def citation_markdown(c: Citation, label: str) -> str:
    """`label` (e.g. "[1]") with title, outlet, date, file, offsets and score, then the quoted sentence."""
    title = _one_line(c.title) or "(untitled)"
    meta = [x for x in (_one_line(c.outlet), _one_line(display_date(c.date))) if x]
    meta += [f"`{c.source}`", f"characters {c.start}-{c.end}", c.score_label]
    lines = [f"{label} **{title}** — {' · '.join(meta)}", "", _quote(c.text)]
    if c.note:
        lines += ["", f"*{_one_line(c.note)}*"]
    return "\n".join(lines)


def _answer_body(a: Answer) -> list[str]:
    """The answer's text lines: notice, answer with [n] markers, unverified sentences, or the abstention."""
    if not a.answerable:
        lines = [f"**{NOT_IN_ARTICLES}** {a.answer or CANNOT_ANSWER}"]
        if a.reason:
            lines += ["", f"Reason: {_one_line(a.reason)}"]
        return lines
    lines = [f"*Note: {_one_line(a.notice)}*", ""] if a.notice else []
    lines.append(a.answer)
    if a.unverified:
        lines += ["", "Unverified (not supported by the sources, not cited):", ""]
        lines += [f"- {_one_line(s.text)} ({_one_line(s.reason)})" for s in a.unverified]
    return lines


def answer_markdown(question: str, a: Answer, number: int | None = None) -> str:
    """One question and its answer, followed by its citations or closest matches."""
    head = f"## {number}. {_one_line(question)}" if number is not None else f"## {_one_line(question)}"
    parts = [head, "", *_answer_body(a)]
    if a.answerable and a.citations:
        parts += ["", "### Citations"]
        for c in a.citations:
            parts += ["", citation_markdown(c, f"[{c.n}]")]
    elif a.closest:
        parts += ["", "### Closest matches (not citations; they do not answer the question)"]
        for i, c in enumerate(a.closest, 1):
            parts += ["", citation_markdown(c, f"{i}.")]
    return "\n".join(parts)


def _turns(conv: Conversation | Iterable[Turn]) -> list[Turn]:
    return list(conv.turns if hasattr(conv, "turns") else conv)


def _document(pairs: list[tuple[str, Answer]], exported: datetime.datetime | None) -> str:
    when = (exported or _now()).strftime("%Y-%m-%d %H:%M UTC")
    n = len(pairs)
    parts = ["# citechat conversation", "",
             (f"Exported {when} · {n} question{'s' if n != 1 else ''}. Each answer is followed by the sentences it "
              "cites, quoted exactly, with their character offsets in the cleaned article.")]
    if not pairs:
        parts += ["", "(No questions yet.)"]
    for i, (question, answer) in enumerate(pairs, 1):
        parts += ["", answer_markdown(question, answer, i)]
    return "\n".join(parts) + "\n"


def conversation_markdown(conv: Conversation | Iterable[Turn], exported: datetime.datetime | None = None) -> str:
    """The whole conversation as a Markdown document, one section per question."""
    return _document([(t.question, t.answer) for t in _turns(conv)], exported)


def question_markdown(question: str, answer: Answer, exported: datetime.datetime | None = None) -> str:
    """One question's answer as the same document (`citechat ask --markdown`)."""
    return _document([(question, answer)], exported)


def conversation_dict(conv: Conversation | Iterable[Turn], exported: datetime.datetime | None = None) -> dict[str, Any]:
    """The conversation as plain data: every turn with its full answer (`Answer.to_json()`)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported": (exported or _now()).isoformat(),
        "turns": [{"n": i, "id": t.id, "question": t.question, "answer": t.answer.to_json()}
                  for i, t in enumerate(_turns(conv), 1)],
    }


def conversation_json(conv: Conversation | Iterable[Turn], exported: datetime.datetime | None = None) -> str:
    """`conversation_dict` as indented UTF-8 JSON (Chinese text kept as is, not \\u-escaped)."""
    return json.dumps(conversation_dict(conv, exported), ensure_ascii=False, indent=2) + "\n"


def export_filename(kind: str, exported: datetime.datetime | None = None) -> str:
    """`citechat-conversation-20221124-120500.md` (or `.json`)."""
    return f"citechat-conversation-{(exported or _now()).strftime('%Y%m%d-%H%M%S')}.{kind}"
