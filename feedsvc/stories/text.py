"""Text analysis for story grouping: tokens, light stems, names, numbers, shingles.

Pure functions over strings; no weights learned from data (that is ``idf.py``)
and no comparison of items (that is ``signals.py``). The analysis is
deliberately cheap: one regular-expression pass, a memo of what each distinct
word becomes, a suffix-stripping stemmer and a built-in stop list, so an item
costs microseconds, not a language model.

What counts as a *name*: a word written with a capital letter where English
would not capitalise it anyway, i.e. not the first word of a sentence or line
and not inside a headline written in Title Case, plus all-capital acronyms.
Numbers (``136``, ``7.1``, ``$40``) are kept apart from the words, as
``#``-prefixed features: they may add evidence but never dilute it.
"""

from __future__ import annotations

import re
import zlib
from array import array
from dataclasses import dataclass
from typing import TypeAlias

from feedsvc.digests import blake2b

# A word (letters or digits, with inner apostrophes, dots or commas), and the
# characters between it and the word before.
_TOKEN = re.compile(r"([\W_]*)([^\W_]+(?:['’.,][^\W_]+)*)")
_WORD = re.compile(r"[^\W_]+(?:['’.,][^\W_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?:;\"“”\n]")
_DIGIT = re.compile(r"\d")
_PUNCTUATION = "\"'“”‘’()[]{}<>,.;:!?-–—…*#@/\\|"

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

# One empty set shared by every item without names or numbers (most headlines).
_NONE: frozenset[str] = frozenset()

SKETCH_SIZE = 64
# Words of an article's text that are read, after its title (``StoryParams.lead_words``).
LEAD_WORDS = 100
# A sketch: sorted signed 64-bit hashes, kept compactly (8 bytes a value).
Sketch: TypeAlias = "array[int]"


@dataclass(frozen=True, slots=True)
class Analysed:
    """The features of one item before weighting.

    ``title_terms`` and ``body_terms`` hold word features in reading order
    (stop words and numbers left out); ``numbers`` and ``names`` are sets of
    features; ``shingles`` is a bottom-k sketch of word 3-grams.
    """

    title_terms: tuple[str, ...]
    body_terms: tuple[str, ...]
    names: frozenset[str]
    numbers: frozenset[str]
    shingles: Sketch
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


def is_title_case(chunks: list[str]) -> bool:
    """Tell whether a headline (split at white space) capitalises most of its longer words."""
    long_words = [w for w in (c.strip(_PUNCTUATION) for c in chunks) if len(w) > 3]
    long_words = [w for w in long_words if not _DIGIT.search(w)]
    if len(long_words) < 2:
        return True
    capitals = sum(1 for w in long_words if w[0].isupper())
    return capitals / len(long_words) >= 0.6


def name_stems(text: str, title_case: bool, memo: WordCache | None = None) -> set[str]:
    """Return the stems of the words that look like names in ``text`` (through ``memo``)."""
    names: set[str] = set()
    _read(text, memo or WordCache(), title_case, names, set(), [], 1 << 30)
    return names


def terms(text: str, limit: int | None = None) -> tuple[str, ...]:
    """Return the features of ``text`` in order (numbers included), at most ``limit`` words."""
    found = [normalise_word(w) for w, _ in words(text)[:limit]]
    return tuple(t for t in found if t is not None)


# What the memo keeps of a chunk (the text between two runs of white space):
# its word terms, numbers, word hashes, the term of its first word when that is
# capitalised (a name unless a sentence starts there), the terms of acronyms
# (always names), the terms of other capitalised words after no sentence break
# (names unless in a Title Case headline), whether a sentence break opens or
# closes it, and how many words it holds.
_Chunk = tuple[
    tuple[str, ...], tuple[str, ...], tuple[int, ...], str | None, tuple[str, ...],
    tuple[str, ...], bool, bool, int,
]  # fmt: skip


class WordCache:
    """A bounded memo of what each distinct chunk of text becomes (one per engine).

    A chunk is what lies between two runs of white space ("Shimaura,",
    "(Reuters)", "U.S.-China"). News repeats its chunks, so reading an item is
    mostly one look-up per chunk. Cleared when it holds ``limit`` chunks.
    """

    __slots__ = ("_limit", "memo")

    def __init__(self, limit: int = 100_000) -> None:
        self.memo: dict[str, _Chunk] = {}
        self._limit = limit

    def __getstate__(self) -> tuple[int]:
        return (self._limit,)  # a memo: rebuilt on demand, not worth pickling

    def __setstate__(self, state: tuple[int]) -> None:
        self._limit = state[0]
        self.memo = {}

    def clear(self) -> None:
        """Forget every chunk (the memo's memory goes back to the heap)."""
        self.memo = {}

    def feature(self, word: str) -> str | None:
        """Return ``normalise_word(word)``."""
        return normalise_word(word)

    def chunk(self, text: str) -> _Chunk:
        """Return the memo entry of a chunk, computing it the first time."""
        found = self.memo.get(text)
        if found is None:
            if len(self.memo) >= self._limit:
                self.memo.clear()
            found = self.memo[text] = _make_chunk(text)
        return found


