"""Which fetches a run starts, and when (``feedsvc.politeness.StartQueue``)."""

from __future__ import annotations

import pytest

from feedsvc.politeness import StartQueue


def _queue(
    hosts: str, per_host: int = 2, limit: int = 100, paced: dict[str, float] | None = None
) -> StartQueue[str]:
    """Requests named by their host's letter and place ("a0", "b1", ...); "-": no host."""
    pairs = [(None if h == "-" else h, f"{h}{n}") for n, h in enumerate(hosts)]
    intervals = paced or {}
    return StartQueue(pairs, per_host, limit, lambda host: intervals.get(host, 0.0))


def _names(started: list[tuple[str | None, str]]) -> list[str]:
    return [name for _, name in started]


def test_a_host_starts_no_more_than_per_host_and_the_others_go_ahead() -> None:
    queue = _queue("aaaab-a")
    assert _names(queue.ready(0.0)) == ["a0", "a1", "b4", "-5"]
    assert queue.ready(0.0) == []  # a is at its limit; nothing else waits
    assert len(queue) == 3
    queue.finished("b")
    assert queue.ready(0.0) == []  # b had one
    queue.finished("a")
    assert _names(queue.ready(0.0)) == ["a2"]  # the next of a, in order
    queue.finished("a")
    queue.finished("a")
    assert _names(queue.ready(0.0)) == ["a3", "a6"]
    assert len(queue) == 0


def test_no_more_than_limit_start_in_all() -> None:
    queue = _queue("abcdef", per_host=1, limit=3)
    assert _names(queue.ready(0.0)) == ["a0", "b1", "c2"]
    queue.finished("b")
    assert _names(queue.ready(0.0)) == ["d3"]
    queue.finished("a")
    queue.finished("c")
    assert _names(queue.ready(0.0)) == ["e4", "f5"]


def test_requests_without_a_host_are_bound_by_the_limit_only() -> None:
    queue = _queue("-----", per_host=1, limit=4)
    assert _names(queue.ready(0.0)) == ["-0", "-1", "-2", "-3"]
    queue.finished(None)
    assert _names(queue.ready(0.0)) == ["-4"]


def test_requests_start_in_the_order_given_across_hosts() -> None:
    queue = _queue("abab", per_host=1, limit=100)
    assert _names(queue.ready(0.0)) == ["a0", "b1"]
    queue.finished("b")  # b's next is later than a's, but a is busy
    assert _names(queue.ready(0.0)) == ["b3"]
    queue.finished("a")
    assert _names(queue.ready(0.0)) == ["a2"]


def test_ending_a_request_that_did_not_start_is_a_bug() -> None:
    queue = _queue("ab")
    with pytest.raises(ValueError, match="no request of host 'a'"):
        queue.finished("a")
    with pytest.raises(ValueError, match="at least 1"):
        StartQueue([], per_host=0, limit=1)


def test_a_host_next_request_waits_here_for_its_interval_and_others_go_meanwhile() -> None:
    queue = _queue("aaab", per_host=2, limit=2, paced={"a": 1.0})
    assert _names(queue.ready(10.0)) == ["a0", "b3"]  # a1 is not due: b takes the place
    assert queue.next_due() == 11.0
    assert queue.ready(10.5) == []
    queue.finished("b")
    assert queue.ready(10.9) == []  # a place is free, but a1 is not due yet
    assert _names(queue.ready(11.0)) == ["a1"]
    assert queue.next_due() is None  # a is at its limit (2 started): no turn to wait for
    queue.finished("a")
    assert queue.next_due() == 12.0  # a second after a1 was handed out
    assert queue.ready(11.5) == [] and _names(queue.ready(12.0)) == ["a2"]
    assert len(queue) == 0 and queue.next_due() is None


def test_hosts_without_an_interval_are_not_held() -> None:
    queue = _queue("aabb", per_host=2, paced={"a": 5.0})
    assert _names(queue.ready(0.0)) == ["a0", "b2", "b3"]
    assert _names(queue.ready(5.0)) == ["a1"]
