"""Follow-up handling in `citechat.chat`, without an engine or models.

`RuleEngine` below is not a mock of a failure: it is the no-LLM configuration (`llm = None`), under which
`standalone_question` rewrites follow-ups by its own rule. Its `ask_stream` records what would have been retrieved
for, so a test can check what question reached retrieval (or that nothing did).
"""

from __future__ import annotations

from citechat.answers import CANNOT_ANSWER, Answer
from citechat.chat import (
    UNRESOLVED_FOLLOW_UP,
    Conversation,
    Turn,
    ask,
    is_follow_up,
    standalone_question,
)
from citechat.config import Settings
from citechat.engine import Engine
from citechat.extractive import ExtractiveAnswerer
from citechat.ui.render import message_markdown, panel_html


class RuleEngine:
    llm = None  # the no-LLM configuration
    settings = Settings()
    answerer = ExtractiveAnswerer(settings.answer)  # can't rewrite follow-ups: the chat's own rule does
    validate_question = Engine.validate_question  # the real check (empty / too long)

    def __init__(self) -> None:
        self.retrieved_for: list[str] = []

    def ask_stream(self, question: str, filters=None):
        self.retrieved_for.append(question)
        yield Answer(question=question, answer="An answer [1].", answerable=True)


def conversation_after(question: str, answerable: bool) -> Conversation:
    conv = Conversation()
    answer = "Liu Sheng presented the flags [1]." if answerable else CANNOT_ANSWER
    conv.add(question, Answer(question=question, answer=answer, answerable=answerable))
    return conv


def test_follow_up_after_an_abstention_is_unresolvable():
    conv = conversation_after("Who opened the Vanderfan Museum in Luohu?", answerable=False)
    eng = RuleEngine()
    assert standalone_question(eng, conv, "And who presided over it?") is None

    turn = ask(eng, conv, "And who presided over it?")
    assert isinstance(turn, Turn) and conv.turns[-1] is turn
    assert eng.retrieved_for == [], "nothing is retrieved for an unresolvable follow-up"
    assert turn.answer["answerable"] is False
    assert turn.answer["answer"] == CANNOT_ANSWER
    assert turn.answer["reason"] == UNRESOLVED_FOLLOW_UP
    assert turn.answer["question"] == "And who presided over it?"
    for name in ("Vanderfan", "Museum", "Luohu"):
        assert name not in turn.answer["question"]
    # The chat shows why, and the sources panel says there are none instead of promising closest matches.
    assert "no answer in the articles" in message_markdown(turn)
    panel = panel_html(conv, turn.id, {})
    assert "No sources for" in panel and "no answer in the articles" in panel


def test_chinese_follow_up_after_an_abstention_is_unresolvable():
    conv = conversation_after("羅湖區的博物館是誰開的?", answerable=False)
    assert standalone_question(RuleEngine(), conv, "他是誰?") is None


def test_follow_up_after_an_answer_gets_the_previous_names():
    conv = conversation_after("Who presented flags in Luohu in 2022?", answerable=True)
    eng = RuleEngine()
    q = standalone_question(eng, conv, "And who presided over it?")
    assert q is not None and q.startswith("And who presided over it?")
    assert "Luohu" in q and "2022" in q

    turn = ask(eng, conv, "And who presided over it?")
    assert eng.retrieved_for == [q]
    assert turn.question == "And who presided over it?" and turn.answer["answerable"] is True


def test_follow_up_without_names_of_its_own_gets_the_previous_names():
    conv = conversation_after("Who presented flags in Luohu?", answerable=True)
    assert "Luohu" in standalone_question(RuleEngine(), conv, "Who else spoke there?")


def test_new_topic_with_its_own_names_is_unchanged():
    eng = RuleEngine()
    # "that" and "there" are follow-up cues, but the message names its own places and has no pronoun.
    for msg in ["What did Liu Qiang say that day in Shizhong District?", "Was there a meeting in Lixia?"]:
        assert standalone_question(eng, conversation_after("Who presented flags in Luohu?", True), msg) == msg
        # Nor is a new topic after an abstention treated as an unresolvable follow-up.
        assert standalone_question(eng, conversation_after("Who opened the museum in Luohu?", False), msg) == msg


def test_is_follow_up():
    assert is_follow_up("And who presided over it?")
    assert is_follow_up("So when was that?")
    assert is_follow_up("What did Liu Qiang say about it?")  # own names, but "it" points back
    assert is_follow_up("誰主持了它?")
    assert not is_follow_up("Was there a meeting in Lixia?")
    assert not is_follow_up("Who presented flags in Luohu?")
