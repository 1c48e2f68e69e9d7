"""Temporary files for atomic writes, named after the process that writes them.

An atomic write puts the new bytes in a temporary file beside its target and
renames it over the target. A process killed in between (kill -9, power cut)
leaves the temporary file behind. Naming it ``.<target>.<pid>.<random>.tmp``
lets a later run tell leftovers from files being written right now:
``remove_leftovers`` removes those whose writer is no longer alive (and those
without a process id, from older versions), never another live process's.
Hidden names keep them out of what ``serve`` answers.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger("feedsvc.tempfiles")

_TEMPORARY = re.compile(r"\.(?P<target>.+?)(?:\.(?P<pid>[0-9]+))?\.[A-Za-z0-9_]+\.tmp")


def temp_prefix(target: Path) -> str:
    """The ``tempfile.mkstemp`` prefix for a temporary file that will replace ``target``."""
    return f".{target.name}.{os.getpid()}."


def remove_leftovers(directory: Path, *, sole_writer_of: str | None = None) -> list[Path]:
    """Remove temporary files in ``directory`` left by processes that died; return them.

    A caller that holds the only right to write the target named
    ``sole_writer_of`` (a lock) also removes that target's temporary files
    whatever process id they name: a process id reused since is no writer.
    Best effort: a directory or file that cannot be listed or removed is logged, never raised.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        log.warning("cannot look for leftovers in %s: %s", directory, exc.strerror or exc)
        return []
    removed = []
    for entry in entries:
        match = _TEMPORARY.fullmatch(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        pid = match.group("pid")
        sole = sole_writer_of is not None and match.group("target") == sole_writer_of
        if pid is not None and not sole and process_alive(int(pid)):
            continue
        path = Path(entry.path)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("cannot remove leftover %s: %s", path, exc.strerror or exc)
            continue
        removed.append(path)
    if removed:
        log.warning("removed %d temporary files left by killed runs in %s", len(removed), directory)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (this one included; one of another user's counts)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
