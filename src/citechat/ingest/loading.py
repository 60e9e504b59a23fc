"""Read articles from disk and clean them into the canonical text that citations point into.

Every character offset stored in the index refers to `Article.text`, the output of `clean_text`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LoadError
from ..language import CJK_RE
from .glosses import remove_pinyin_glosses
from .metadata import _DATE_LABEL, _DATE_ONLY_LINE, _SOURCE_LABEL, METADATA_VERSION, Found, find_date, find_outlet

# Re-exported: is_byline, extract_date, extract_outlet and normalise_date are this module's API too.
from .metadata import extract_date as extract_date
from .metadata import extract_outlet as extract_outlet
from .metadata import is_byline as is_byline
from .metadata import normalise_date as normalise_date

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class Article:
    """One cleaned article. `source` is the file name that citations name."""

    source: str
    text: str
    title: str
    outlet: str | None = None
    date: str | None = None
    path: str | None = None
    content_hash: str = ""
    extra: dict = field(default_factory=dict)
    date_at: int = -1  # where in `text` the date / outlet is written (-1: not in the text, e.g. HTML metadata)
    outlet_at: int = -1

    def __post_init__(self) -> None:
        if not self.content_hash:
            self.content_hash = content_hash(self.text)

    @property
    def metadata(self) -> dict:
        return {
            "source": self.source,
            "title": self.title,
            "outlet": self.outlet or "",
            "date": self.date or "",
            "date_at": self.date_at,
            "outlet_at": self.outlet_at,
            "metadata_version": METADATA_VERSION,
            "content_hash": self.content_hash,
        }


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- decoding --------------------------------------------------------------------------------

def decode_bytes(data: bytes, name: str) -> str:
    """Decode article bytes, refusing binary data and unknown encodings with a clear message."""
    if not data.strip():
        raise LoadError(f"{name}: the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise LoadError(f"{name}: has a UTF-16 byte-order mark but is not valid UTF-16 ({e.reason})") from e
    sample = data[:8192]
    if b"\x00" in sample:
        raise LoadError(f"{name}: looks like a binary file (it contains NUL bytes); only text articles can be indexed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        legacy = _decode_chinese_legacy(data)
        if legacy is None:
            raise LoadError(
                f"{name}: is not valid UTF-8 (byte {e.start}); re-save it as UTF-8 and ingest it again"
            ) from e
        text = legacy
    controls = sum(1 for ch in text[:8192] if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if controls > max(8, len(text[:8192]) // 50):
        raise LoadError(f"{name}: looks like a binary file (many control characters); only text articles can be indexed")
    return text


def _decode_chinese_legacy(data: bytes) -> str | None:
    """GBK/GB18030 or Big5 Chinese text, accepted only when it decodes cleanly into mostly Chinese characters
    (so a Latin-1 or binary file is not mistaken for Chinese)."""
    for enc in ("gb18030", "big5"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if any(unicodedata.category(c) == "Co" for c in text):  # private-use characters: the wrong encoding
            continue
        letters = [c for c in text if c.isalpha()]
        cjk = sum(1 for c in letters if CJK_RE.match(c))
        if letters and cjk / len(letters) >= 0.6:
            return text
    return None


# --- cleaning --------------------------------------------------------------------------------

_BOILERPLATE_LINES = [
    r"leave a (reply|comment)",
    r"your email address will not be published.*",
    r"required fields are marked.*",
    r"(post )?comment",
    r"share (this|on).*",
    r"(related|recommended) (articles|posts|links|reading).*",
    r"(all rights reserved|copyright ©|©).*",
    r"友情[鏈链]接.*",
    r"(相[關关]|推薦|推荐)(文章|新[聞闻]|[閱阅][讀读]).*",
    r"(責任)?[編编][輯辑]\s*[:：].{0,20}",
    r"[责責]任[编編][辑輯].{0,20}",
    r"[^\w]*",  # lines with no letters or digits at all ("?", "▲", "---")
]
_BOILERPLATE_LINE = re.compile(r"^\s*(?:" + "|".join(_BOILERPLATE_LINES) + r")\s*$", re.IGNORECASE)
# Inline tails that scraped pages glue onto the last paragraph.
_BOILERPLATE_TAIL = re.compile(
    r"(?:Disclaimer|Statement|免責聲明|免责声明)\s*[:：].*$"
    r"|(?:Email address|E-mail|Wechat id|WeChat ID)\s*[:：][^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_LINK_LINE = re.compile(r"^\s*(?:[-*•]\s*)?(?:\[[^\]]*\]\([^)]*\)|https?://\S+)\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE)
_MD_EMPH = re.compile(r"(\*\*|__)(.+?)\1")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def clean_text(raw: str, markdown: bool = False) -> str:
    """Canonical article text: no boilerplate, no pinyin glosses, normalised whitespace and line ends."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _ZERO_WIDTH.sub("", text)
    text = unicodedata.normalize("NFC", text)
    if markdown:
        text = "\n".join(line for line in text.split("\n") if not _LINK_LINE.match(line))
        text = _MD_HEADING.sub("", text)
        text = _MD_LINK.sub(r"\1", text)
        text = _MD_EMPH.sub(r"\2", text)
    text = remove_pinyin_glosses(text)
    text = _BOILERPLATE_TAIL.sub("", text)
    lines = []
    for line in text.split("\n"):
        line = re.sub(r"[ \t\u3000\u00a0]+", " ", line).strip()
        if line and (_BOILERPLATE_LINE.match(line) or _LINK_LINE.match(line)):
            continue
        lines.append(line)
    # Link lists: drop a trailing run of short lines after a "links" heading was removed.
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


