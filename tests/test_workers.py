"""The worker pool helpers: ordered, bounded mapping."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedsvc.pipeline import run_cycle
from feedsvc.service import Service
from feedsvc.workers import RenewingPool, bounded_map, worker_pool
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer

QUAYSIDE = (Path(__file__).parent / "fixtures" / "pipeline" / "quayside.rss").read_bytes()


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


def die_once(flag: str) -> int:
    """Kill the worker process the first time a "die" flag is seen; else its pid."""
    path = Path(flag)
    if path.name.startswith("die") and not path.exists():
        path.touch()
        os._exit(3)
    time.sleep(0.2)
    return os.getpid()


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_its_tasks_run_again(tmp_path: Path) -> None:
    flags = [str(tmp_path / name) for name in ("ok0", "die", "ok1", "ok2", "ok3")]
    with worker_pool(2) as pool:
        assert isinstance(pool, RenewingPool)
        results = list(bounded_map(pool, die_once, flags, window=3))
    assert len(results) == 5 and all(isinstance(pid, int) for pid in results)
    assert pool.renewals >= 1


@pytest.mark.slow
def test_a_task_that_kills_its_worker_twice_fails_alone(tmp_path: Path) -> None:
    with worker_pool(2) as pool:
        doomed = pool.submit(os._exit, 3)
        with pytest.raises(BrokenProcessPool):
            doomed.result()
        assert pool.submit(os.getpid).result() > 0


@pytest.mark.slow
def test_a_cycle_survives_workers_killed_before_it(
    tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    loopback_server.route("/a.xml", body=QUAYSIDE)
    config = write_config(tmp_path, [feed_source("a", loopback_server.url("/a.xml"))])
    service = Service.from_path(config)
    with worker_pool(2) as pool:
        assert pool.submit(os.getpid).result() != os.getpid()  # workers are up
        for child in multiprocessing.active_children():
            os.kill(child.pid or 0, signal.SIGKILL)
        time.sleep(0.5)
        with service.open_store() as store:
            result = run_cycle(service.config, store, datetime.now(UTC), pool=pool)
    assert [(r.source, r.status, r.new) for r in result.sources] == [("a", "ok", 2)]
