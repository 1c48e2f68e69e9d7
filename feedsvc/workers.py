"""The pool of worker processes that does a run's CPU-bound work.

Extraction and normalisation (``pipeline``) and feed rendering (``publishing``)
go to the same pool, so one run starts its workers once; the story engine works
in a ``companion.Companion``, a process of its own that the round speaks to
over a pipe and that ends with it, so the engine's memory goes back to the
system, not to the parent's heap. The pool is a ``ProcessPoolExecutor`` with
the forkserver start method (no thread of the parent is ever forked), one
process per core by default, or a single thread when one worker is asked for.
Processes start at the first task, so a run with nothing to do starts none;
nor does it make the pool's queues, whose locks would start multiprocessing's
resource tracker (a process of its own). When the pool rests for the story
stage, the forkserver and the resource tracker end too (``end_idle_helpers``).
Workers ignore SIGINT: Ctrl-C reaches the whole process group, and the parent
decides how to stop. Workers exit by themselves when the parent dies, even by
SIGKILL (``companion.start_worker``): otherwise they (and the forkserver, which
they keep alive) would wait for work forever, about 45 MB each, a set per
killed run. A worker that dies does not end the run: the pool starts new
workers (``RenewingPool``).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from feedsvc.companion import start_worker

log = logging.getLogger("feedsvc.workers")

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
    return RenewingPool(count)


class RenewingPool(Executor):
    """A process pool that starts afresh when one of its workers dies.

    A dead worker (killed, out of memory, a crash in a C extension) breaks a
    ``ProcessPoolExecutor`` for good: every task in flight fails with
    ``BrokenProcessPool`` and every later submit too. Here the next submit
    replaces the broken pool, so callers that retry their task once carry on;
    a task that kills its worker again fails alone.
    """

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None  # made at the first task
        self._closed = False
        self.renewals = 0

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(
            self._workers,
            mp_context=context,
            initializer=start_worker,
            initargs=(os.getpid(),),
        )

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)``, on a new pool if the current one is broken."""
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._pool is None:
                self._pool = self._new_pool()
            try:
                return self._pool.submit(fn, *args, **kwargs)
            except BrokenProcessPool:
                log.warning("a worker process died; starting new workers")
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                self.renewals += 1
                return self._pool.submit(fn, *args, **kwargs)

    def processes(self) -> list[int]:
        """The process ids of the current workers (those started so far)."""
        with self._lock:
            started = getattr(self._pool, "_processes", None) or {}
            return sorted(started)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the pool down; no task is taken after."""
        with self._lock:
            self._closed = True
            if self._pool is not None:
                self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)

    def rest(self) -> bool:
        """End the started workers (after their tasks); the next task starts new ones.

        For a long stretch of work in the parent alone (the story stage), so
        idle workers do not hold their memory through it; nor do the
        forkserver and the resource tracker (``end_idle_helpers``). Returns
        whether any worker had started.
        """
        with self._lock:
            if self._pool is None or not getattr(self._pool, "_processes", None):
                return False
            self._pool.shutdown(wait=True)
            self._pool = None
            end_idle_helpers()
            return True


def end_idle_helpers() -> None:
    """End multiprocessing's forkserver and resource tracker once none of its processes is left.

    Each is a process of its own (27 MB together) that would otherwise sit
    idle beside the story engine; the next pool starts them again. CPython
    has no public way to stop them: this calls their private ``_stop`` (which
    CPython's own tests use) where it exists, and otherwise does nothing. The
    forkserver goes first: it holds the tracker's pipe open, and the tracker
    ends only when every holder has closed it.
    """
    if multiprocessing.active_children():
        return  # another pool's workers still use both
    from multiprocessing import forkserver, resource_tracker

    for module, name in ((forkserver, "_forkserver"), (resource_tracker, "_resource_tracker")):
        stop = getattr(getattr(module, name, None), "_stop", None)
        if callable(stop):
            try:
                stop()
            except OSError as exc:  # already gone
                log.debug("helper process not stopped name=%s error=%r", name, exc)


def runs_processes(pool: Executor) -> bool:
    """Whether ``pool`` runs its tasks in worker processes (not threads of this one)."""
    return isinstance(pool, RenewingPool)


def rest_workers(pool: Executor) -> None:
    """End ``pool``'s started worker processes, if it has any; the next task starts new ones."""
    if isinstance(pool, RenewingPool):
        pool.rest()


def return_free_memory() -> None:
    """Collect garbage and hand the C heap's free pages back to the system (glibc only).

    Freed memory otherwise stays in the process's heap, and counts in its
    resident size while a memory-hungry stage runs beside it. The C library
    is the running program's own (``CDLL(None)``), not looked up by name:
    ``ctypes.util.find_library`` runs ``ldconfig`` in a child process, a fork
    of this one, which for a moment counted this process's memory twice, at
    the moment the story engine's process peaked beside it.
    """
    gc.collect()
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc: nothing to ask
        return
    trim(0)


def bounded_map(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """``map(fn, items)`` on ``pool``, in order, with at most ``window`` tasks in flight.

    ``items`` is consumed only as results are taken, so a generator of large
    items (feeds read from the database) never has more than ``window`` of
    them in memory. An exception in ``fn`` is raised when its result is taken;
    a task lost to a dying worker is run once more.
    """
    pending: deque[tuple[T, Future[R]]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= window:
                yield _result(pool, fn, *pending.popleft())
        while pending:
            yield _result(pool, fn, *pending.popleft())
    finally:
        for _, future in pending:
            future.cancel()


def _result(pool: Executor, fn: Callable[[T], R], item: T, future: Future[R]) -> R:
    try:
        return future.result()
    except BrokenProcessPool:
        return pool.submit(fn, item).result()