# --- metadata (rules in metadata.py) ---------------------------------------------------------------------

def extract_title(text: str, fallback: str) -> str:
    for line in text.split("\n")[:8]:
        line = line.strip()
        if not line or _DATE_ONLY_LINE.match(line) or _DATE_LABEL.match(line) or _SOURCE_LABEL.match(line):
            continue
        if len(line) <= 150:
            return line
        # No headline: use the start of the first sentence.
        first = re.split(r"(?<=[.!?。！？])", line, maxsplit=1)[0]
        if len(first) > 100:
            first = first[:100].rsplit(" ", 1)[0] if " " in first[:100] else first[:100]
            first += "…"
        return first
    return fallback


# --- readers ---------------------------------------------------------------------------------

def _html_to_text(html: str) -> tuple[str, dict]:
    import trafilatura

    extracted = trafilatura.bare_extraction(html, include_comments=False, include_tables=True, with_metadata=True)
    if extracted is None:
        return "", {}
    doc = extracted if isinstance(extracted, dict) else extracted.as_dict()
    meta = {k: doc.get(k) for k in ("title", "date", "sitename", "author") if doc.get(k)}
    return doc.get("text") or "", meta


def load_article(path: Path, data: bytes | None = None, source: str | None = None) -> Article:
    """Read and clean one article file. Raises LoadError with a user-facing message."""
    name = source or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"{name}: unsupported file type '{suffix or 'none'}' (use {', '.join(SUPPORTED_SUFFIXES)})")
    if data is None:
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                raise LoadError(f"{name}: is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit for one article")
            data = path.read_bytes()
        except OSError as e:
            raise LoadError(f"{name}: cannot be read ({e.strerror})") from e
    raw = decode_bytes(data, name)
    meta: dict = {}
    if suffix in (".html", ".htm"):
        raw, meta = _html_to_text(raw)
    text = clean_text(raw, markdown=suffix in (".md", ".markdown"))
    if not re.search(r"\w", text):
        raise LoadError(f"{name}: has no article text after cleaning")
    title = meta.get("title") or extract_title(text, fallback=Path(name).stem)
    date = Found(normalise_date(meta["date"])) if meta.get("date") else find_date(text)
    outlet = find_outlet(text) or (Found(meta["sitename"]) if meta.get("sitename") else None)
    return Article(source=name, text=text, title=title, outlet=outlet.value if outlet else None,
                   date=date.value if date else None,
                   date_at=date.at if date else -1, outlet_at=outlet.at if outlet else -1, path=str(path))


def iter_article_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under the given files/folders, sorted, skipping hidden files."""
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    yield f
        else:
            yield p


def load_articles(paths: Iterable[Path]) -> tuple[list[Article], list[str]]:
    """Load every readable article; return (articles, warnings). One bad file never stops the rest."""
    articles: list[Article] = []
    warnings: list[str] = []
    for f in iter_article_files(paths):
        if not f.exists():
            warnings.append(f"{f}: no such file or folder")
            continue
        try:
            articles.append(load_article(f))
        except LoadError as e:
            warnings.append(f"skipped {e}")
            log.warning("skipped %s", e)
    return articles, warnings
