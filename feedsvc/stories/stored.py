"""An article's text analysis, made once where the article is made and kept with it.

Text analysis (``text.analyse``) is the part of the engine's work that depends
on one article alone: about a third of a story round's time on full texts,
the rest depending on the window. Extraction workers run it as each article
is made (``features_of``, in parallel); the store keeps the encoding with the
article; the engine reads it back (``read_features``) instead of reading the
text again, in a round and in every replay of the window.

The encoding starts with a key naming the analysis code, the Python version
(a sketch holds Python's hashes of integer tuples), the number of words read
and a digest of the title and text analysed. A stored analysis with another
key (other code, other words, another text), or one that does not decode, is
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

from feedsvc.digests import blake2b, code_digest
from feedsvc.stories.text import LEAD_WORDS, SKETCH_SIZE, Analysed, WordCache, analyse

# Distinct chunks a worker remembers between articles (about 7 MB at most): news
# repeats its words, so most of an article is looked up, not read again.
WORKER_MEMO = 30_000

_FIELDS = 9  # the key, then the eight fields of ``Analysed``
_FINGERPRINT = 32  # hex digits of ``Analysed.fingerprint``
_NONE: frozenset[str] = frozenset()


@cache
def analysis_code() -> str:
    """A hash of the analysis's code (this module and ``text.py``) and of the Python it runs on."""
    python = sys.version_info
    tail = f"{python.major}.{python.minor} {sys.hash_info.width}"
    return code_digest(Path(__file__).parent, ("text.py", "stored.py"), tail)


@cache
def _code_key(lead_words: int) -> str:
    return f"a2:{analysis_code()}:{lead_words}:"


def features_key(title: str, text: str, lead_words: int = LEAD_WORDS) -> str:
    """The first line of the encoding of this title and text analysed for ``lead_words`` words."""
    analysed = blake2b(f"{title}\0{text}".encode(errors="surrogatepass"), digest_size=8)
    return _code_key(lead_words) + analysed.hexdigest()


@cache
def _worker_memo() -> WordCache:
    """The memo of chunks one process's analyses share (a cache: results never depend on it)."""
    return WordCache(WORKER_MEMO)


def forget_memo() -> None:
    """Empty this process's memo of chunks (its memory goes back to the heap)."""
    _worker_memo().clear()


def features_of(title: str, text: str, lead_words: int = LEAD_WORDS, key: str | None = None) -> str:
    """Analyse an article's title and text, encoded for the store (``key``: if known)."""
    analysed = analyse(title, text, lead_words, _worker_memo())
    return encode_features(analysed, key or features_key(title, text, lead_words))


def encode_features(analysed: Analysed, key: str) -> str:
    """The stored form of an analysis, under its ``features_key``."""
    sketch = array("q", analysed.shingles)
    if sys.byteorder == "big":
        sketch.byteswap()  # stored little-endian, whichever machine wrote it
    return "\n".join(
        (
            key,
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


def read_features(stored: str | None, title: str, text: str, lead_words: int) -> Analysed | None:
    """The analysis ``stored`` holds if this code made it of this text for these words, or None."""
    if not stored:
        return None
    parts = stored.split("\n")
    if len(parts) != _FIELDS or parts[0] != features_key(title, text, lead_words):
        return None
    _, titled, body, names, numbers, sketch_text, fingerprint, length, words = parts
    try:
        sketch = array("q", base64.b64decode(sketch_text, validate=True))
        counts = int(length), int(words)
        int(fingerprint, 16)
    except ValueError:  # binascii.Error is one
        return None
    if len(sketch) > SKETCH_SIZE or len(fingerprint) != _FINGERPRINT:
        return None
    if sys.byteorder == "big":
        sketch.byteswap()
    # terms interned: the window keeps one copy of each word, not one per article
    return Analysed(
        title_terms=tuple(map(intern, titled.split(" "))) if titled else (),
        body_terms=tuple(map(intern, body.split(" "))) if body else (),
        names=frozenset(map(intern, names.split(" "))) if names else _NONE,
        numbers=frozenset(map(intern, numbers.split(" "))) if numbers else _NONE,
        shingles=sketch,
        fingerprint=fingerprint,
        length=counts[0],
        words=counts[1],
    )
