"""News metadata from the article text: publication date (header or body dateline) and outlet."""

import re
from datetime import date

import pytest

from citechat.ingest.loading import load_article, load_articles
from citechat.ingest.metadata import article_year, display_date, extract_date, extract_outlet, find_date, find_outlet, normalise_date

from conftest import ARTICLES

# What the shipped articles say: a dateline with a year (001), a header (002), a month-day dateline whose year
# the article names elsewhere (004), a month-day dateline with no year anywhere (003), no dateline (000).
SHIPPED_DATES = {
    "000_9b7823553ab23a10.txt": None,
    "001_a87b5d3a02c24cc1.txt": "2022-02-07",
    "002_caf90c57427e1964.txt": "2021-06-30",
    "003_f440de96462a1fc9.txt": "--03-10",  # month and day; the text names no year
    "004_cdb4b5fdbd235da2.txt": "2022-02-08",
}
SHIPPED_OUTLETS = {
    "000_9b7823553ab23a10.txt": "Qilu Evening News",  # byline "Qilu Evening News · reporter ..."
    "001_a87b5d3a02c24cc1.txt": "Shenzhen Special Zone newspaper",  # "information source: ..."
    "002_caf90c57427e1964.txt": "濟南日報",  # "信息來源:濟南日" (its 報 lost in a bad re-encoding)
    "003_f440de96462a1fc9.txt": None,  # names no outlet
    "004_cdb4b5fdbd235da2.txt": "Bincheng Times",  # "Source: Bincheng Times"
}
_DATELINE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}\b"
    r"|\d{1,2}月\d{1,2}日"
)


@pytest.fixture(scope="module")
def shipped():
    arts, warnings = load_articles([ARTICLES])
    assert warnings == []
    return {a.source: a for a in arts}


def test_shipped_dates(shipped):
    assert {s: a.date for s, a in shipped.items()} == SHIPPED_DATES


def test_every_shipped_article_with_a_dateline_gets_a_date(shipped):
    for a in shipped.values():
        opening = "\n".join(a.text.split("\n")[:5])[:800]
        if _DATELINE.search(opening):
            assert a.date, a.source
        if a.date and not re.search(r"(?:19|20)\d\d", a.text):
            assert a.date.startswith("--"), a.source  # no year anywhere: month and day only, no guessed year


def test_shipped_outlets(shipped):
    assert {s: a.outlet for s, a in shipped.items()} == SHIPPED_OUTLETS


def test_shipped_evidence_offsets_point_at_the_written_value(shipped):
    assert shipped["001_a87b5d3a02c24cc1.txt"].text[shipped["001_a87b5d3a02c24cc1.txt"].date_at:].startswith(
        "February 7, 2022")
    a4 = shipped["004_cdb4b5fdbd235da2.txt"]
    assert a4.text[a4.date_at:].startswith("February 8")
    assert a4.text[a4.outlet_at:].startswith("Bincheng Times")
    a2 = shipped["002_caf90c57427e1964.txt"]
    assert a2.text[a2.outlet_at:].startswith("濟南日")
    assert a2.text[a2.date_at:].startswith("2021-06-30")
    a3 = shipped["003_f440de96462a1fc9.txt"]
    assert a3.text[a3.date_at:].startswith("March 10")


# --- dates on small articles --------------------------------------------------------------------------------

def test_header_date_wins_over_the_body_dateline():
    text = "Harbour reopens\n\nPublished: March 3, 2024\n\nOn February 7, 2022, the harbour closed for repairs."
    assert extract_date(text) == "2024-03-03"
    zh = "港口重新開放\n\n發布日期:2021-06-30\n\n2022年2月7日，港口關閉維修。"
    assert extract_date(zh) == "2021-06-30"


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Ferry news\n\nOn February 7, 2022, the ferry line opened to the public.", "2022-02-07"),
        ("Ferry news\n\nFeb. 7, 2022 -- The ferry line opened.", "2022-02-07"),
        ("Ferry news\n\nLONDON, 7 February 2022 - The ferry line opened.", "2022-02-07"),
        ("Ferry news\n\nOn Sept. 30, 2021, the ferry line opened.", "2021-09-30"),
        ("渡輪新聞\n\n2022年2月7日，渡輪航線開通。", "2022-02-07"),
        ("渡轮新闻\n\n２０２２年２月７日，渡轮航线开通。", "2022-02-07"),  # full-width digits
    ],
)
def test_full_datelines(text, expected):
    assert extract_date(text) == expected


def test_month_day_dateline_takes_the_year_the_article_names():
    text = ("Ferry news\n\nOn the afternoon of February 7, the ferry line opened. It is the first new line in 2022, "
            "and 2022 targets call for two more.")
    assert extract_date(text) == "2022-02-07"
    zh = "渡轮新闻\n\n2月7日上午，渡轮航线开通。这是2022年开通的第一条新航线。"
    assert extract_date(zh) == "2022-02-07"
    assert extract_date("渡轮新闻\n\n２月７日上午，渡轮航线开通，２０２２年计划再开两条。") == "2022-02-07"
    # byline lines between the headline and the first paragraph are skipped
    zh = "渡轮新闻\n\n来源：海港日报\n\n记者：李明\n\n2月7日上午，渡轮航线开通。这是2022年开通的第一条新航线。"
    assert extract_date(zh) == "2022-02-07"


