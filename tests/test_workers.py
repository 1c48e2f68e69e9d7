"""The worker pool helpers: ordered, bounded mapping."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import pytest

from feedsvc.companion import Companion
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


IDLE_POOL = """
import multiprocessing.resource_tracker as tracker, os
from feedsvc.workers import worker_pool
with worker_pool(2) as pool:
    pass
me = os.getpid()
print(tracker._resource_tracker._pid, open(f"/proc/{me}/task/{me}/children").read().split())
try:
    pool.submit(os.getpid)
except RuntimeError as exc:
    print(exc)
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_pool_given_no_task_starts_no_process_and_takes_none_once_shut() -> None:
    # a run with nothing to extract (every feed answers 304) must not pay for a
    # process: not a worker, nor the forkserver, nor the resource tracker that
    # the pool's queues would start
    run = subprocess.run([sys.executable, "-c", IDLE_POOL], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "None []",
        "cannot schedule new futures after shutdown",
    ]


RESTING_POOL = """
import os
from feedsvc.workers import RenewingPool
def children():
    me = os.getpid()
    return sorted(int(p) for p in open(f"/proc/{me}/task/{me}/children").read().split())
with RenewingPool(2) as pool, RenewingPool(2) as other:
    print(pool.submit(abs, -2).result(), len(children()))
    helpers = children()
    other.submit(abs, -3).result()
    pool.rest()
    print(children() == helpers)
    other.rest()
    print(children(), all(not os.path.exists(f"/proc/{pid}") for pid in helpers))
    print(pool.submit(abs, -4).result(), len(children()))
"""


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_resting_pool_ends_the_forkserver_and_the_resource_tracker_when_no_pool_needs_them() -> (
    None
):
    # the story stage rests the pool: the forkserver and the resource tracker
    # (this process's two children; workers are the forkserver's) must not sit
    # beside the engine, unless another pool's workers still use them, and the
    # next task must start them again
    run = subprocess.run(
        [sys.executable, "-c", RESTING_POOL], capture_output=True, text=True, timeout=60
    )  # a tracker stopped while workers hold its pipe open would hang: fail instead
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["2 2", "True", "[] True", "4 2"]
    assert "leaked" not in run.stderr  # the tracker had nothing left to clean up


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


def own_pid(_: object) -> int:
    return os.getpid()


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def echo_doubled(connection: Connection, offset: int) -> None:
    """A companion's task: answer each number doubled plus ``offset``, with its pid, until EOF."""
    while True:
        try:
            n = connection.recv()
        except EOFError:
            return
        connection.send((2 * n + offset, os.getpid()))


def test_a_companion_serves_over_its_pipe_and_ends_when_closed() -> None:
    companion = Companion(echo_doubled, 1)
    try:
        companion.send(20)
        answer, pid = cast("tuple[int, int]", companion.receive())
        assert answer == 41 and pid == companion.pid != os.getpid()
        companion.send(1)
        assert companion.receive() == (3, pid)  # the same process, holding its state
    finally:
        companion.close()
    assert gone(pid)  # closing the pipe ended its task, and the process with it


class Witness:
    """Writes ``freed`` beside ``path`` when it is freed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __del__(self) -> None:
        (self.path / "freed").touch()


def hold_then_return(connection: Connection, path: str, keep: bool) -> Witness | None:
    """A companion's task that holds a ``Witness`` until EOF, then returns it (or drops it)."""
    held = Witness(Path(path))
    connection.send(os.getpid())
    with contextlib.suppress(EOFError):
        connection.recv()
    if keep:
        return held
    del held
    return None


@pytest.mark.parametrize("keep", [True, False])
def test_a_companion_that_returns_what_it_holds_ends_without_freeing_it(
    tmp_path: Path, keep: bool
) -> None:
    companion = Companion(hold_then_return, str(tmp_path), keep)
    assert companion.receive() == companion.pid
    companion.close()
    assert companion.exitcode == 0
    assert (tmp_path / "freed").exists() is not keep


COMPANION_PARENT = """
import sys, time
from tests.test_workers import echo_doubled
from feedsvc.companion import Companion
if __name__ == "__main__":
    companion = Companion(echo_doubled, 0)
    companion.send(1)
    companion.receive()
    print(companion.pid, flush=True)
    time.sleep(60)
"""


def test_a_companion_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(COMPANION_PARENT)
    root = Path(__file__).parent.parent
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not gone(pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid), "a killed run's companion would wait for work forever"


def _resident_after_freeing() -> tuple[int, int, int]:
    """In a fresh process: resident MB while 150 MB of 1 kB blocks are held, freed, trimmed."""
    from feedsvc.workers import return_free_memory

    def resident() -> int:
        status = Path("/proc/self/status").read_text().splitlines()
        return int(next(s for s in status if s.startswith("VmRSS")).split()[1]) // 1024

    blocks = [bytes(1000) + bytes([i % 256]) for i in range(150_000)]
    above = [bytes(1000) for _ in range(10)]  # allocated after: the heap's top cannot shrink
    held = resident()
    del blocks
    freed = resident()
    return_free_memory()
    assert above
    return held, freed, resident()


def test_handing_memory_back_starts_no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # a child forked from this process would count its memory twice while it lives, at
    # the moment the story engine's process peaks (ctypes.util.find_library runs ldconfig)
    from feedsvc.workers import return_free_memory

    started: list[object] = []

    class Recording(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, args: object, *rest: Any, **options: Any) -> None:
            started.append(args)
            super().__init__(args, *rest, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess, "Popen", Recording)
    return_free_memory()
    assert started == []


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_freed_before_a_stage_runs_alone_goes_back_to_the_system() -> None:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        held, freed, trimmed = pool.apply(_resident_after_freeing)
    assert freed > held - 20  # freeing alone keeps the pages in the heap
    assert trimmed < held - 100
