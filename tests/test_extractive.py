"""Answers over articles written here, on topics unrelated to the shipped five: nothing is special-cased."""

import pytest

from citechat.answer.types import CANNOT_ANSWER
from citechat.answer.question import analyse_question

ARTICLE_A = """Glassworks museum reopens in Porthaven

Source: Harbour Gazette

Published: May 4, 2024

The Porthaven Glassworks Museum reopened on Saturday after a two-year restoration.The restoration cost 3.2 million euros and was paid for by the regional council. Curator Elena Marsh said the museum now displays 412 glass objects, including a blue vase from 1887. Visitors can watch glassblowers at work every afternoon. The museum is open from Tuesday to Sunday.
"""

ARTICLE_B = """The orchard cooperative of Lindenfeld

Members of the Lindenfeld orchard cooperative harvested 85 tonnes of apples this autumn. The cooperative was founded in 1962 by eleven farming families. Its chairwoman, Greta Holm, plans to build a cider press next spring. Frost in April destroyed about a fifth of the blossoms.
"""

ARTICLE_ZH = """青川縣圖書館新館開放

青川縣圖書館新館於9月1日正式對外開放。新館建築面積8500平方米，藏書32萬冊。館長王麗華表示，新館設有兒童閱覽室和古籍修復中心。開館首日共接待讀者2300人次。
"""


def _engine_over(make_engine, folder, articles: dict[str, str]):
    folder.mkdir()
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")
    engine = make_engine(data_dir=folder)
    engine.ingest(progress=False)
    return engine


@pytest.fixture
def fresh_engine(make_engine, tmp_path):
    return _engine_over(make_engine, tmp_path / "articles",
                        {"glass.txt": ARTICLE_A, "orchard.md": ARTICLE_B, "library_zh.txt": ARTICLE_ZH})


@pytest.mark.parametrize(
    "question,source,expected",
    [
        ("How much did the glassworks restoration cost?", "glass.txt", "3.2 million euros"),
        ("Who is the curator of the Porthaven museum?", "glass.txt", "Elena Marsh"),
        ("How many tonnes of apples did the Lindenfeld cooperative harvest?", "orchard.md", "85 tonnes"),
        ("When was the orchard cooperative founded?", "orchard.md", "1962"),
        pytest.param("Who is the head of the Qingchuan county library?", "library_zh.txt", "王麗華",
                     marks=pytest.mark.xfail(strict=True, reason="known limitation: the sentence with 館長 scores under "
                                             "the en-zh threshold (dense similarity and the dictionary do not link "
                                             "'head' to 館長), so it abstains")),
        ("青川縣圖書館藏書多少冊?", "library_zh.txt", "32萬冊"),
        ("青川县图书馆开馆首日接待了多少读者?", "library_zh.txt", "2300"),
    ],
)
def test_answers_come_from_new_articles(fresh_engine, question, source, expected):
    ans = fresh_engine.ask(question)
    assert ans.answerable, ans.answer
    assert expected in ans.answer
    assert ans.citations[0].source == source
    text = fresh_engine.read_articles([source])[source].text
    for c in ans.citations:
        assert text[c.start:c.end] == c.text
        assert len(c.text) <= 400


@pytest.mark.parametrize(
    "question",
    [
        "Who won the Porthaven sailing regatta?",
        "What is the capital of Australia?",
        "How many employees does the Lindenfeld bakery have?",
    ],
)
def test_unanswerable_questions_abstain_with_closest_matches(fresh_engine, question):
    ans = fresh_engine.ask(question)
    assert not ans.answerable
    assert ans.answer == CANNOT_ANSWER
    assert ans.citations == []
    assert ans.closest, "closest matches are still listed"


def test_outlet_question_answered_from_byline(fresh_engine):
    ans = fresh_engine.ask("Which newspaper reported the glassworks museum reopening?")
    assert ans.answerable and "Harbour Gazette" in ans.answer
    assert ans.citations[0].source == "glass.txt"


