"""The pool of worker processes that does a run's CPU-bound work.

Extraction and normalisation (``pipeline``) and feed rendering
(``publishing``) go to the same pool, so one run starts its workers once. The
pool is a ``ProcessPoolExecutor`` with the forkserver start method (no thread
of the parent is ever forked), one process per core by default, or a single
thread when one worker is asked for. Processes start at the first task, so a
run with nothing to do starts none. Workers ignore SIGINT: Ctrl-C reaches the
whole process group, and the parent decides how to stop. Workers exit by
themselves when the parent dies, even by SIGKILL: otherwise they (and the
forkserver, which they keep alive) would wait for work forever, about 45 MB
each, a set per killed run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """How many worker processes to use: one per core."""
    return max(1, os.cpu_count() or 1)


def worker_pool(workers: int | None = None) -> Executor:
    """An executor for CPU-bound work: ``workers`` processes, or a thread for one."""
    count = workers or default_workers()
    if count <= 1:
        return ThreadPoolExecutor(1, "feedsvc-worker")
    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(
        count, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )


def _start_worker(parent: int) -> None:
    """Ignore Ctrl-C (the parent stops the run) and exit when ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="feedsvc-orphan", daemon=True).start()


def _exit_with(parent: int) -> None:
    """Wait for ``parent`` to end (a pidfd where there is one, else polling), then exit."""
    try:
        handle = os.pidfd_open(parent)
    except (AttributeError, OSError):  # no pidfd here, or the parent is already gone
        while _alive(parent):
            time.sleep(1.0)
    else:
        with contextlib.suppress(OSError):
            select.select([handle], [], [])
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def bounded_map(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``map(fn, items)`` on ``pool``, in order, with at most ``window`` tasks in flight.

    ``items`` is consumed only as results are taken, so a generator of large
    items (feeds read from the database) never has more than ``window`` of
    them in memory. An exception in ``fn`` is raised when its result is taken.
    """
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
