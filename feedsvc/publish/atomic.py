"""Atomic, change-only file writes for the output directory.

``staged_writes`` collects many file writes: each changed file goes to a
temporary file in its target's directory; when the block ends every temporary
file is fsynced (many at once, which costs about one disk flush instead of one
per file), renamed over its target with ``os.replace``, and the directories are
fsynced; if the block raises, the temporary files are removed and no target is
touched. A reader sees the old file or the new one, never a half-written one.
``write_if_changed`` is the same for one file. A file whose bytes are already
right is left alone. ``OSError`` becomes ``PublishError`` here, in
one place (``_translated``). Temporary files carry the writer's process id
(``feedsvc.tempfiles``), so a later publish removes those a killed one left.
This module knows nothing about feeds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from feedsvc.errors import PublishError
from feedsvc.tempfiles import temp_prefix

log = logging.getLogger("feedsvc.publish.atomic")

FILE_MODE = 0o644
FSYNC_THREADS = 16


@contextlib.contextmanager
def _translated(action: str, path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into ``PublishError``."""
    try:
        yield
    except OSError as exc:
        raise PublishError(f"cannot {action} {path}: {exc.strerror or exc}") from exc


def _has_bytes(path: Path, data: bytes) -> bool:
    if not path.is_file() or path.stat().st_size != len(data):
        return False
    return path.read_bytes() == data


def _fsync_directory(directory: Path | str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedWrites:
    """File writes that become visible together: staged first, then committed.

    ``stage`` writes the new bytes to a temporary file beside the target
    (nothing when the target already holds them); ``commit`` fsyncs every
    staged file (concurrently: one at a time costs a disk flush each), renames
    each over its target and fsyncs the directories; ``discard`` removes the
    temporary files. Use it through ``staged_writes``.
    """

    def __init__(self) -> None:
        # (temporary file, target) as strings: a publish of 40,000 files would
        # hold 80,000 Path objects (about 42 MB) until its commit
        self._staged: list[tuple[str, str]] = []
        self._directories: set[str] = set()  # made already: one mkdir each, not one a file

    def stage(self, path: Path, data: bytes) -> bool:
        """Stage ``data`` for ``path``; return False when ``path`` already holds it."""
        with _translated("write", path):
            if _has_bytes(path, data):
                return False
            directory = str(path.parent)
            if directory not in self._directories:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._directories.add(directory)
            fd, temp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=directory)
            self._staged.append((temp, str(path)))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(temp).chmod(FILE_MODE)  # a Path for the call, not kept
        return True

    def commit(self) -> list[str]:
        """Make every staged file durable and visible; return the targets written."""
        staged, self._staged = self._staged, []
        try:
            temps = [temp for temp, _ in staged]
            with ThreadPoolExecutor(FSYNC_THREADS) as pool:  # a share each, not a task per file
                list(
                    pool.map(_fsync_paths, [temps[n::FSYNC_THREADS] for n in range(FSYNC_THREADS)])
                )
            for position, (temp, path) in enumerate(staged):
                with _translated("write", path):
                    Path(temp).replace(path)
                staged[position] = (path, path)
            for directory in sorted({str(Path(path).parent) for _, path in staged}):
                with _translated("sync", directory):
                    _fsync_directory(directory)
        except BaseException:
            self._staged = [(temp, path) for temp, path in staged if temp != path]
            self.discard()
            raise
        return [path for _, path in staged]

    def discard(self) -> None:
        """Remove every staged temporary file; the targets stay as they were."""
        staged, self._staged = self._staged, []
        for temp, _ in staged:
            Path(temp).unlink(missing_ok=True)


def _fsync_paths(paths: list[str]) -> None:
    for path in paths:
        _fsync_path(path)


def _fsync_path(path: str) -> None:
    with _translated("write", path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def staged_writes() -> Iterator[StagedWrites]:
    """A ``StagedWrites`` committed when the block ends, discarded if it raises."""
    batch = StagedWrites()
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise
    batch.commit()


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically make ``path`` hold ``data``; return False when it already did."""
    with staged_writes() as batch:
        changed = batch.stage(path, data)
    if changed:
        log.debug("wrote path=%s bytes=%d", path, len(data))
    return changed


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
