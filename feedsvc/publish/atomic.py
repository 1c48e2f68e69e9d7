"""Atomic, change-only file writes for the output directory.

``write_if_changed`` leaves a file alone when its bytes are already right, and
otherwise writes a temporary file in the same directory, flushes and fsyncs it,
renames it over the target with ``os.replace`` and fsyncs the directory, so a
reader sees the old file or the new one, never a half-written one. On any error
the temporary file is removed. ``OSError`` becomes ``PublishError`` here, in
one place (``_translated``). This module knows nothing about feeds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from feedsvc.errors import PublishError

log = logging.getLogger("feedsvc.publish.atomic")

FILE_MODE = 0o644


@contextlib.contextmanager
def _translated(action: str, path: Path) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into ``PublishError``."""
    try:
        yield
    except OSError as exc:
        raise PublishError(f"cannot {action} {path}: {exc.strerror or exc}") from exc


def _has_bytes(path: Path, data: bytes) -> bool:
    if not path.is_file() or path.stat().st_size != len(data):
        return False
    return path.read_bytes() == data


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(FILE_MODE)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically make ``path`` hold ``data``; return False when it already did."""
    with _translated("write", path):
        if _has_bytes(path, data):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace(path, data)
    log.debug("wrote path=%s bytes=%d", path, len(data))
    return True


def remove_file(path: Path) -> None:
    """Remove the file ``path`` (gone already is fine)."""
    with _translated("remove", path):
        path.unlink(missing_ok=True)
    log.debug("removed path=%s", path)


def files_under(directory: Path, suffixes: frozenset[str]) -> list[Path]:
    """Regular files below ``directory`` whose suffix is in ``suffixes``, sorted."""
    with _translated("list", directory):
        if not directory.is_dir():
            return []
        found = [p for p in directory.rglob("*") if p.suffix in suffixes and p.is_file()]
    return sorted(found)
