"""Date helpers shared by the extractors: struct_time, ISO 8601 and prose dates.

Every function returns an aware UTC ``datetime`` or None; none of them raises on
bad input. A date outside ``EARLIEST``..``LATEST`` is treated as nonsense (None).
This module does not decide which of a document's dates is the published one.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

EARLIEST = datetime(1980, 1, 1, tzinfo=UTC)
"""Dates before this are taken as placeholders or parse errors."""

LATEST = datetime(2100, 1, 1, tzinfo=UTC)
"""Dates after this are taken as parse errors."""

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TEXT_DATE_PATTERNS = (
    re.compile(r"\b(?P<year>\d{4})-(?P<mon>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(r"\b(?P<year>\d{4})\.(?P<mon>\d{1,2})\.(?P<day>\d{1,2})\b"),
    re.compile(r"\b(?P<year>\d{4})/(?P<mon>\d{1,2})/(?P<day>\d{1,2})\b"),
    re.compile(r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b", re.I),
    re.compile(r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>\d{4})\b", re.I),
)


@dataclass(frozen=True, slots=True)
class TextDate:
    """A date found in prose: where it starts and ends, and its value."""

    start: int
    end: int
    value: datetime


def in_range(value: datetime) -> datetime | None:
    """Return ``value`` converted to UTC when it is plausible, else None."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value if EARLIEST <= value < LATEST else None


def from_struct_time(value: object) -> datetime | None:
    """Convert a UTC ``time.struct_time`` (feedparser's ``*_parsed``) to a datetime."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        stamp = calendar.timegm(value)
        return in_range(datetime.fromtimestamp(stamp, UTC))
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def parse_iso(value: object) -> datetime | None:
    """Parse an ISO 8601 / RFC 3339 date or datetime; naive values are taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return in_range(parsed)


def find_text_dates(text: str) -> list[TextDate]:
    """Every recognised date in ``text`` ("2026-01-13", "2026.1.13", "January 13, 2026"...)."""
    found: list[TextDate] = []
    for pattern in _TEXT_DATE_PATTERNS:
        for match in pattern.finditer(text):
            value = _match_date(match)
            if value is not None:
                found.append(TextDate(match.start(), match.end(), value))
    found.sort(key=lambda d: d.start)
    return found


def first_text_date(text: str) -> datetime | None:
    """The first recognised date in ``text``, at 00:00 UTC, or None."""
    dates = find_text_dates(text)
    return dates[0].value if dates else None


def _match_date(match: re.Match[str]) -> datetime | None:
    groups = match.groupdict()
    month_name = groups.get("month")
    month = _MONTHS[month_name.lower()] if month_name else int(groups["mon"])
    try:
        day = date(int(groups["year"]), month, int(groups["day"]))
    except ValueError:
        return None
    return in_range(datetime(day.year, day.month, day.day, tzinfo=UTC))
