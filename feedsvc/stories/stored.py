"""An article's text analysis, made once where the article is made and kept with it.

Text analysis (``text.analyse``) is the part of the engine's work that depends
on one article alone: about a third of a story round's time on full texts,
the rest depending on the window. Extraction workers run it as each article
is made (``features_of``, in parallel); the store keeps the encoding with the
article; the engine reads it back (``read_features``) instead of reading the
text again, in a round and in every replay of the window.

The encoding starts with a key naming the analysis code, the Python version
(a sketch holds Python's hashes of integer tuples) and the number of words
read. A stored analysis with another key, or one that does not decode, is
ignored and the engine analyses the text itself: stored features can make a
round faster but never change a decision.

The encoding is plain text, one field a line, terms separated by spaces:
terms never hold white space (they are read from text split at it).
"""

from __future__ import annotations

import base64
import sys
from array import array
from functools import cache
from pathlib import Path
from sys import intern

from feedsvc.digests import blake2b
from feedsvc.stories.text import LEAD_WORDS, SKETCH_SIZE, Analysed, WordCache, analyse

# Distinct chunks a worker remembers between articles (about 7 MB at most): news
# repeats its words, so most of an article is looked up, not read again.
WORKER_MEMO = 30_000

_FIELDS = 9  # the key, then the eight fields of ``Analysed``
_NONE: frozenset[str] = frozenset()


@cache
def analysis_code() -> str:
    """A hash of the analysis's code (this module and ``text.py``) and the Python version."""
    here = Path(__file__).parent
    digest = blake2b(digest_size=8)
    for name in ("text.py", "stored.py"):
        digest.update((here / name).read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()


@cache
def features_key(lead_words: int) -> str:
    """The first line of every encoding made by this code for ``lead_words`` words."""
    return f"a1:{analysis_code()}:{lead_words}"


@cache
def _worker_memo() -> WordCache:
    """The memo of chunks one process's analyses share (a cache: results never depend on it)."""
    return WordCache(WORKER_MEMO)


def features_of(title: str, text: str, lead_words: int = LEAD_WORDS) -> str:
    """Analyse an article's title and text, encoded for the store."""
    return encode_features(analyse(title, text, lead_words, _worker_memo()), lead_words)


def encode_features(analysed: Analysed, lead_words: int) -> str:
    """The stored form of an analysis made for ``lead_words`` words."""
    sketch = array("q", analysed.shingles)
    if sys.byteorder == "big":
        sketch.byteswap()  # stored little-endian, whichever machine wrote it
    return "\n".join(
        (
            features_key(lead_words),
            " ".join(analysed.title_terms),
            " ".join(analysed.body_terms),
            " ".join(sorted(analysed.names)),
            " ".join(sorted(analysed.numbers)),
            base64.b64encode(sketch.tobytes()).decode("ascii"),
            analysed.fingerprint,
            str(analysed.length),
            str(analysed.words),
        )
    )


def read_features(stored: str, lead_words: int) -> Analysed | None:
    """The analysis ``stored`` holds, if this code made it for ``lead_words`` words; else None."""
    parts = stored.split("\n")
    if len(parts) != _FIELDS or parts[0] != features_key(lead_words):
        return None
    _, title, body, names, numbers, sketch_text, fingerprint, length, words = parts
    try:
        sketch = array("q", base64.b64decode(sketch_text, validate=True))
        counts = int(length), int(words)
    except ValueError:  # binascii.Error is one
        return None
    if len(sketch) > SKETCH_SIZE:
        return None
    if sys.byteorder == "big":
        sketch.byteswap()
    # terms interned: the window keeps one copy of each word, not one per article
    return Analysed(
        title_terms=tuple(map(intern, title.split(" "))) if title else (),
        body_terms=tuple(map(intern, body.split(" "))) if body else (),
        names=frozenset(map(intern, names.split(" "))) if names else _NONE,
        numbers=frozenset(map(intern, numbers.split(" "))) if numbers else _NONE,
        shingles=sketch,
        fingerprint=fingerprint,
        length=counts[0],
        words=counts[1],
    )
