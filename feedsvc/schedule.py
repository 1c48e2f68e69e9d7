"""When to fetch a source next: pure decisions, no I/O, no clock.

The cycle asks ``next_fetch_after`` after every fetch and stores the answer on
the source; ``Store.due_sources(now)`` then picks what is due. This module does
not fetch, store or sleep. Jitter, server hints (Cache-Control, Retry-After)
and the APScheduler daemon build on it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_BACKOFF = timedelta(days=1)


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` consecutive failures: doubling from ``interval``, capped."""
    if failures <= 0:
        return interval
    factor: int = 2 ** min(failures - 1, 20)
    return min(interval * factor, max(MAX_BACKOFF, interval))


def next_fetch_after(now: datetime, interval: timedelta, failures: int) -> datetime:
    """When a source that has failed ``failures`` times in a row is next due."""
    return now + backoff(interval, failures)
