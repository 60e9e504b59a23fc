"""News metadata read from an article's cleaned text: publication date, outlet, and which lines are bylines.

`find_date` and `find_outlet` also say where in the text the value was read (`Found.at`, an offset into the
cleaned text of where it is written, perhaps in another form: "February 7" for 2022-02-07), so an answer about the metadata can cite the
sentence that carries it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date as Date

# Bump when the rules below change what they extract; ingest also compares the extracted values themselves.
METADATA_VERSION = 2


@dataclass(frozen=True)
class Found:
    value: str
    at: int = -1  # offset in the cleaned text where the value is written (maybe in another form); -1: not there


# --- bylines (also used to keep metadata lines out of answers: change with care) ----------------------------

_DATE_ONLY_LINE = re.compile(
    r"^\s*(\d{4}[年/.-]\d{1,2}[月/.-]\d{1,2}日?|\w+ \d{1,2}, \d{4})\s*(星期.|周.|\w+day)?\s*$", re.IGNORECASE
)
_DATE_LABEL = re.compile(
    r"(?:發布日期|发布日期|發佈日期|發布時間|发布时间|日期|Published(?: on)?|Publication date|Date)\s*[:：]\s*"
    r"(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?|[A-Z][a-z]+ \d{1,2},? \d{4}|\d{1,2} [A-Z][a-z]+ \d{4})",
    re.IGNORECASE,
)
_MEDIA_WORDS = (
    r"(?:\b(?:Evening News|Morning Post|Newspaper|News|Times|Daily|Post|Herald|Journal|Gazette|Tribune|Network|Press|Agency|Radio|TV|Television)\b"
    r"|日報|日报|晚報|晚报|時報|时报|新聞網|新闻网|網|网|報|报|社|台)"
)
_SOURCE_LABEL = re.compile(
    r"(?:information source|source|來源|来源|信息來源|信息来源|稿源|出處|出处)\s*[:：]\s*([^\n;；,，。]{2,80})",
    re.IGNORECASE,
)
_BYLINE_OUTLET = re.compile(
    rf"^([A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+){{0,4}} {_MEDIA_WORDS})\s*[·|•]", re.MULTILINE
)
_BYLINE = re.compile(
    r"^\s*(?:(?:information source|source|reporter|correspondent|editor|author|written by|photo|photographer|"
    r"responsible editor|published(?: on)?|publication date|date|來源|来源|信息來源|信息来源|稿源|出處|出处|記者|记者|"
    r"通訊員|通讯员|編輯|编辑|責任編輯|责任编辑|責編|责编|作者|攝影|摄影|圖|图|發布日期|发布日期|發佈日期|發布時間|发布时间|日期)"
    r"\s*[:：|]|by\s+[A-Z])",
    re.IGNORECASE,
)


def is_byline(sentence: str) -> bool:
    """A metadata line (source, reporter, editor, date) rather than news: kept as metadata, never cited as an answer."""
    s = sentence.strip()
    if len(s) > 120:
        return False
    return bool(_BYLINE.match(s) or _DATE_ONLY_LINE.match(s) or _BYLINE_OUTLET.match(s))


# --- dates -------------------------------------------------------------------------------------------------

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_MONTHS = {name: i + 1 for i, names in enumerate((
    "January Jan", "February Feb", "March Mar", "April Apr", "May", "June Jun", "July Jul", "August Aug",
    "September Sept Sep", "October Oct", "November Nov", "December Dec")) for name in names.split()}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\b"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?!\d)"
_DATE_FORMS = [  # most specific first; month names are capitalised ("may 5" is a verb and a number)
    re.compile(rf"(?<!\d){_YEAR}\s*[-/.年]\s*(?P<mo>\d{{1,2}})\s*[-/.月]\s*(?P<day>\d{{1,2}})(?!\d)"),
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}"),
    re.compile(rf"\b{_DAY}\s+{_MONTH},?\s+{_YEAR}"),
    re.compile(rf"\b{_MONTH}\s+{_DAY}(?!\s*,?\s*\d)"),
    re.compile(rf"\b{_DAY}\s+{_MONTH}(?!\s*,?\s*\d)"),
    re.compile(r"(?<![\d年])(?P<mo>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号號]"),
]
_YEAR_MENTION = re.compile(r"(?<![\d.,])(?:19|20)\d\d(?![\d.,]\d|\d)")


def _iso(year: int, month: int, day: int, past_only: bool = False) -> str | None:
    """The ISO date, or None if there is no such day (or, with `past_only`, it is after today)."""
    try:
        d = Date(year, month, day)
    except ValueError:
        return None
    return None if past_only and d > Date.today() else d.isoformat()


def _parts(m: re.Match) -> tuple[int | None, int, int]:
    g = {k: v.translate(_FULLWIDTH) for k, v in m.groupdict().items() if v}
    month = _MONTHS[g["mon"]] if "mon" in g else int(g["mo"])
    return (int(g["year"]) if "year" in g else None), month, int(g["day"])


def _month_day(month: int, day: int) -> str | None:
    """"--MM-DD" if some year has that day (a leap year is the widest test)."""
    return f"--{month:02d}-{day:02d}" if _iso(2000, month, day) else None


def display_date(value: str | None) -> str:
    """A stored date as people read it: "2022-02-07" stays; "--03-10" -> "03-10 (year not given)"."""
    if value and value.startswith("--"):
        return f"{value[2:]} (year not given)"
    return value or ""


def normalise_date(value: str) -> str:
    """"2022年2月7日", "Feb. 7, 2022", "7 February 2022" -> "2022-02-07"; anything else comes back stripped."""
    for form in _DATE_FORMS[:3]:
        m = form.search(value.translate(_FULLWIDTH))
        if m:
            year, month, day = _parts(m)
            assert year is not None  # the first three forms all name the year
            return _iso(year, month, day) or value.strip()
    return value.strip()


def article_year(text: str) -> int | None:
    """The year a month-and-day dateline belongs to: the year the article mentions most often (a 4-digit
    1900-2099 number, "2022" or "2022年"), ties going to the later year, years after this one ignored. News
    names its own year more often than the history it recalls ("built in 1974"); None when no year is named."""
    this_year = Date.today().year
    counts = Counter(int(y) for y in _YEAR_MENTION.findall(text.translate(_FULLWIDTH)) if int(y) <= this_year)
    if not counts:
        return None
    return max(counts, key=lambda y: (counts[y], y))


def _opening(text: str, lines: int = 2, chars: int = 300) -> list[tuple[int, str]]:
    """(offset, text) of the start of the first non-empty lines that are not bylines (the headline and the first
    paragraph): where a dateline stands."""
    out: list[tuple[int, str]] = []
    pos = 0
    for line in text.split("\n"):
        if len(out) == lines:
            break
        if line.strip() and not is_byline(line):
            out.append((pos, line[:chars]))
        pos += len(line) + 1
    return out


def dateline(text: str) -> Found | None:
    """The dateline: the first date written in the opening (`_opening`: headline and first paragraph, bylines
    skipped), as an ISO date; dates further on (history, plans) are never taken. A month and day without a year
    ("On the afternoon of March 10", "2月7日") take the year of `article_year`; when the text names no year the
    date is month and day only, "--03-10" (ISO 8601's form without a year: a year is never guessed; date filters
    treat it as undated). Impossible or future dates are no datelines."""
    for offset, line in _opening(text):
        hits = [(m.start(), m) for form in _DATE_FORMS for m in [form.search(line.translate(_FULLWIDTH))] if m]
        if not hits:
            continue
        start, m = min(hits, key=lambda h: h[0])  # the earliest; on a tie the most specific form (listed first)
        year, month, day = _parts(m)
        year = year or article_year(text)
        iso = _iso(year, month, day, past_only=True) if year else _month_day(month, day)  # never in the future
        return Found(iso, offset + start) if iso else None
    return None


def find_date(text: str) -> Found | None:
    """The publication date: a labelled header ("發布日期:", "Published:") first, then a line holding only a
    date among the first five, else the first dateline of the body (`dateline`)."""
    m = _DATE_LABEL.search(text)
    if m and (iso := normalise_date(m.group(1))) and re.fullmatch(r"\d{4}-\d\d-\d\d", iso):
        return Found(iso, m.start(1))
    offset = 0
    for line in text.split("\n")[:5]:
        if _DATE_ONLY_LINE.match(line) and re.fullmatch(r"\d{4}-\d\d-\d\d", iso := normalise_date(line)):
            return Found(iso, offset + len(line) - len(line.lstrip()))
        offset += len(line) + 1
    return dateline(text)


def extract_date(text: str) -> str | None:
    found = find_date(text)
    return found.value if found else None


# --- outlets -----------------------------------------------------------------------------------------------

_PAPER_SUFFIX = r"(?:日报|日報|晚报|晚報|时报|時報|晨报|晨報|商报|商報|都市报|都市報|青年报|青年報)"
_ZH_MEDIA_SUFFIX = rf"(?:{_PAPER_SUFFIX}|(?<![通公简簡汇匯情捷喜申举舉警预預])[报報]|周刊|週刊|杂志|雜誌|新闻网|新聞網|电视台|電視台|广播电台|廣播電台)"
_AGENCY = re.compile(
    r"新华社|新華社|中新社|中国新闻社|中國新聞社|\b(?:Xinhua(?: News Agency)?|Reuters|Associated Press|"
    r"Agence France-Presse|Kyodo News|Yonhap)\b"
)
# An agency as a dateline credits it: "新华社北京2月7日电", "(Xinhua)", "BEIJING, Feb. 7 (Xinhua) --".
_AGENCY_BYLINE = re.compile(
    r"(新华社|新華社|中新社|中国新闻社|中國新聞社)[\u4e00-\u9fff\d月日]{0,12}[电電]|"
    r"\((Xinhua|Reuters|AP|AFP|Kyodo|Yonhap)\)"
)
# A credit line: "（原载《海港日报》）", "转自《...报》".
_ZH_CREDIT = re.compile(r"(?:原载|原載|转自|轉自|转载自|轉載自)\s*《([^《》\n]{1,16})》")
# A Chinese paper at the head of a byline: "齐鲁晚报讯（记者 ...）", "济南日报记者 ...".
_ZH_BYLINE_PAPER = re.compile(
    rf"(?:^|(?<=[\s（(【\[「“,，。]))([\u4e00-\u9fff]{{2,10}}?{_PAPER_SUFFIX})(?=讯|訊|记者|記者|客户端|客戶端|消息)",
    re.MULTILINE,
)
_ZH_TITLED_PAPER = re.compile(rf"《([\u4e00-\u9fffA-Za-z0-9]{{1,16}}?{_ZH_MEDIA_SUFFIX})》")
_EN_PAPER = re.compile(
    r"\b((?:The )?(?:[A-Z][A-Za-z]+ ){1,4}(?:Evening News|Morning Post|Daily News|News Agency|Daily|Times|"
    r"Herald|Journal|Gazette|Tribune|Newspaper))\b"  # not a bare "Post": "Jinan Central Post Office"
)
# "濟南日?qǐng)?bào)" loses its 報 in a bad re-encoding and cleans to "濟南日": the first half of a paper suffix.
_TRUNCATED_SUFFIX = re.compile(r"[\u4e00-\u9fff]{2,}(?:日|晚|時|时|晨|商)$")


def _trim_outlet(value: str) -> str:
    value = value.strip(" :：\"'“”")
    matches = list(re.finditer(_MEDIA_WORDS, value, flags=re.IGNORECASE))
    m = matches[-1] if matches else None  # the last media word
    if m is not None and m.end() < len(value):
        value = value[: m.end()]
    return value.strip()


def _complete_suffix(value: str, context: str) -> str:
    """"濟南日" -> "濟南日報", "齐鲁晚" -> "齐鲁晚报": a source line whose paper suffix lost its last character
    (completed in the script of the surrounding text: traditional text gets 報)."""
    if not _TRUNCATED_SUFFIX.search(value):
        return value
    from ..language import to_simplified

    return value + ("報" if to_simplified(context) != context else "报")


def _labelled_outlet(text: str) -> Found | None:
    """The outlet of a "Source:" / "来源：" line, preferring one that looks like a media name."""
    found: list[Found] = []
    for m in _SOURCE_LABEL.finditer(text):
        value = _complete_suffix(_trim_outlet(m.group(1)), text[max(0, m.start() - 300): m.end() + 300])
        if value and not value.lower().startswith(("http", "www")):
            found.append(Found(value, m.start(1)))
    with_media = [f for f in found if re.search(_MEDIA_WORDS, f.value, flags=re.IGNORECASE)]
    best = with_media or found
    return best[0] if best else None


def _named_outlet(text: str, edge: int = 400) -> Found | None:
    """A paper or news agency in byline form at the head or foot of the article (the first line is skipped, a
    Title Case headline is no byline): a Chinese byline ("齐鲁晚报讯"), an agency dateline ("新华社北京2月7日电",
    "(Xinhua)"). A paper merely mentioned ("《每日邮报》报道", "the Daily Mail said") is not the outlet: measured,
    counting such mentions gave Wikipedia articles false outlets and cost zh-zh and CMRC answers."""
    head = text.find("\n") + 1 if "\n" in text.strip() else 0
    tail_start = max(head + edge, len(text) - edge)
    for part, offset in ((text[head:head + edge], head), (text[tail_start:], tail_start)):
        for pattern in (_ZH_BYLINE_PAPER, _AGENCY_BYLINE, _ZH_CREDIT):
            m = pattern.search(part)
            if m:
                group = next(i for i in range(1, len(m.groups()) + 1) if m.group(i))
                return Found(m.group(group).strip(), offset + m.start(group))
    return None


def find_outlet(text: str) -> Found | None:
    """The outlet: a byline that starts with a media name ("Qilu Evening News · reporter ..."), else a source
    line ("Source: Bincheng Times", "信息來源:濟南日報"), else a paper or agency named at the head or foot."""
    m = _BYLINE_OUTLET.search(text)
    if m:
        return Found(m.group(1).strip(), m.start(1))
    return _labelled_outlet(text) or _named_outlet(text)


def extract_outlet(text: str) -> str | None:
    found = find_outlet(text)
    return found.value if found else None
