"""BLAKE2b, without loading OpenSSL.

``hashlib`` loads OpenSSL (``_hashlib``, about 3.7 MB resident) as it is
imported, for every algorithm; ``hashlib.blake2b`` itself is CPython's own
``_blake2``. The story engine's process needs only that one, so it takes it
from ``_blake2`` where the interpreter has it, and from ``hashlib`` otherwise:
the same digests either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter built without its own BLAKE2
    from hashlib import blake2b

__all__ = ["blake2b", "code_digest"]


def code_digest(directory: Path, names: Iterable[str], tail: str) -> str:
    """A hash of the named source files of ``directory`` and of ``tail`` (what else they run on).

    A file that cannot be read (installed without sources) counts by its
    name and feedsvc's version: the release names the code.
    """
    from feedsvc import __version__

    digest = blake2b(digest_size=8)
    for name in names:
        try:
            digest.update((directory / name).read_bytes())
        except OSError:
            digest.update(f"feedsvc {__version__} {name}".encode())
    digest.update(tail.encode())
    return digest.hexdigest()