def test_json_shape(fresh_engine):
    d = fresh_engine.ask("How much did the glassworks restoration cost?").to_json()
    assert set(d) >= {"id", "question", "answer", "answerable", "citations", "closest", "timings_ms"}
    c = d["citations"][0]
    assert set(c) >= {"n", "source", "title", "text", "start", "end", "score"}
    assert {"embed", "dense", "bm25", "rerank", "answer"} <= set(d["timings_ms"])
    assert 0 < c["score"] <= 1  # the decision's probability


def test_question_analysis():
    assert analyse_question("When did it open?").wants_date
    assert analyse_question("How many visitors came?").wants_number
    assert analyse_question("Which newspaper published it?").wants_outlet
    assert analyse_question("歷城區的地區生產總值突破了多少?").cjk


# The failure cases of issue 11, on articles written here (not the shipped ones).
ARTICLE_SERVICE_ZH = """東湖區政務服務中心啟用

信息來源:東湖日報

發布日期:2024-03-12

東湖區新建的政務服務中心於3月12日上午正式啟用，中心位於新華路88號，總面積1.2萬平方米，設置86個綜合受理窗口，可辦理事項1350項。區長陳明遠在啟用儀式上表示，中心將實現群眾辦事只進一扇門。
"""

ARTICLE_FERRY = """New ferry links Kestrel Island

The Kestrel Island ferry service started on Monday with two boats. Each crossing takes forty minutes, and the fare is 6 pounds for adults. The harbour master, Owen Pryce, said the service would run all year.
"""


@pytest.fixture
def case_engine(make_engine, tmp_path):
    return _engine_over(make_engine, tmp_path / "articles",
                        {"service_zh.txt": ARTICLE_SERVICE_ZH, "ferry.txt": ARTICLE_FERRY, "glass.txt": ARTICLE_A})


def test_how_many_in_chinese_cites_the_whole_sentence_with_the_number(case_engine):
    ans = case_engine.ask("東湖區政務服務中心有多少個受理窗口?")
    assert ans.answerable, ans.reason
    cited = ans.citations[0]
    assert "86個綜合受理窗口" in cited.text
    # the whole sentence, with its subject: 50-character clauses used to cut the number from the subject
    assert cited.text.startswith("東湖區新建的政務服務中心") and cited.text.endswith("。")
    assert case_engine.read_articles(["service_zh.txt"])["service_zh.txt"].text[cited.start:cited.end] == cited.text


def test_a_byline_is_never_an_answer(case_engine):
    ans = case_engine.ask("What is the population of Donghu District?")
    assert not ans.answerable, ans.answer
    assert ans.reason
    for c in ans.closest:
        assert not c.text.startswith(("信息來源", "發布日期"))


def test_how_many_people_needs_a_number_of_people(case_engine):
    # the article has numbers (two boats, 6 pounds, forty minutes) but none counts people
    ans = case_engine.ask("How many people work on the Kestrel Island ferry?")
    assert not ans.answerable, ans.answer


def test_an_abstention_says_why(case_engine):
    ans = case_engine.ask("Who won the Kestrel Island regatta in 1990?")
    assert not ans.answerable
    assert "answers need" in ans.reason or "no close sentence" in ans.reason
    assert ans.to_json()["reason"] == ans.reason


def test_metadata_answer_cites_where_the_value_is_written():
    """A date read from "On February 7, 2022" is stored as 2022-02-07 with the offset of its dateline: the
    sentence there is cited even though the ISO form is not in the text."""
    from citechat.answer.extractive import _sentence_containing

    text = "Ferry news\n\nOn February 7, 2022, the ferry opened. It carries cars."
    at = text.index("February")
    spans = [(12, 50), (51, len(text))]
    assert _sentence_containing(text, "2022-02-07", spans, at) == (12, 50)
    assert _sentence_containing(text, "2022-02-07", spans) is None  # without the offset it cannot be found
    assert _sentence_containing(text, "It carries", spans) == (51, len(text))  # older records: found by value