def test_month_day_without_any_year_gives_no_date():
    assert extract_date("Ferry news\n\nOn the afternoon of March 10, the ferry line opened.") == "--03-10"
    assert extract_date("渡轮新闻\n\n3月10日下午，渡轮航线开通。") == "--03-10"
    assert display_date("--03-10") == "03-10 (year not given)" and display_date("2022-02-07") == "2022-02-07"


def test_a_historical_year_is_not_the_dateline():
    # A bare year is no dateline at all.
    assert extract_date("Ferry news\n\nThe pier, built in 1974, was repaired. The ferry runs daily.") is None
    # The first date of the opening wins over an older full date further on.
    text = ("Ferry news\n\nOn February 7, 2022, the ferry line opened.\n\nThe pier first opened on March 3, 1974, "
            "and was rebuilt in 1998.")
    assert extract_date(text) == "2022-02-07"
    # The year the article keeps naming wins over the history it recalls once.
    text = "Ferry news\n\nFebruary 7, the pier built in 1974 reopened.\n\nThe 2022 plan adds two lines in 2022."
    assert extract_date(text) == "2022-02-07"
    assert article_year(text) == 2022


def test_dates_in_the_future_or_impossible_are_not_datelines():
    future = date.today().year + 5
    assert extract_date(f"Plan\n\nFebruary 7, the plan for {future} was shown.") == "--02-07"  # not {future}
    assert extract_date("Ferry news\n\nFebruary 30, the ferry line opened in 2022.") is None


def test_a_date_late_in_the_body_is_no_dateline():
    body = "The ferry line opened to the public after a long wait. " * 20
    assert extract_date(f"Ferry news\n\n{body}\n\nOn February 7, 2022, it carried its first cars.") is None


def test_normalise_date_forms():
    assert normalise_date("2022年2月7日") == "2022-02-07"
    assert normalise_date("Feb. 7, 2022") == "2022-02-07"
    assert normalise_date("7 February 2022") == "2022-02-07"
    assert normalise_date("2021/6/30") == "2021-06-30"
    assert normalise_date("soon") == "soon"


def test_found_offset_is_where_the_date_is_written():
    text = "Ferry news\n\nOn February 7, 2022, the ferry line opened."
    found = find_date(text)
    assert found.value == "2022-02-07" and text[found.at:].startswith("February 7, 2022")


# --- outlets on small articles ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,outlet",
    [
        ("Ferry news\n\nThe ferry line opened.\n\nSource: Harbour Daily", "Harbour Daily"),
        ("Ferry news\n\nThe ferry line opened.Source: Harbour Times reporter Li Ming", "Harbour Times"),
        ("渡轮新闻\n\n渡轮航线开通。\n\n来源：海港日报", "海港日报"),
        ("渡輪新聞\n\n渡輪航線開通。\n\n來源:海港晚報", "海港晚報"),
        ("渡輪新聞\n\n渡輪航線開通。\n\n信息來源:海港日", "海港日報"),  # a suffix cut short by bad encoding
        ("渡轮新闻\n\n信息来源:海港晚\n\n渡轮航线开通。", "海港晚报"),
        # a paper named in a byline or a credit, with no label
        ("渡轮新闻\n\n海港晚报讯（记者 李明）渡轮航线开通。", "海港晚报"),
        ("渡轮新闻\n\n新华社北京2月7日电 渡轮航线开通。", "新华社"),
        ("渡轮新闻\n\n渡轮航线开通。\n\n（原载《海港日报》）", "海港日报"),
        ("Ferry news\n\nBEIJING, March 3 (Xinhua) -- The ferry line opened.", "Xinhua"),
        ("渡轮新闻\n\n新华社北京3月3日电 渡轮航线开通。", "新华社"),
        ("Ferry news\n\nThe ferry line opened. The mayor attended.", None),
        ("Ferry news\n\nThe ferry line opened, the Harbour Daily reported.", None),  # a mention, not a credit
        ("渡轮新闻\n\n据《每日邮报》报道，渡轮航线开通。", None),
        ("Ferry news\n\nThe ferry company Harbour Lines Co., Ltd. opened a line.", None),
        ("City Opens Harbour Daily Market\n\nThe market opened.", None),  # a Title Case headline, no byline
        ("Ferry news\n\nThe mayor visited the Jinan Central Post Office.", None),
        ("渡轮新闻\n\n市政府印发《关于渡轮航线的通报》。", None),  # a circular (通报), not a paper
    ],
)
def test_outlets(text, outlet):
    assert extract_outlet(text) == outlet


def test_a_source_label_wins_over_a_paper_named_in_the_text():
    text = "Ferry news\n\nThe Harbour Daily first reported the plan.\n\nSource: Bay Evening News"
    assert extract_outlet(text) == "Bay Evening News"


def test_a_paper_mentioned_mid_article_is_not_the_outlet():
    middle = "The ferry line opened to the public after a long wait. " * 10
    text = f"Ferry news\n\n{middle}The Harbour Daily praised it. {middle}"
    assert find_outlet(text) is None


def test_load_article_stores_metadata_and_offsets(tmp_path):
    f = tmp_path / "ferry.txt"
    f.write_text("渡轮新闻\n\n2月7日上午，渡轮航线开通。这是2022年的第一条新航线。\n\n来源：海港日报\n", encoding="utf-8")
    a = load_article(f)
    assert (a.date, a.outlet) == ("2022-02-07", "海港日报")
    assert a.text[a.date_at:].startswith("2月7日") and a.text[a.outlet_at:].startswith("海港日报")
    assert a.metadata["date_at"] == a.date_at and a.metadata["outlet"] == "海港日报"