def _make_chunk(text: str) -> _Chunk:
    """Split a chunk into its words, and say where sentence breaks fall around them."""
    terms: list[str] = []
    numbers: list[str] = []
    hashes: list[int] = []
    acronyms: list[str] = []
    capitals: list[str] = []
    first_cap: str | None = None
    opens = False
    tail = text
    found = _TOKEN.findall(text)
    for n, (sep, word) in enumerate(found):
        feature = normalise_word(word)
        hashes.append(zlib.crc32(word.lower().encode()))
        tail = tail[len(sep) + len(word) :]
        brk = _SENTENCE_BREAK.search(sep) is not None
        if n == 0:
            opens = brk
        if feature is None:
            continue
        if _DIGIT.search(word) is not None:
            numbers.append(feature)
            continue
        terms.append(feature)
        if len(word) >= 2 and word.isupper():
            acronyms.append(feature)
        elif word[0].isupper():
            if n == 0:
                first_cap = feature
            elif not brk:
                capitals.append(feature)
    closes = _SENTENCE_BREAK.search(tail if found else text) is not None
    return (
        tuple(terms), tuple(numbers), tuple(hashes), first_cap, tuple(acronyms),
        tuple(capitals), opens, closes, len(found),
    )  # fmt: skip


def sketch(hashes: list[int], keep: int = SKETCH_SIZE) -> Sketch:
    """Return a bottom-``keep`` sketch of the 3-grams of a sequence of word hashes.

    The sketch is the ``keep`` smallest values of the set of 3-gram hashes: a
    fixed-size sample from which ``sketch_jaccard`` estimates the overlap. A
    3-gram's hash is the hash of its tuple of word hashes: Python hashes
    tuples of integers the same in every process (no per-process seed, unlike
    strings), so sketches of a pickled engine still compare.
    """
    grams = set(map(hash, zip(hashes, hashes[1:], hashes[2:], strict=False)))
    return array("q", sorted(grams)[:keep])


def shingles(toks: list[str], size: int = 3, keep: int = SKETCH_SIZE) -> Sketch:
    """Return the sketch of the word 3-grams of ``toks`` (``size`` must be 3)."""
    if size != 3:
        raise ValueError("shingles are word 3-grams")
    return sketch([zlib.crc32(t.lower().encode()) for t in toks], keep)


def sketch_jaccard(a: Sketch, b: Sketch, keep: int = SKETCH_SIZE) -> float:
    """Estimate the Jaccard overlap of two shingle sets from their bottom-k sketches."""
    if not a or not b:
        return 0.0
    both = set(a).intersection(b)
    if not both:
        return 0.0
    union = sorted(set(a).union(b))[:keep]
    return sum(1 for h in union if h in both) / len(union)


def hash_text(text: str) -> int:
    """Return a stable 64-bit hash of a string (stable across processes)."""
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "big")


def analyse(title: str, text: str, lead_words: int, cache: WordCache | None = None) -> Analysed:
    """Analyse one item: its terms, names, numbers, shingle sketch and fingerprint.

    The title and the first ``lead_words`` words (white-space separated) of
    the text are read; the sketch and the fingerprint cover what was read.
    """
    memo = cache if cache is not None else WordCache()
    names: set[str] = set()
    numbers: set[str] = set()
    hashes: list[int] = []
    title_words = title.split()
    title_case = is_title_case(title_words)
    title_terms = _read(title, memo, title_case, names, numbers, hashes, 10_000)
    body_terms = _read(text, memo, False, names, numbers, hashes, lead_words)
    length = len(text.split())
    digest = blake2b(array("Q", hashes).tobytes(), digest_size=16).hexdigest()
    return Analysed(
        title_terms=title_terms,
        body_terms=body_terms,
        names=frozenset(names) if names else _NONE,
        numbers=frozenset(numbers) if numbers else _NONE,
        shingles=sketch(hashes),
        fingerprint=digest,
        length=length,
        words=len(title_words) + length,
    )


def _read(
    text: str,
    memo: WordCache,
    title_case: bool,
    names: set[str],
    numbers: set[str],
    hashes: list[int],
    limit: int,
) -> tuple[str, ...]:
    """Read the first ``limit`` chunks: collect names, numbers and word hashes.

    Returns the word terms in order (stop words and numbers left out). A
    capitalised word is a name unless it starts a sentence or a line, or the
    text is a Title Case headline; an acronym always is.
    """
    known, make = memo.memo.get, memo.chunk
    out: list[str] = []
    left = limit
    for line in text.splitlines():
        if left <= 0:
            break
        chunks = line.split()[:left]
        left -= len(chunks)
        start = True
        for chunk in chunks:
            terms, nums, words, first, acronyms, capitals, opens, closes, size = known(
                chunk
            ) or make(chunk)
            hashes += words
            if terms:
                out += terms
                if first is not None and not (title_case or start or opens):
                    names.add(first)
                if acronyms:
                    names.update(acronyms)
                if capitals and not title_case:
                    names.update(capitals)
            if nums:
                numbers.update(nums)
            start = closes if size else start or closes
    return tuple(out)
