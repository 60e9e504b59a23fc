"""Conversation export (src/citechat/export.py): Markdown and JSON, and `citechat ask --markdown`."""

from __future__ import annotations

import datetime
import gc
import json
import re

import pytest

from citechat.answer.types import CANNOT_ANSWER, Answer, Citation, SentenceCheck
from citechat.chat import Conversation
from citechat.export import (
    conversation_dict,
    conversation_json,
    conversation_markdown,
    export_filename,
)

WHEN = datetime.datetime(2026, 11, 24, 12, 0, tzinfo=datetime.timezone.utc)
LUOHU = "Liu Sheng and Vanderfan presented flags to the 11 leading units on the spot."
LUOHU_2 = "Luohu District held a meeting of officials to tackle difficulties in 2022."
LICHENG = "6月29日上午,歷城區舉行表彰大會,對2020年度高質量發展先進單位進行表彰。"


def cite(n: int, text: str, start: int, **kw) -> Citation:
    base = {"source": "001_a87b5d3a02c24cc1.txt", "title": "Tiger power full open!", "outlet": "Shenzhen Daily",
            "date": "2022-02-07", "score": 0.91}
    return Citation(n=n, text=text, start=start, end=start + len(text), **{**base, **kw})


@pytest.fixture
def conv() -> Conversation:
    c = Conversation()
    c.add("Who presented flags in Luohu?", Answer(
        question="Who presented flags in Luohu?", answer=f"{LUOHU} [1] {LUOHU_2} [2]", answerable=True,
        citations=[cite(1, LUOHU, 802), cite(2, LUOHU_2, 120, note="context for [1]")]))
    c.add("What is the capital of France?", Answer(
        question="What is the capital of France?", answer=CANNOT_ANSWER, answerable=False,
        closest=[cite(1, LUOHU_2, 120, score=0.05)], reason="the closest sentence scores 0.05; answers need 0.28"))
    c.add("歷城區什麼時候舉行表彰大會?", Answer(
        question="歷城區什麼時候舉行表彰大會?", answer=f"{LICHENG} [1]", answerable=True,
        citations=[cite(1, LICHENG, 57, source="002_caf90c57427e1964.txt", title="歷城:接續奮進",
                        outlet="濟南日報", date="2021-06-30")]))
    return c


def _sections(md: str) -> list[str]:
    return re.split(r"^## ", md, flags=re.MULTILINE)[1:]


def test_markdown_quotes_each_sentence_with_offsets_and_metadata(conv):
    md = conversation_markdown(conv, WHEN)
    assert md.startswith("# citechat conversation")
    assert "Exported 2026-11-24 12:00 UTC · 3 questions" in md
    first = _sections(md)[0]
    assert first.startswith("1. Who presented flags in Luohu?")
    assert f"> {LUOHU}" in first and "characters 802-878" in first
    assert f"> {LUOHU_2}" in first and f"characters 120-{120 + len(LUOHU_2)}" in first
    assert "**Tiger power full open!**" in first and "Shenzhen Daily" in first and "2022-02-07" in first
    assert "`001_a87b5d3a02c24cc1.txt`" in first
    assert "*context for [1]*" in first


def test_markdown_numbering_matches_the_markers_in_the_answer(conv):
    first = _sections(conversation_markdown(conv, WHEN))[0]
    body, citations = first.split("### Citations")
    in_text = re.findall(r"\[(\d+)\]", body)
    listed = re.findall(r"^\[(\d+)\] \*\*", citations, flags=re.MULTILINE)
    assert in_text == listed == ["1", "2"]
    # each number's entry quotes the sentence that stands before that marker in the answer
    for n, sentence in (("1", LUOHU), ("2", LUOHU_2)):
        assert f"{sentence} [{n}]" in body
        entry = citations.split(f"[{n}] **", 1)[1]
        assert entry.split("\n> ", 1)[1].startswith(sentence)


def test_markdown_abstention_has_its_reason_and_no_citations(conv):
    second = _sections(conversation_markdown(conv, WHEN))[1]
    assert f"**Not in the articles.** {CANNOT_ANSWER}" in second
    assert "Reason: the closest sentence scores 0.05; answers need 0.28" in second
    assert "### Citations" not in second
    assert "Closest matches (not citations" in second and f"> {LUOHU_2}" in second


def test_markdown_keeps_chinese_text(conv):
    third = _sections(conversation_markdown(conv, WHEN))[2]
    assert third.startswith("3. 歷城區什麼時候舉行表彰大會?")
    assert f"> {LICHENG}" in third and f"characters 57-{57 + len(LICHENG)}" in third
    assert "濟南日報" in third and "歷城:接續奮進" in third


def test_markdown_lists_unverified_llm_sentences():
    c = Conversation()
    sentences = [SentenceCheck(LUOHU, [1], True, "ok"), SentenceCheck("Made up.", [], False, "no citation")]
    c.add("q?", Answer(question="q?", answer=f"{LUOHU} [1]", answerable=True, mode="llm",
                       citations=[cite(1, LUOHU, 802)], sentences=sentences))
    md = conversation_markdown(c, WHEN)
    assert "Unverified (not supported by the sources, not cited):" in md
    assert "- Made up. (no citation)" in md


