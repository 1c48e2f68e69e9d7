"""The cycle's writer: one thread, several items per transaction, failures kept to their item."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from feedsvc.writer import GroupWriter


class Recorder:
    """A fake database that records its transactions and can be made to fail."""

    def __init__(self, bad: int | None = None) -> None:
        self.groups: list[list[int]] = []
        self.threads: set[str] = set()
        self.bad = bad
        self.gate = threading.Event()

    def save_group(self, items: Sequence[int]) -> list[int]:
        self.gate.wait(5)
        self.threads.add(threading.current_thread().name)
        if self.bad in items:
            raise RuntimeError(f"cannot save {self.bad}")
        self.groups.append(list(items))
        return [n * 10 for n in items]

    def save_one(self, item: int) -> int:
        return self.save_group([item])[0]


async def save_all(recorder: Recorder, items: range) -> list[int | BaseException]:
    async with GroupWriter(recorder.save_group, recorder.save_one, max_group=4) as writer:
        tasks = [asyncio.create_task(writer.save(n)) for n in items]
        await asyncio.sleep(0.05)  # let every task queue its item while the first group waits
        recorder.gate.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))


def test_waiting_items_are_saved_together_in_one_thread() -> None:
    recorder = Recorder()
    assert asyncio.run(save_all(recorder, range(10))) == [n * 10 for n in range(10)]
    assert recorder.threads == {"feedsvc-writer"}
    assert sorted(n for group in recorder.groups for n in group) == list(range(10))
    assert len(recorder.groups) < 10 and max(len(g) for g in recorder.groups) <= 4


def test_a_failing_item_fails_alone() -> None:
    recorder = Recorder(bad=6)
    results = asyncio.run(save_all(recorder, range(10)))
    assert isinstance(results[6], RuntimeError)
    assert [r for n, r in enumerate(results) if n != 6] == [n * 10 for n in range(10) if n != 6]


def test_a_cancelled_caller_does_not_break_the_writer() -> None:
    recorder = Recorder()

    async def scenario() -> list[int]:
        async with GroupWriter(recorder.save_group, recorder.save_one) as writer:
            doomed = asyncio.create_task(writer.save(1))
            await asyncio.sleep(0.01)
            doomed.cancel()
            recorder.gate.set()
            with pytest.raises(asyncio.CancelledError):
                await doomed
            return [await writer.save(2)]

    assert asyncio.run(scenario()) == [20]
    assert any(1 in group for group in recorder.groups)  # the write handed over still happened
