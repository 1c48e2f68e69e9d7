"""The story engine's window, kept on disk between runs.

Rebuilding the engine for every cron run means replaying every article of the
window (three days of news) before the first new one can be placed; a pickled
engine is read back in a fraction of that. The snapshot is only a cache: it is
used when everything says it matches the store, and otherwise the engine is
rebuilt from the store as before.

* It carries a random token that the round stores with its last batch
  (``SNAPSHOT_KEY`` in the service state), and is written while that batch is
  saved; a snapshot whose token is not the stored one (a run killed before
  the commit or before the write, a restored database, another process that
  assigned stories) is ignored, so either may finish first.
* Its header names the engine parameters, the configured sources and a hash of
  the story engine's code and data files; any difference: ignored.
* Reading it fails safe: a missing, truncated or unreadable file is ignored.

The file holds a sequence of pickles: the header, so a stale snapshot is
recognised without unpickling an engine of another shape, then the engine in
parts (``StoryEngine.snapshot_parts``: all but the window's members, then the
members a slice at a time), then ``None``. A pickler remembers every object it
has written until its pickle ends: one pickle of a whole window took a fifth
of the window's memory more while it was written, parts take a few MB. It
lives in the data directory, which only feedsvc writes (as for the database,
whoever can write there can change what feedsvc does). Writing is atomic (a
temporary file renamed over the old one); no fsync, since a snapshot lost in a
crash only costs a rebuild. This module decides nothing about grouping.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from feedsvc.digests import blake2b
from feedsvc.tempfiles import remove_leftovers, temp_prefix

if TYPE_CHECKING:  # the engine loads only where a snapshot is read or written
    from feedsvc.stories import StoryEngine, StoryParams

log = logging.getLogger("feedsvc.story_snapshot")

SNAPSHOT_KEY = "story_snapshot"
SNAPSHOT_FILE = "stories.snapshot"
_FORMAT = 2


@cache
def engine_code() -> str:
    """A hash of the story engine's code and data files: another engine, another hash."""
    package = Path(__file__).parent / "stories"
    digest = blake2b(digest_size=32)
    for path in sorted(p for p in package.rglob("*") if p.suffix in {".py", ".json"}):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _header(params: StoryParams, sources: Iterable[str], token: str) -> dict[str, Any]:
    return {
        "format": _FORMAT,
        "code": engine_code(),
        "params": repr(params),
        "sources": sorted(sources),
        "token": token,
    }


def load_snapshot(
    path: Path, params: StoryParams, sources: Iterable[str], token: str | None
) -> StoryEngine | None:
    """The engine saved at ``path`` if it matches all of these, else None."""
    if token is None or not path.is_file():
        return None
    wanted = _header(params, sources, token)
    try:
        with path.open("rb") as handle:
            header = pickle.load(handle)
            if not isinstance(header, dict) or {k: header.get(k) for k in wanted} != wanted:
                log.info("story snapshot is stale; rebuilding the window path=%s", path)
                return None
            from feedsvc.stories import StoryEngine

            return StoryEngine.from_snapshot_parts(_parts(handle))
    except Exception as exc:  # a cache: anything unreadable means "rebuild"
        log.warning("story snapshot unreadable; rebuilding the window path=%s error=%r", path, exc)
        return None


def _parts(handle: BinaryIO) -> Iterator[object]:
    """The pickles that follow in ``handle``, up to the closing ``None``."""
    while (part := pickle.load(handle)) is not None:
        yield part


def remove_snapshot_leftovers(path: Path) -> None:
    """Remove temporary snapshot files of rounds that were killed while writing.

    Only the process that assigns stories (it holds the run lock or the
    publisher role) writes the snapshot, so every temporary snapshot file not
    its own is a leftover, whatever process id it names.
    """
    remove_leftovers(path.parent, sole_writer_of=path.name)


def save_snapshot(
    path: Path,
    engine: StoryEngine,
    params: StoryParams,
    sources: Iterable[str],
    token: str,
) -> None:
    """Write the engine to ``path`` (atomically); a failure is logged, never raised."""
    header = _header(params, sources, token)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # leftovers: removed as the round began
        fd, name = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                for part in chain([header], engine.snapshot_parts(), [None]):
                    pickle.dump(part, handle, protocol=pickle.HIGHEST_PROTOCOL)
            Path(name).replace(path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    except (OSError, pickle.PicklingError) as exc:
        log.warning("story snapshot not saved path=%s error=%r", path, exc)
