"""The one writer of a cycle: saves what many tasks hand it, several at a time.

Every source's outcome (its articles and fetch record) is written by one thread,
so SQLite sees one writer. Tasks ``await writer.save(item)``; the thread takes
what is waiting, or arrives within ``linger`` seconds of the first (up to
``max_group`` items) and saves it with one call to
``save_group`` (one transaction), which costs one commit instead of one per
source; a lone item goes to ``save_one``. If a group fails, its items are
saved one by one with ``save_one``, so one bad batch fails only its own source.
It decides nothing about what to save.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger("feedsvc.writer")

T = TypeVar("T")
R = TypeVar("R")

_Entry = tuple[T, "asyncio.Future[R]", asyncio.AbstractEventLoop]


class GroupWriter(Generic[T, R]):
    """A writer thread that saves items in groups; use it as an async context manager."""

    def __init__(
        self,
        save_group: Callable[[Sequence[T]], Sequence[R]],
        save_one: Callable[[T], R],
        *,
        max_group: int = 64,
        linger: float = 0.02,
    ) -> None:
        self._save_group = save_group
        self._save_one = save_one
        self._max_group = max_group
        self._linger = linger
        self._queue: queue.SimpleQueue[_Entry[T, R] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="feedsvc-writer", daemon=True)

    async def __aenter__(self) -> GroupWriter[T, R]:
        self._thread.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)

    async def save(self, item: T) -> R:
        """Hand ``item`` to the writer and wait until it is saved (or failed)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put((item, future, loop))
        return await future

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            until = time.monotonic() + self._linger
            while len(group) < self._max_group:
                try:
                    entry = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if entry is None:
                    stop = True
                    break
                group.append(entry)
            self._write(group)
            if stop:
                return

    def _write(self, group: list[_Entry[T, R]]) -> None:
        items = [item for item, _, _ in group]
        results: list[R | BaseException]
        if len(items) == 1:
            results = [self._one(items[0])]
        else:
            try:
                results = list(self._save_group(items))
            except Exception as exc:
                log.warning("group write failed, one by one now items=%d error=%r", len(items), exc)
                results = [self._one(item) for item in items]
        for (_, future, loop), result in zip(group, results, strict=True):
            loop.call_soon_threadsafe(_settle, future, result)

    def _one(self, item: T) -> R | BaseException:
        try:
            return self._save_one(item)
        except Exception as exc:
            return exc


def _settle(future: asyncio.Future[R], result: R | BaseException) -> None:
    """Give ``future`` its result (unless its task was cancelled meanwhile)."""
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
