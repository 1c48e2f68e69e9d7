"""A run lock so that two ``feedsvc run`` invocations never overlap.

Uses an advisory ``flock`` on a file in the data directory: the kernel drops it
when the process dies, so a killed run never leaves a stale lock behind. A data
directory where the lock file cannot be made (a file in its place, no
permission) is a ``StoreError``, like a database that cannot be opened. This
module only locks; it does not decide what runs.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from feedsvc.errors import LockedError, StoreError


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the duration, or raise LockedError at once."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot use the run lock {path}: {_reason(exc)}") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockedError(f"another feedsvc run holds {path}") from exc
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileExistsError):  # mkdir met a file where a directory should be
        return f"{exc.filename} is not a directory"
    return exc.strerror or str(exc)
