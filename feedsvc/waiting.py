"""Waiting on an event in the main thread without delaying its signal handlers.

The kernel hands a process's signal to any thread that does not block it. When
that is not the main thread (the scheduler's, a server's, a pool's), Python only
marks the signal pending, and its handler runs when the main thread next runs
Python code. A main thread asleep in ``Event.wait`` would run it only once the
event is set or the wait times out, so it waits in short slices instead.
"""

from __future__ import annotations

import threading
import time

SLICE_SECONDS = 0.5  # the longest a pending signal waits for its handler


def wait_for(event: threading.Event, seconds: float | None = None) -> bool:
    """``event.wait(seconds)`` that wakes every ``SLICE_SECONDS`` to let signal handlers run."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        left = SLICE_SECONDS
        if deadline is not None:
            left = min(left, deadline - time.monotonic())
        if left <= 0:
            return event.is_set()
        if event.wait(left):
            return True
