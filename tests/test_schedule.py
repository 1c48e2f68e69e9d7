"""The pure scheduling rules, against a fake clock: header parsing, the plan, redirects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from feedsvc.schedule import (
    MAX_BACKOFF,
    MAX_DELAY,
    MAX_FRESHNESS,
    MAX_RETRY_AFTER,
    MIN_DELAY,
    NextFetch,
    ServerHints,
    backoff,
    follow_redirects,
    hints_from_headers,
    next_fetch_after,
    parse_http_date,
    parse_max_age,
    parse_retry_after,
    permanent_target,
    plan_next_fetch,
)
from feedsvc.types import Redirect, RedirectState

NOW = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)  # the fake clock
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
OLD, NEW, OTHER = "http://a.test/feed", "http://b.test/feed", "http://c.test/feed"


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 04 May 2031 10:00:00 GMT", NOW + 30 * MIN),
        ("Sunday, 04-May-31 10:00:00 GMT", NOW + 30 * MIN),  # RFC 850
        ("Sun May  4 10:00:00 2031", NOW + 30 * MIN),  # asctime
        ("Sun, 04 May 2031 12:00:00 +0200", NOW + 30 * MIN),
        ("0", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_http_date(value: str, expected: datetime | None) -> None:
    parsed = parse_http_date(value)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo is not None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("max-age=600", 600),
        ("public, max-age=3600, must-revalidate", 3600),
        ('max-age="90"', 90),
        ("MAX-AGE=5", 5),
        ("s-maxage=100", 100),
        ("s-maxage=100, max-age=50", 50),  # max-age is what a private cache obeys
        ("no-cache", 0),
        ("no-store, max-age=60", 60),
        ("public", None),
        ("max-age=soon", None),
    ],
)
def test_parse_max_age(value: str, seconds: int | None) -> None:
    expected = None if seconds is None else timedelta(seconds=seconds)
    assert parse_max_age(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + 2 * MIN),
        (" 0 ", NOW),
        ("Sun, 04 May 2031 11:30:00 GMT", NOW + 2 * HOUR),
        ("-5", None),
        ("in a while", None),
    ],
)
def test_parse_retry_after(value: str, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_hints_from_headers() -> None:
    hints = hints_from_headers(
        {
            "cache-control": "max-age=7200",
            "expires": "Sun, 04 May 2031 12:30:00 GMT",
            "retry-after": "30",
        },
        NOW,
    )
    assert hints == ServerHints(2 * HOUR, NOW + 3 * HOUR, NOW + timedelta(seconds=30))
    assert hints_from_headers({}, NOW) == ServerHints()
    assert hints_from_headers({"expires": "-1"}, NOW).expires == NOW  # invalid: already expired


# --------------------------------------------------------------------------- the plan


def plan(
    interval: timedelta = HOUR,
    failures: int = 0,
    *,
    jitter: float = 0.0,
    random: float = 0.0,
    **hints: object,
) -> NextFetch:
    return plan_next_fetch(
        NOW,
        interval,
        failures=failures,
        hints=ServerHints(**hints),  # type: ignore[arg-type]
        jitter=jitter,
        random=random,
    )


@pytest.mark.parametrize(
    ("kwargs", "delay", "reason"),
    [
        # success: the interval
        ({}, HOUR, "interval"),
        ({"interval": 15 * MIN}, 15 * MIN, "interval"),
        # freshness lengthens, never shortens, and is capped
        ({"max_age": 2 * HOUR}, 2 * HOUR, "freshness"),
        ({"max_age": 10 * MIN}, HOUR, "interval"),
        ({"max_age": timedelta(0)}, HOUR, "interval"),
        ({"max_age": 30 * DAY}, MAX_FRESHNESS, "freshness"),
        ({"expires": NOW + 3 * HOUR}, 3 * HOUR, "freshness"),
        ({"expires": NOW - HOUR}, HOUR, "interval"),
        ({"max_age": 2 * HOUR, "expires": NOW + 5 * HOUR}, 2 * HOUR, "freshness"),
        ({"interval": 2 * HOUR, "max_age": 3 * HOUR}, 3 * HOUR, "freshness"),
        ({"interval": 8 * HOUR, "max_age": 3 * DAY}, 8 * HOUR, "freshness"),
        # Retry-After on success means nothing
        ({"retry_after": NOW + 5 * HOUR}, HOUR, "interval"),
        # failure: doubling back-off from the interval, capped, still tried
        ({"failures": 1}, HOUR, "backoff"),
        ({"failures": 2}, 2 * HOUR, "backoff"),
        ({"failures": 4}, 8 * HOUR, "backoff"),
        ({"failures": 6}, MAX_BACKOFF, "backoff"),
        ({"failures": 10_000}, MAX_BACKOFF, "backoff"),
        ({"failures": 3, "interval": 3 * DAY}, 3 * DAY, "backoff"),
        # freshness does not shorten or lengthen a back-off
        ({"failures": 1, "max_age": 5 * HOUR}, HOUR, "backoff"),
        # Retry-After is a lower bound on a failure, capped
        ({"failures": 1, "retry_after": NOW + 3 * HOUR}, 3 * HOUR, "retry-after"),
        ({"failures": 3, "retry_after": NOW + 2 * MIN}, 4 * HOUR, "backoff"),
        ({"failures": 1, "retry_after": NOW + 30 * DAY}, MAX_RETRY_AFTER, "retry-after"),
        # bounds
        ({"interval": timedelta(seconds=5)}, MIN_DELAY, "floor"),
        ({"failures": 1, "interval": timedelta(seconds=5)}, MIN_DELAY, "floor"),
    ],
)
def test_plan_next_fetch(kwargs: dict[str, object], delay: timedelta, reason: str) -> None:
    got = plan(**kwargs)  # type: ignore[arg-type]
    assert (got.at - NOW, got.reason) == (delay, reason)


@pytest.mark.parametrize(
    ("random", "delay"),
    [(0.0, HOUR), (0.5, HOUR * 1.05), (0.999, HOUR * 1.0999), (1.0, HOUR * 1.1), (-3.0, HOUR)],
)
def test_jitter_only_ever_lengthens(random: float, delay: timedelta) -> None:
    got = plan(jitter=0.1, random=random)
    assert got.at - NOW == delay
    assert got.reason == "interval"


def test_jitter_spreads_a_backoff_too() -> None:
    assert plan(failures=2, jitter=0.5, random=0.5).at - NOW == 2 * HOUR * 1.25


def test_ceiling_holds_after_jitter() -> None:
    got = plan(failures=50, jitter=0.5, random=0.9)
    assert (got.at - NOW, got.reason) == (MAX_DELAY, "ceiling")
    long_interval = plan(interval=7 * DAY, jitter=0.5, random=0.9)
    assert (long_interval.at - NOW, long_interval.reason) == (7 * DAY, "ceiling")


def test_a_source_failing_for_weeks_is_still_tried_daily() -> None:
    clock, gaps = NOW, []
    for failures in range(1, 41):
        nxt = plan_next_fetch(clock, 10 * MIN, failures=failures)
        gaps.append(nxt.at - clock)
        clock = nxt.at
    assert gaps[:4] == [10 * MIN, 20 * MIN, 40 * MIN, 80 * MIN]
    assert gaps == sorted(gaps)
    assert max(gaps) == DAY and clock - NOW < 40 * DAY


def test_backoff_and_legacy_helper() -> None:
    assert backoff(HOUR, 0) == HOUR
    assert backoff(HOUR, 3) == 4 * HOUR
    assert next_fetch_after(NOW, HOUR, 2) == NOW + 2 * HOUR


# --------------------------------------------------------------------------- redirects


def hop(status: int, url: str = OLD, location: str = NEW) -> Redirect:
    return Redirect(url, status, location)


@pytest.mark.parametrize(
    ("hops", "target"),
    [
        ((), None),
        ((hop(301),), NEW),
        ((hop(308),), NEW),
        ((hop(302),), None),
        ((hop(307),), None),
        ((hop(301), hop(301, NEW, OTHER)), OTHER),
        ((hop(301), hop(302, NEW, OTHER)), NEW),
        ((hop(302), hop(301, NEW, OTHER)), None),
    ],
)
def test_permanent_target(hops: tuple[Redirect, ...], target: str | None) -> None:
    assert permanent_target(hops) == target


def test_a_stable_permanent_redirect_is_adopted_after_the_trial() -> None:
    state = RedirectState()
    state = follow_redirects(state, [hop(301)], NOW, DAY)
    assert state == RedirectState(None, NEW, NOW)
    state = follow_redirects(state, [hop(301)], NOW + 23 * HOUR, DAY)
    assert state == RedirectState(None, NEW, NOW)  # not yet
    state = follow_redirects(state, [hop(301)], NOW + DAY, DAY)
    assert state == RedirectState(adopted_url=NEW)


def test_an_unstable_redirect_restarts_or_ends_the_trial() -> None:
    pending = RedirectState(None, NEW, NOW)
    moved = follow_redirects(pending, [hop(301, OLD, OTHER)], NOW + 2 * DAY, DAY)
    assert moved == RedirectState(None, OTHER, NOW + 2 * DAY)
    assert follow_redirects(pending, [], NOW + 2 * DAY, DAY) == RedirectState()
    assert follow_redirects(pending, [hop(302)], NOW + 2 * DAY, DAY) == RedirectState()


def test_temporary_redirects_are_never_adopted() -> None:
    state = RedirectState()
    for day in range(10):
        state = follow_redirects(state, [hop(302)], NOW + day * DAY, DAY)
        state = follow_redirects(state, [hop(307)], NOW + day * DAY, DAY)
    assert state == RedirectState()


def test_adopted_url_is_kept_and_can_move_again() -> None:
    adopted = RedirectState(adopted_url=NEW)
    assert follow_redirects(adopted, [], NOW, DAY) == adopted
    again = follow_redirects(adopted, [hop(301, NEW, OTHER)], NOW, DAY)
    assert again == RedirectState(NEW, OTHER, NOW)
    assert follow_redirects(again, [hop(301, NEW, OTHER)], NOW + DAY, DAY) == RedirectState(
        adopted_url=OTHER
    )


def test_zero_trial_adopts_at_once() -> None:
    assert follow_redirects(RedirectState(), [hop(308)], NOW, timedelta(0)) == RedirectState(
        adopted_url=NEW
    )
