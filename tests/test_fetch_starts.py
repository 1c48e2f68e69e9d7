"""Which fetches a run starts, and when (``feedsvc.politeness.StartQueue``)."""

from __future__ import annotations

import pytest

from feedsvc.politeness import StartQueue


def _queue(hosts: str, per_host: int = 2, limit: int = 100) -> StartQueue[str]:
    """Requests named by their host's letter and place ("a0", "b1", ...); "-": no host."""
    pairs = [(None if h == "-" else h, f"{h}{n}") for n, h in enumerate(hosts)]
    return StartQueue(pairs, per_host, limit)


def _names(started: list[tuple[str | None, str]]) -> list[str]:
    return [name for _, name in started]


def test_a_host_starts_no_more_than_per_host_and_the_others_go_ahead() -> None:
    queue = _queue("aaaab-a")
    assert _names(queue.ready()) == ["a0", "a1", "b4", "-5"]
    assert queue.ready() == []  # a is at its limit; nothing else waits
    assert len(queue) == 3
    queue.finished("b")
    assert queue.ready() == []  # b had one
    queue.finished("a")
    assert _names(queue.ready()) == ["a2"]  # the next of a, in order
    queue.finished("a")
    queue.finished("a")
    assert _names(queue.ready()) == ["a3", "a6"]
    assert len(queue) == 0


def test_no_more_than_limit_start_in_all() -> None:
    queue = _queue("abcdef", per_host=1, limit=3)
    assert _names(queue.ready()) == ["a0", "b1", "c2"]
    queue.finished("b")
    assert _names(queue.ready()) == ["d3"]
    queue.finished("a")
    queue.finished("c")
    assert _names(queue.ready()) == ["e4", "f5"]


def test_requests_without_a_host_are_bound_by_the_limit_only() -> None:
    queue = _queue("-----", per_host=1, limit=4)
    assert _names(queue.ready()) == ["-0", "-1", "-2", "-3"]
    queue.finished(None)
    assert _names(queue.ready()) == ["-4"]


def test_requests_start_in_the_order_given_across_hosts() -> None:
    queue = _queue("abab", per_host=1, limit=100)
    assert _names(queue.ready()) == ["a0", "b1"]
    queue.finished("b")  # b's next is later than a's, but a is busy
    assert _names(queue.ready()) == ["b3"]
    queue.finished("a")
    assert _names(queue.ready()) == ["a2"]


def test_ending_a_request_that_did_not_start_is_a_bug() -> None:
    queue = _queue("ab")
    with pytest.raises(ValueError, match="no request of host 'a'"):
        queue.finished("a")
    with pytest.raises(ValueError, match="at least 1"):
        StartQueue([], per_host=0, limit=1)
