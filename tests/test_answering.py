"""Answers over articles written here, on topics unrelated to the shipped five: nothing is special-cased."""

import pytest

from citechat.answering import CANNOT_ANSWER, analyse_question

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
        pytest.param("Who is the curator of the Porthaven museum?", "glass.txt", "Elena Marsh",
                     marks=pytest.mark.xfail(strict=True, reason="known limitation: the English cross-encoder scores "
                                             "'Curator Elena Marsh said ...' low (1.5) for a who-is question")),
        ("How many tonnes of apples did the Lindenfeld cooperative harvest?", "orchard.md", "85 tonnes"),
        ("When was the orchard cooperative founded?", "orchard.md", "1962"),
        pytest.param("Who is the head of the Qingchuan county library?", "library_zh.txt", "王麗華",
                     marks=pytest.mark.xfail(strict=True, reason="known limitation: the sentence with 館長 is not "
                                             "retrieved for the English question (dense similarity does not link "
                                             "'head' to 館長); the role check rejects the rest, so it abstains")),
        ("青川縣圖書館藏書多少冊?", "library_zh.txt", "32萬冊"),
        ("青川县图书馆开馆首日接待了多少读者?", "library_zh.txt", "2300"),
    ],
)
def test_answers_come_from_new_articles(fresh_engine, question, source, expected):
    ans = fresh_engine.ask(question)
    assert ans.answerable, ans.answer
    assert expected in ans.answer
    assert ans.citations[0].source == source
    text = fresh_engine.store.article_text(source)
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


def test_question_analysis():
    assert analyse_question("When did it open?").wants_date
    assert analyse_question("How many visitors came?").wants_number
    assert analyse_question("Which newspaper published it?").wants_outlet
    assert analyse_question("歷城區的地區生產總值突破了多少?").cjk


# Machine-translated style: the role sentence writes the names split ("wei ming"), the place is in the sentence
# before it, and a confident-sounding distractor lists other leaders.
ARTICLE_PORT = """Grasp the new year to build a stronger port city

March 3, the first working meeting of the year on port construction was held in Qinglan Harbour District.Municipal party committee secretary wei ming, deputy secretary of the municipal party committee, the mayor jian-hua zhou attended and spoke, stressing the need to keep the momentum of the spring and speed up every project,Strive for new achievements in the opening of the port.Wang Weiming and Zhou Jianhua inspected the new container terminal at the east pier and asked about the progress of the automated cranes.The first berth of the terminal will be completed in October this year.Later, Wang Weiming and Zhou Jianhua held a meeting with the port group.Municipal leaders Ma Lin, Gao Feng, Deng Yuhua, secretary General of the Municipal Government Tang Rui, and the responsible comrades of the port group attended the meeting.Source: Qinglan Daily
"""

PORT_QUESTION = "Who are the party secretary and the mayor who attended the meeting in Qinglan Harbour District?"


@pytest.fixture
def port_engine(make_engine, tmp_path):
    return _engine_over(make_engine, tmp_path / "articles",
                        {"port.txt": ARTICLE_PORT, "glass.txt": ARTICLE_A, "orchard.md": ARTICLE_B})


def test_split_names_get_a_citation_of_their_full_form(port_engine):
    ans = port_engine.ask(PORT_QUESTION)
    assert ans.answerable, ans.closest
    text = port_engine.store.article_text("port.txt")
    assert "the mayor jian-hua zhou" in ans.citations[0].text
    assert "Municipal leaders Ma Lin" not in ans.answer
    full = [c for c in ans.citations if c.note]
    assert len(full) == 1 and "Wang Weiming" in full[0].text and "Zhou Jianhua" in full[0].text
    assert "wei ming = Wang Weiming" in full[0].note and "jian-hua zhou = Zhou Jianhua" in full[0].note
    assert "Wang Weiming" in ans.answer
    for c in ans.citations:
        assert c.source == "port.txt" and text[c.start:c.end] == c.text


MAYOR_QUESTION = "Who is the mayor of Qinglan Harbour District?"


def test_role_sentence_is_read_with_the_sentence_before(port_engine):
    # the role sentence does not say where; the sentence before it does
    ans = port_engine.ask(MAYOR_QUESTION)
    assert ans.answerable, ans.closest
    first = ans.citations[0]
    assert first.text.startswith("March 3,") and "the mayor jian-hua zhou" in first.text
    assert port_engine.store.article_text("port.txt")[first.start:first.end] == first.text
    port_engine.extractive.s = port_engine.extractive.s.model_copy(update={"context_candidates": 0})
    assert not port_engine.ask(MAYOR_QUESTION).answerable


def test_role_stated_in_another_sentence_is_cited_with_the_answer(port_engine):
    ans = port_engine.ask("Who was the mayor who inspected the container terminal?")
    assert ans.answerable, ans.closest
    assert "inspected the new container terminal" in ans.citations[0].text and "Zhou Jianhua" in ans.answer
    role = [c for c in ans.citations if "role" in c.note]
    assert len(role) == 1 and "the mayor jian-hua zhou" in role[0].text
    # no such role anywhere for these people: not answered
    assert not port_engine.ask("Who is the chairman who inspected the container terminal?").answerable


def test_who_question_needs_the_role_it_asks_about(port_engine):
    # the "Municipal leaders ..." sentence matches the port group well, but names no chairman
    ans = port_engine.ask("Who is the chairman of the port group?")
    assert not ans.answerable, ans.answer
    ans = port_engine.ask("Who is the secretary general of the municipal government?")
    assert ans.answerable and "Tang Rui" in ans.answer
    assert not port_engine.ask("Who is the president of the Qinglan court?").answerable
