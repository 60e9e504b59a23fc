"""Follow-up handling in `citechat.chat`, without an engine or models.

`RuleEngine` below is not a mock of a failure: it is the no-LLM configuration (`llm = None`), under which
`standalone_question` rewrites follow-ups by its own rule. Its `ask_stream` records what would have been retrieved
for, so a test can check what question reached retrieval (or that nothing did).
"""

from __future__ import annotations

from citechat.answer.types import CANNOT_ANSWER, Answer, Citation
from citechat.chat import (
    NOT_WHAT_WAS_ASKED,
    UNRESOLVED_FOLLOW_UP,
    Conversation,
    Turn,
    ask,
    is_follow_up,
    resolve_follow_up,
    standalone_question,
)
from citechat.config import Settings
from citechat.engine import Engine
from citechat.answer.extractive import ExtractiveAnswerer
from citechat.ui.render import message_markdown, panel_html


class RuleEngine:
    llm = None  # the no-LLM configuration
    settings = Settings()
    answerer = ExtractiveAnswerer(settings.answer)  # can't rewrite follow-ups: the chat's own rule does
    validate_question = Engine.validate_question  # the real check (empty / too long)

    def __init__(self, cited: str = "Huang Shengwen presided over the meeting.") -> None:
        self.retrieved_for: list[str] = []
        self.cited = cited  # the sentence every answer cites

    def ask_stream(self, question: str, filters=None):
        self.retrieved_for.append(question)
        citation = Citation(n=1, source="a.txt", title="A", text=self.cited, start=0, end=len(self.cited), score=1.0)
        yield Answer(question=question, answer=f"{self.cited} [1]", answerable=True, citations=[citation])


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
    assert turn.answer.answerable is False
    assert turn.answer.answer == CANNOT_ANSWER
    assert turn.answer.reason == UNRESOLVED_FOLLOW_UP
    assert turn.answer.question == "And who presided over it?"
    for name in ("Vanderfan", "Museum", "Luohu"):
        assert name not in turn.answer.question
    # The chat shows why, and the sources panel says there are none instead of promising closest matches.
    assert "no answer in the articles" in message_markdown(turn)
    panel = panel_html(conv, turn.id, {})
    assert "No sources for" in panel and "no answer in the articles" in panel


def test_chinese_follow_up_after_an_abstention_is_unresolvable():
    conv = conversation_after("羅湖區的博物館是誰開的?", answerable=False)
    assert standalone_question(RuleEngine(), conv, "他是誰?") is None


def test_a_pronoun_gives_way_to_what_the_previous_question_was_about():
    conv = conversation_after("When did the Luohu District meeting take place in 2022?", answerable=True)
    eng = RuleEngine()
    q = standalone_question(eng, conv, "And who presided over it?")
    assert q == "And who presided over Luohu District?"

    turn = ask(eng, conv, "And who presided over it?")
    assert eng.retrieved_for == [q]
    assert turn.question == "And who presided over it?" and turn.answer.answerable is True
    # possessives keep their 's; Chinese pronouns take the previous question's leading noun phrase
    assert resolve_follow_up("What work of Luther's became popular?", "",
                             "What did his translation contribute to?") == "What did Luther's translation contribute to?"
    assert resolve_follow_up("歷城區的地區生產總值突破了多少?", "", "它有多少人口?") == "历城区有多少人口?"
    assert resolve_follow_up("伊维卡·奥利奇现在效力于哪个球队？", "", "他为什么提前结束赛季？") == "伊维卡·奥利奇为什么提前结束赛季？"


def test_he_after_a_who_question_is_the_person_its_answer_named():
    prev = "Who previously held the record for the oldest quarterback in a Super Bowl?"
    answer = "The record was held by John Elway, at age 38. [1]"
    assert resolve_follow_up(prev, answer, "How old was he then?") == "How old was John Elway then?"
    # an answer that names no one new leaves the pronoun, and the previous names are added instead
    assert resolve_follow_up(prev, "He was the oldest. [1]", "And before him?") == "And before him? (Super Bowl)"


def test_a_follow_up_answered_only_by_what_it_borrowed_abstains():
    """Answered from the previous question's sentence, which says nothing of what the follow-up asks
    ("presided"): the answer becomes an abstention, its sentence listed among the closest."""
    windows = "歷城區便民服務中心設置134個受理窗口。"
    conv = conversation_after("歷城區的便民服務中心有多少個受理窗口?", answerable=True)
    eng = RuleEngine(cited=windows)
    turn = ask(eng, conv, "And who presided over it?")
    assert eng.retrieved_for, "it was answered first"
    assert turn.answer.answerable is False and turn.answer.answer == CANNOT_ANSWER
    assert turn.answer.reason == NOT_WHAT_WAS_ASKED and turn.answer.citations == []
    assert [c.text for c in turn.answer.closest] == [windows]
    # the same follow-up, answered by a sentence that says who presided (in Chinese: the dictionary ties them)
    eng = RuleEngine(cited="會議由區長黃勝文主持。")
    turn = ask(eng, conversation_after("歷城區的便民服務中心有多少個受理窗口?", True), "And who presided over it?")
    assert turn.answer.answerable is True
    # a follow-up with no words of its own ("And when?") is not held to it; a new topic is never checked
    assert ask(RuleEngine(cited=windows), conversation_after("Who presented flags?", True),
               "And when?").answer.answerable is True
    assert ask(RuleEngine(cited=windows), conversation_after("Who presented flags?", True),
               "Who opened the Kelmport ferry?").answer.answerable is True


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
