"""The worker pool helpers: ordered, bounded mapping."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from feedsvc.workers import bounded_map, worker_pool


def square(n: int) -> int:
    if n == 7:
        raise ValueError("seven")
    return n * n


def test_results_come_in_order_and_items_are_read_only_as_needed() -> None:
    taken: list[int] = []

    def items() -> Iterator[int]:
        for n in range(6):
            taken.append(n)
            yield n

    with ThreadPoolExecutor(2) as pool:
        results = bounded_map(pool, square, items(), window=2)
        assert next(results) == 0
        assert len(taken) <= 3  # never more than the window ahead of the consumer
        assert list(results) == [1, 4, 9, 16, 25]


def test_an_error_is_raised_when_its_result_is_taken() -> None:
    with worker_pool(2) as pool:
        results = bounded_map(pool, square, range(10), window=3)
        assert [next(results) for _ in range(7)] == [0, 1, 4, 9, 16, 25, 36]
        with pytest.raises(ValueError, match="seven"):
            next(results)
