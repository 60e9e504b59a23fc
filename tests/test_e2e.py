"""End to end: the five shipped articles, the real default models, the dev question set."""


from citechat.evaluation import evaluate, read_cases

from conftest import DEV_SET


def test_luohu_flags(corpus_engine):
    ans = corpus_engine.ask("Who presented flags in Luohu?")
    assert ans.answerable
    assert "Liu Sheng" in ans.answer and "Vanderfan" in ans.answer
    c = ans.citations[0]
    assert c.source == "001_a87b5d3a02c24cc1.txt"
    assert "presented flags to the 11 leading units" in c.text
    assert corpus_engine.read_articles([c.source])[c.source].text[c.start:c.end] == c.text


def test_luohu_flags_asked_in_chinese(corpus_engine):
    # a Chinese question about an English article: the multilingual cross-encoder's score decides it
    ans = corpus_engine.ask("罗湖区向11个牵头单位授旗的是谁?")
    assert ans.answerable, ans.answer
    c = ans.citations[0]
    assert c.source == "001_a87b5d3a02c24cc1.txt"
    assert "presented flags to the 11 leading units" in c.text


def test_dev_set_quality(corpus_engine):
    # The decision model never saw these articles (it trains on public QA sets only), so this is a smoke test of
    # generalisation, not a fitted score. Three misses are known (docs/decision.md): d07, whose long sentence scores
    # 0.20 against 0.31; d11, a role question answered with a sentence listing other leaders; and d15, an English
    # question whose answer is in a 197-character Chinese sentence.
    res, answers = evaluate(corpus_engine, read_cases(DEV_SET))
    m = res.metrics()
    print(m, res.misses)
    assert m["abstention_accuracy"] == 1.0, res.misses
    assert m["answer_accuracy"] >= 14 / 17, res.misses
    assert m["citation_hit_rate"] >= 14 / 17, res.misses
    assert m["unfaithful_citations"] == 0
    assert m["median_cited_chars"] <= 300
    # Every citation is verbatim article text at its offsets.
    for a in answers:
        for c in a.citations:
            assert corpus_engine.read_articles([c.source])[c.source].text[c.start:c.end] == c.text


def test_cross_language_english_question_chinese_article(corpus_engine):
    # cited as the whole sentence, with the number (it used to cite the clause before it)
    en_to_zh = corpus_engine.ask("How many service windows were set up in Licheng's new convenience service center?")
    assert en_to_zh.answerable and en_to_zh.citations[0].source == "002_caf90c57427e1964.txt"
    assert "134個全領域無差別受理窗口" in en_to_zh.citations[0].text
    # simplified question, traditional article
    simp = corpus_engine.ask("历城区的地区生产总值突破了多少?")
    assert simp.answerable and "千億" in simp.answer


def test_cross_language_chinese_question_english_article(corpus_engine):
    zh_to_en = corpus_engine.ask("羅湖區委書記是誰?")
    assert zh_to_en.answerable and zh_to_en.citations[0].source == "001_a87b5d3a02c24cc1.txt"
