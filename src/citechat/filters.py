"""Which articles a question may be answered from: `ArticleFilter` (file names, outlets, a date range).

A stub of the contract the filter backend implements (the engine ignores the filter until it lands); `parse`
turns user input (lists, ISO date strings) into a filter and raises FilterError on bad input."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Iterable

from .errors import FilterError


def _names(values: Iterable[str] | str | None) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = values.split(",")
    return tuple(dict.fromkeys(v.strip() for v in values if v and v.strip()))


def _date(value: str | None, name: str) -> datetime.date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"'{value}' is not a date for '{name}'; write it as YYYY-MM-DD, e.g. 2022-02-07.") from None


@dataclass(frozen=True)
class ArticleFilter:
    sources: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    since: datetime.date | None = None
    until: datetime.date | None = None

    @classmethod
    def parse(cls, sources: Iterable[str] | str | None = None, outlets: Iterable[str] | str | None = None,
              since: str | None = None, until: str | None = None) -> ArticleFilter:
        """A filter from user input: names as a list (or one comma-separated string), dates as YYYY-MM-DD."""
        start, end = _date(since, "since"), _date(until, "until")
        if start and end and start > end:
            raise FilterError(f"'since' ({start}) is after 'until' ({end}); swap them or widen the range.")
        return cls(sources=_names(sources), outlets=_names(outlets), since=start, until=end)