def test_json_holds_every_turn_with_exact_sentences_and_offsets(conv):
    text = conversation_json(conv, WHEN)
    assert LICHENG in text and "\\u" not in text  # Chinese kept as is
    d = json.loads(text)
    assert d["format"] == "citechat-conversation" and d["version"] == 1
    assert d["exported"] == "2026-11-24T12:00:00+00:00"
    assert [t["n"] for t in d["turns"]] == [1, 2, 3]
    assert [t["question"] for t in d["turns"]] == [t.question for t in conv.turns]
    c1 = d["turns"][0]["answer"]["citations"]
    assert [(c["n"], c["text"], c["start"], c["end"]) for c in c1] == [
        (1, LUOHU, 802, 878), (2, LUOHU_2, 120, 120 + len(LUOHU_2))]
    assert {"title", "outlet", "date", "source"} <= set(c1[0])
    assert re.findall(r"\[(\d+)\]", d["turns"][0]["answer"]["answer"]) == [str(c["n"]) for c in c1]
    abst = d["turns"][1]["answer"]
    assert abst["answerable"] is False and abst["reason"].startswith("the closest sentence")
    assert conversation_dict(conv, WHEN) == d
    # every exported answer loads back into the same typed answer (history rows load the same way)
    assert [Answer.from_json(t["answer"]) for t in d["turns"]] == [t.answer for t in conv.turns]


def test_llm_answers_round_trip_and_label_their_score_kinds():
    sentences = [SentenceCheck(LUOHU, [1], True, "word overlap 0.90"), SentenceCheck("Made up.", [], False, "no citation")]
    cited = Citation(**{**cite(1, LUOHU, 802).to_json(), "score": 6.4, "score_kind": "relevance"})
    a = Answer(question="q?", answer=f"{LUOHU} [1]", answerable=True, mode="llm", citations=[cited],
               sentences=sentences)
    back = Answer.from_json(json.loads(json.dumps(a.to_json())))
    assert back == a and back.unverified == [sentences[1]]
    assert cited.score_label == "relevance (cross-encoder logit) 6.40"
    assert cite(1, LUOHU, 802).score_label.startswith("probability ")
    c = Conversation()
    c.add("q?", a)
    assert "relevance (cross-encoder logit) 6.40" in conversation_markdown(c, WHEN)


def test_empty_conversation_and_file_names():
    assert "(No questions yet.)" in conversation_markdown(Conversation(), WHEN)
    assert json.loads(conversation_json(Conversation(), WHEN))["turns"] == []
    assert export_filename("md", WHEN) == "citechat-conversation-20261124-120000.md"


@pytest.mark.slow
def test_cli_ask_markdown(tmp_path):
    from test_cli import no_traceback, run

    index = tmp_path / "index"
    assert run(["ingest", "--no-progress"], index).returncode == 0
    p = run(["ask", "--markdown", "Who presented flags in Luohu?"], index)
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("# citechat conversation")
    assert "## 1. Who presented flags in Luohu?" in p.stdout
    m = re.search(r"^\[1\] \*\*.+`001_a87b5d3a02c24cc1.txt` · characters (\d+)-(\d+) · probability 0\.\d+$", p.stdout, flags=re.MULTILINE)
    assert m, p.stdout
    quoted = re.search(r"^> (.+)$", p.stdout, flags=re.MULTILINE).group(1)
    assert "Liu Sheng and Vanderfan presented flags" in quoted
    assert int(m.group(2)) - int(m.group(1)) == len(quoted)
    p = run(["ask", "--markdown", "What is the capital of France?"], index)
    assert "**Not in the articles.**" in p.stdout and "Reason: " in p.stdout
    p = run(["ask", "--markdown", "--json", "Who?"], index)
    assert p.returncode == 2 and "--markdown" in p.stderr


def test_each_page_session_exports_into_its_own_folder_removed_when_it_closes(conv):
    from citechat.ui.options import ExportFolders

    folders = ExportFolders()
    other = Conversation()
    other.add("Who?", Answer(question="Who?", answer=CANNOT_ANSWER, answerable=False))
    a_md, _ = folders.write("session-a", conv)  # both conversations unsaved (no id): "live"
    b_md, b_js = folders.write("session-b", other)
    assert a_md.parent != b_md.parent
    assert "Liu Sheng" in a_md.read_text(encoding="utf-8") and "Liu Sheng" not in b_md.read_text(encoding="utf-8")
    folders.write("session-b", other)  # a new export replaces the session's old pair, nothing piles up
    assert sorted(p.name for p in b_md.parent.iterdir()) == sorted({b_md.name, b_js.name})
    folders.drop("session-a")  # the page closed: its files go, the other session's stay
    assert not a_md.exists() and b_md.exists()
    assert sorted(p.name for p in folders.root.iterdir()) == [b_md.parent.parent.name]
    root = folders.root
    del folders  # the app went away (at exit, or collected): its whole export root goes with it
    gc.collect()
    assert not root.exists()


def test_a_failing_condense_call_is_logged(caplog):
    from citechat.answer.generative import LLMAnswerer
    from citechat.prompts import load_prompts

    class Down:
        def chat(self, messages):
            raise ConnectionError("llama server refused the connection")

    answerer = LLMAnswerer(Down(), extractive=None, prompts=load_prompts(None), checker=None)
    with caplog.at_level("WARNING", logger="citechat.answer.generative"):
        assert answerer.condense([("Who presented flags?", "Liu Sheng [1]")], "And when?") is None
    assert "refused the connection" in caplog.text and "by rule" in caplog.text
