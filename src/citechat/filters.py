"""Narrowing a question to some articles: by file, outlet and publication date.

The engine turns an `ArticleFilter` into the list of articles it allows (`select`); retrieval then searches only
those, in dense search (a Chroma metadata filter) and in BM25 alike, so an answer never cites outside the filter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from .errors import FilterError

if TYPE_CHECKING:
    from .store import StoredArticle


@dataclass(frozen=True)
class ArticleFilter:
    """Articles to answer from. Empty fields don't narrow; filled ones must all hold. An article without a date is
    outside any date range."""

    sources: tuple[str, ...] = ()  # file names, as the Library lists them
    outlets: tuple[str, ...] = ()  # outlet names (case and surrounding spaces ignored)
    since: date | None = None  # published on or after
    until: date | None = None  # published on or before

    @classmethod
    def parse(cls, sources: Iterable[str] | None = None, outlets: Iterable[str] | None = None,
              since: str | date | None = None, until: str | date | None = None) -> ArticleFilter:
        """A filter from user input; FilterError for a date that isn't YYYY-MM-DD or a range that ends first."""
        f = cls(sources=_clean(sources), outlets=_clean(outlets), since=_date(since, "since"),
                until=_date(until, "until"))
        if f.since and f.until and f.since > f.until:
            raise FilterError(f"The date range is empty: since {f.since} is after until {f.until}.")
        return f

    def is_empty(self) -> bool:
        return not (self.sources or self.outlets or self.since or self.until)

    def matches(self, article: StoredArticle) -> bool:
        if self.sources and article.source not in self.sources:
            return False
        if self.outlets and article.outlet.strip().casefold() not in {o.casefold() for o in self.outlets}:
            return False
        if self.since or self.until:
            published = _try_date(article.date)
            if published is None:
                return False
            if (self.since and published < self.since) or (self.until and published > self.until):
                return False
        return True

    def select(self, articles: Mapping[str, StoredArticle]) -> list[str]:
        """The indexed articles the filter allows; FilterError if there are none."""
        unknown = [s for s in self.sources if s not in articles]
        if unknown:
            raise FilterError(f"Not in the index: {', '.join(unknown)}. Pick articles the Library lists.")
        allowed = sorted(s for s, a in articles.items() if self.matches(a))
        if not allowed:
            raise FilterError(f"No article matches the filter ({self.describe()}). Widen it.")
        return allowed

    def describe(self) -> str:
        parts = []
        if self.sources:
            parts.append("articles: " + ", ".join(self.sources))
        if self.outlets:
            parts.append("outlets: " + ", ".join(self.outlets))
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        return "; ".join(parts) or "no filter"


def _clean(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """Trimmed, de-duplicated values; one string may list several, comma-separated (the /chat API)."""
    if isinstance(values, str):
        values = values.split(",")
    return tuple(dict.fromkeys(v.strip() for v in values or () if v and v.strip()))


def _date(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    if not value.strip():
        return None
    got = _try_date(value)
    if got is None:
        raise FilterError(f"'{value}' is not a date for {name}: write it as YYYY-MM-DD, e.g. 2022-02-07.")
    return got


def _try_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
