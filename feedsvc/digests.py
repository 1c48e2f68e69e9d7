"""BLAKE2b, without loading OpenSSL.

``hashlib`` loads OpenSSL (``_hashlib``, about 3.7 MB resident) as it is
imported, for every algorithm; ``hashlib.blake2b`` itself is CPython's own
``_blake2``. The story engine's process needs only that one, so it takes it
from ``_blake2`` where the interpreter has it, and from ``hashlib`` otherwise:
the same digests either way.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b
except ImportError:  # an interpreter built without its own BLAKE2
    from hashlib import blake2b

__all__ = ["blake2b"]
