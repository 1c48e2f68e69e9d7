"""When to fetch a source next, and which URL to fetch: pure decisions, no I/O, no clock.

After every fetch the cycle calls ``plan_next_fetch`` with the time, the
source's interval, its consecutive failures, the server's hints (parsed from
``Cache-Control: max-age``, ``Expires`` and ``Retry-After`` by
``hints_from_headers``) and a random number it drew itself, and stores the
answer; ``Store.due_sources(now)`` then picks what is due. ``follow_redirects``
decides when a permanent redirect has been stable long enough to adopt its
target. The rules (see docs/design.md):

- success: the interval; a longer server freshness (max-age, else Expires)
  lengthens it, up to ``MAX_FRESHNESS``; a shorter one never shortens it;
- failure: the interval doubled per consecutive failure, capped at
  ``MAX_BACKOFF`` (a failing source is still tried, rarely); ``Retry-After``
  (capped at ``MAX_RETRY_AFTER``) is a lower bound on top of that;
- jitter: the delay grows by up to ``jitter`` of itself (never shrinks), so
  sources configured alike drift apart;
- bounds: never sooner than ``MIN_DELAY``, never later than
  ``max(MAX_DELAY, interval)``.

This module does not fetch, store, sleep, read the clock or draw random numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal

from feedsvc.types import Redirect, RedirectState

MIN_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(days=1)
MAX_BACKOFF = timedelta(days=1)
MAX_FRESHNESS = timedelta(hours=6)
MAX_RETRY_AFTER = timedelta(days=1)
DEFAULT_JITTER = 0.1
PERMANENT = frozenset({301, 308})

Reason = Literal["interval", "freshness", "backoff", "retry-after", "floor", "ceiling"]

_MAX_AGE_RE = re.compile(r"(?:^|,)\s*(s-maxage|max-age)\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ServerHints:
    """What a response said about when to come back; every field optional."""

    max_age: timedelta | None = None
    expires: datetime | None = None
    retry_after: datetime | None = None


@dataclass(frozen=True, slots=True)
class NextFetch:
    """When to fetch a source next, and which rule decided it."""

    at: datetime
    reason: Reason


# --------------------------------------------------------------------------- header parsing


def parse_http_date(value: str) -> datetime | None:
    """An HTTP-date as aware UTC, or None when it is not one."""
    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # "-0000" means UTC too
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_max_age(cache_control: str) -> timedelta | None:
    """The ``max-age`` (or ``s-maxage``) of a Cache-Control value; ``no-cache`` counts as 0."""
    found = {name.lower(): int(value) for name, value in _MAX_AGE_RE.findall(cache_control)}
    seconds = found.get("max-age", found.get("s-maxage"))
    if seconds is None and re.search(r"\bno-(?:cache|store)\b", cache_control, re.IGNORECASE):
        seconds = 0
    return None if seconds is None else timedelta(seconds=min(seconds, 10**9))


def parse_retry_after(value: str, now: datetime) -> datetime | None:
    """When a ``Retry-After`` (delay-seconds or HTTP-date) says to come back, or None."""
    text = value.strip()
    if text.isdigit():
        return now + timedelta(seconds=min(int(text), 10**9))
    return parse_http_date(text)


def hints_from_headers(headers: Mapping[str, str], now: datetime) -> ServerHints:
    """The scheduling hints in response headers (names lower-case, as fetch gives them)."""
    cache_control = headers.get("cache-control")
    expires = headers.get("expires")
    retry_after = headers.get("retry-after")
    return ServerHints(
        max_age=parse_max_age(cache_control) if cache_control else None,
        expires=_expires(expires, now) if expires is not None else None,
        retry_after=parse_retry_after(retry_after, now) if retry_after else None,
    )


def _expires(value: str, now: datetime) -> datetime:
    # An invalid Expires (often "0" or "-1") means "already expired" (RFC 9111 5.3).
    parsed = parse_http_date(value)
    return parsed if parsed is not None else now


# --------------------------------------------------------------------------- the plan


def backoff(interval: timedelta, failures: int) -> timedelta:
    """The wait after ``failures`` consecutive failures: doubling from ``interval``, capped."""
    if failures <= 0:
        return interval
    factor: int = 2 ** min(failures - 1, 20)
    return min(interval * factor, max(MAX_BACKOFF, interval))


def freshness(hints: ServerHints, now: datetime) -> timedelta | None:
    """How long the server says the response stays fresh (max-age wins over Expires)."""
    if hints.max_age is not None:
        return hints.max_age
    if hints.expires is not None:
        return max(hints.expires - now, timedelta(0))
    return None


def plan_next_fetch(
    now: datetime,
    interval: timedelta,
    *,
    failures: int = 0,
    hints: ServerHints | None = None,
    jitter: float = DEFAULT_JITTER,
    random: float = 0.0,
) -> NextFetch:
    """The next fetch after one at ``now`` (``failures`` counts this one if it failed).

    ``random`` is a number in [0, 1) the caller drew; with ``jitter`` it spreads
    the delay by up to ``jitter`` of itself, later, never sooner.
    """
    hints = hints or ServerHints()
    delay, reason = _base_delay(now, interval, failures, hints)
    delay = delay * (1.0 + max(jitter, 0.0) * min(max(random, 0.0), 1.0))
    delay, reason = _retry_after(now, delay, reason, hints, failures)
    delay, reason = _clamp(delay, reason, interval)
    return NextFetch(now + delay, reason)


def _base_delay(
    now: datetime, interval: timedelta, failures: int, hints: ServerHints
) -> tuple[timedelta, Reason]:
    if failures > 0:
        return backoff(interval, failures), "backoff"
    fresh = freshness(hints, now)
    if fresh is not None and fresh > interval:
        return min(fresh, max(MAX_FRESHNESS, interval)), "freshness"
    return interval, "interval"


def _retry_after(
    now: datetime, delay: timedelta, reason: Reason, hints: ServerHints, failures: int
) -> tuple[timedelta, Reason]:
    if hints.retry_after is None or failures <= 0:
        return delay, reason
    wanted = min(hints.retry_after - now, MAX_RETRY_AFTER)
    return (wanted, "retry-after") if wanted > delay else (delay, reason)


def _clamp(delay: timedelta, reason: Reason, interval: timedelta) -> tuple[timedelta, Reason]:
    if delay < MIN_DELAY:
        return MIN_DELAY, "floor"
    ceiling = max(MAX_DELAY, interval)
    if delay > ceiling:
        return ceiling, "ceiling"
    return delay, reason


def next_fetch_after(now: datetime, interval: timedelta, failures: int) -> datetime:
    """When a source that has failed ``failures`` times in a row is next due (no jitter)."""
    return plan_next_fetch(now, interval, failures=failures).at


# --------------------------------------------------------------------------- redirects


def permanent_target(redirects: Sequence[Redirect]) -> str | None:
    """Where the leading run of permanent (301/308) hops leads, or None if the first is not."""
    target = None
    for hop in redirects:
        if hop.status not in PERMANENT:
            break
        target = hop.location
    return target


def follow_redirects(
    stored: RedirectState, redirects: Sequence[Redirect], now: datetime, adopt_after: timedelta
) -> RedirectState:
    """The redirect tracking after a fetch that got an HTTP answer through ``redirects``.

    A permanent target seen for the first time starts a trial; the same target
    seen again once ``adopt_after`` has passed since is adopted (it becomes the
    URL fetched); no permanent redirect, or another target, ends the trial.
    Temporary redirects (302/303/307) are followed and never adopted.
    """
    target = permanent_target(redirects)
    if target is None:
        return RedirectState(adopted_url=stored.adopted_url)
    if adopt_after <= timedelta(0):
        return RedirectState(adopted_url=target)
    if target != stored.pending_url or stored.pending_since is None:
        return RedirectState(stored.adopted_url, target, now)
    if now - stored.pending_since >= adopt_after:
        return RedirectState(adopted_url=target)
    return stored
