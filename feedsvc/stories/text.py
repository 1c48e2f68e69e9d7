"""Text analysis for story grouping: tokens, light stems, names, numbers, shingles.

Pure functions over strings; no weights learned from data (that is ``idf.py``)
and no comparison of items (that is ``signals.py``). The analysis is
deliberately cheap: one regular-expression pass, a suffix-stripping stemmer and
a built-in stop list, so an item costs microseconds, not a language model.

What counts as a *name*: a word written with a capital letter where English
would not capitalise it anyway, i.e. not the first word of a sentence and not
inside a headline written in Title Case, plus all-capital acronyms. Numbers
(``136``, ``7.1``, ``$40``) become ``#``-prefixed features of their own.
"""

from __future__ import annotations

import hashlib
import heapq
import re
import zlib
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:['’.,][^\W_]+)*")
_SENTENCE_END = re.compile(r"[.!?:;\"“”]\s*$")
_DIGIT = re.compile(r"\d")

_STOP_TEXT = """a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if
    in into is it its itself just me more most my myself no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their theirs
    them then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    says said say saying according told tells new news report reports reported update
    updated via amid after over one two first last year years week day days today
    yesterday tuesday monday wednesday thursday friday saturday sunday may might must
    get gets got make makes made take takes took us mr mrs ms dr just like back still
    watch video photos photo read more here now live latest breaking exclusive"""
STOPWORDS = frozenset(_STOP_TEXT.split())


@dataclass(frozen=True, slots=True)
class Analysed:
    """The features of one item before weighting."""

    title_terms: tuple[str, ...]
    body_terms: tuple[str, ...]
    names: frozenset[str]
    shingles: tuple[int, ...]
    fingerprint: str
    length: int
    words: int


def stem(word: str) -> str:
    """Strip common English inflections from a lower-case word (a light stemmer)."""
    if len(word) <= 3 or _DIGIT.search(word):
        return word
    for suffix, repl, min_len in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= min_len:
            return word[: len(word) - len(suffix)] + repl
    return word


_SUFFIXES = (
    ("ies", "y", 2),
    ("sses", "ss", 2),
    ("ness", "", 4),
    ("ings", "", 4),
    ("ing", "", 4),
    ("edly", "", 4),
    ("ed", "", 4),
    ("ly", "", 4),
    ("'s", "", 2),
    ("’s", "", 2),
    ("es", "e", 4),
    ("s", "", 3),
)


def words(text: str) -> list[tuple[str, int]]:
    """Return the words of ``text`` with their start offsets."""
    return [(m.group(0), m.start()) for m in _WORD.finditer(text)]


def normalise_word(word: str) -> str | None:
    """Map a word to its feature: a stem, a ``#number``, or None for a stop word."""
    if _DIGIT.search(word):
        digits = word.replace(",", "").rstrip(".")
        return "#" + digits.lower()
    low = word.lower().replace("’", "'")
    if low.endswith("'s"):
        low = low[:-2]
    low = low.replace("'", "").replace(".", "")
    if len(low) < 2 or low in STOPWORDS:
        return None
    return stem(low)


def is_title_case(found: list[tuple[str, int]]) -> bool:
    """Tell whether a headline (as words) capitalises most of its longer words."""
    long_words = [w for w, _ in found if len(w) > 3 and not _DIGIT.search(w)]
    if len(long_words) < 2:
        return True
    capitals = sum(1 for w in long_words if w[0].isupper())
    return capitals / len(long_words) >= 0.6


def name_stems(text: str, title_case: bool, found: list[tuple[str, int]] | None = None) -> set[str]:
    """Return the stems of words that look like names in ``text`` (``found``: its words)."""
    names: set[str] = set()
    for word, start in words(text) if found is None else found:
        if not word[0].isupper() or _DIGIT.search(word):
            continue
        acronym = len(word) >= 2 and word.isupper()
        sentence_start = start == 0 or bool(_SENTENCE_END.search(text[max(0, start - 3) : start]))
        if acronym or not (title_case or sentence_start):
            feature = normalise_word(word)
            if feature is not None:
                names.add(feature)
    return names


def terms(text: str, limit: int | None = None) -> tuple[str, ...]:
    """Return the features of ``text`` in order, at most ``limit`` words read."""
    return _terms(words(text)[:limit])


def _terms(found: list[tuple[str, int]], cache: WordCache | None = None) -> tuple[str, ...]:
    """Return the features of already split words."""
    norm = normalise_word if cache is None else cache.feature
    out = (norm(w) for w, _ in found)
    return tuple(t for t in out if t is not None)


class WordCache:
    """A bounded memo of ``normalise_word`` (one per engine; cleared when full)."""

    __slots__ = ("_limit", "_memo")

    def __init__(self, limit: int = 200_000) -> None:
        self._memo: dict[str, str | None] = {}
        self._limit = limit

    def feature(self, word: str) -> str | None:
        """Return ``normalise_word(word)``, remembered."""
        try:
            return self._memo[word]
        except KeyError:
            if len(self._memo) >= self._limit:
                self._memo.clear()
            feature = self._memo[word] = normalise_word(word)
            return feature


def shingles(toks: list[str], size: int = 3, keep: int = 64) -> tuple[int, ...]:
    """Return a bottom-``keep`` sketch of the hashed ``size``-grams of lower-case words.

    The sketch is the ``keep`` smallest CRC-32 values of the set of shingles:
    a fixed-size sample from which ``sketch_jaccard`` estimates the overlap.
    """
    grams = {" ".join(toks[i : i + size]) for i in range(max(0, len(toks) - size + 1))}
    return tuple(heapq.nsmallest(keep, {zlib.crc32(g.encode()) for g in grams}))


def sketch_jaccard(a: tuple[int, ...], b: tuple[int, ...], keep: int = 64) -> float:
    """Estimate the Jaccard overlap of two shingle sets from their bottom-k sketches."""
    if not a or not b:
        return 0.0
    union = heapq.nsmallest(keep, set(a) | set(b))
    both = set(a) & set(b)
    return sum(1 for h in union if h in both) / len(union)


def hash_text(text: str) -> int:
    """Return a stable 64-bit hash of a string (stable across processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def fingerprint(toks: list[str]) -> str:
    """Return a hash of the lower-case words of an item (an exact-copy key)."""
    return hashlib.blake2b(" ".join(toks).encode(), digest_size=16).hexdigest()


def analyse(title: str, text: str, lead_words: int, cache: WordCache | None = None) -> Analysed:
    """Analyse one item: weighted-term inputs, names, shingles and fingerprint."""
    title_words, body_words = words(title), words(text)
    lead = body_words[:lead_words]
    lead_text = text if len(body_words) <= lead_words else text[: body_words[lead_words][1]]
    names = name_stems(title, is_title_case(title_words), title_words)
    names |= name_stems(lead_text, False, lead)
    toks = [w.lower() for w, _ in title_words + body_words]
    return Analysed(
        title_terms=_terms(title_words, cache),
        body_terms=_terms(lead, cache),
        names=frozenset(names),
        shingles=shingles(toks),
        fingerprint=fingerprint(toks),
        length=len(body_words),
        words=len(toks),
    )
