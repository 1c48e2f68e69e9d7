"""Per-stage timings: accumulation and the ``timings:`` line."""

from __future__ import annotations

import time

from feedsvc.timing import StageTimes, format_timings


def test_stages_accumulate_in_a_fixed_order_then_counts() -> None:
    times = StageTimes()
    times.add("publish", 0.25)
    times.add("fetch", 1.0)
    times.add("fetch", 0.5)
    times.count("articles", 3)
    times.count("articles", 4)
    assert list(times.snapshot().items()) == [("fetch", 1.5), ("publish", 0.25), ("articles", 7.0)]


def test_measure_adds_the_wall_time_of_the_block_even_on_error() -> None:
    times = StageTimes()
    try:
        with times.measure("stories"):
            time.sleep(0.01)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert times.snapshot()["stories"] >= 0.01


def test_format_shows_seconds_with_decimals_and_counts_whole() -> None:
    line = format_timings({"fetch": 2.0, "total": 3.14159, "articles": 12.0})
    assert line == "timings: fetch=2.000 total=3.142 articles=12"
