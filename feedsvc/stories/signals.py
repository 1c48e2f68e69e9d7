"""Weighted feature vectors of items and the signals that compare them.

Pure functions: an item's analysed text plus the current idf table become a
sparse, L2-normalised vector; two items (or an item and a story centroid) are
compared by cosine, shingle overlap, shared names (spelling variants included)
and numbers, time gap and outlet. No state and no decisions here: the engine
(``engine.py``) decides, with the model of ``scoring.py``.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import pairwise
from operator import attrgetter, itemgetter
from typing import Any

from feedsvc.stories.idf import DocFreq
from feedsvc.stories.model import StoryParams
from feedsvc.stories.text import Analysed, Sketch, sketch_jaccard

Vector = dict[str, float]

# Spelling variants: names of at least this many letters whose letter bigrams
# overlap with a Dice coefficient of at least VARIANT_DICE (Josei / Chosei).
VARIANT_MIN_LETTERS = 5
VARIANT_DICE = 0.6
# Phrases (pairs of neighbouring terms) are read from the title and the first
# this many terms of the body.
PHRASE_BODY_TERMS = 20


class Packed(Mapping[str, float]):
    """A stored item's vector, packed: its terms (heaviest first) and their weights.

    What every member of the window holds instead of a dict of float objects:
    about a quarter of the memory, and a tuple of strings and an array of
    doubles to pickle. The weights are the same doubles, so comparisons give
    the same results to the last bit. Looking a term up scans the terms:
    fine for the few shared terms of a comparison, not for building vectors.
    """

    __slots__ = ("terms", "weights")

    def __init__(self, terms: tuple[str, ...], weights: array[float]) -> None:
        if len(terms) != len(weights):
            raise ValueError(f"{len(terms)} terms but {len(weights)} weights")
        self.terms = terms
        self.weights = weights

    @classmethod
    def of(cls, vector: Mapping[str, float]) -> Packed:
        """Pack a vector, keeping its order."""
        return cls(tuple(vector), array("d", vector.values()))

    def __reduce__(self) -> tuple[type[Packed], tuple[tuple[str, ...], array[float]]]:
        return (Packed, (self.terms, self.weights))

    def __getitem__(self, term: str) -> float:
        try:
            return self.weights[self.terms.index(term)]
        except ValueError:
            raise KeyError(term) from None

    def __contains__(self, term: object) -> bool:
        return term in self.terms

    def __iter__(self) -> Iterator[str]:
        return iter(self.terms)

    def __len__(self) -> int:
        return len(self.terms)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Packed):
            return self.terms == other.terms and self.weights == other.weights
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # like a dict: equal by value, unhashable

    def pairs(self) -> Iterator[tuple[str, float]]:
        """The (term, weight) pairs, heaviest first (``items()``, without the view)."""
        return zip(self.terms, self.weights, strict=True)

    def unpacked(self) -> dict[str, float]:
        """The vector as a dict, in the same order."""
        return dict(zip(self.terms, self.weights, strict=True))


@dataclass(frozen=True, slots=True)
class Profile:
    """An analysed item ready to compare: its vector and its cheap signatures.

    The vector is a dict while the item is decided, and ``Packed`` once it is
    a member of the window (``packed``).
    """

    item_id: str
    outlet: str
    published: datetime
    vector: Mapping[str, float]
    names: frozenset[str]
    numbers: frozenset[str]
    shingles: Sketch
    length: int
    spelled: tuple[tuple[str, frozenset[str]], ...] = ()
    terms: int = 0  # single-word terms of the vector (not phrases): how much text it has

    def packed(self) -> Profile:
        """The same profile with its vector packed, as the window keeps it."""
        if isinstance(self.vector, Packed):
            return self
        values = list(_PROFILE_FIELDS(self))  # as ``replace`` would, without its generic work
        values[_VECTOR_FIELD] = Packed.of(self.vector)
        return Profile(*values)

    def __reduce__(self) -> tuple[type[Profile], tuple[Any, ...]]:
        # the fields as arguments: cheaper both ways than a slotted dataclass's state
        return Profile, _PROFILE_FIELDS(self)


_PROFILE_FIELDS = attrgetter(*(f.name for f in fields(Profile)))
_VECTOR_FIELD = [f.name for f in fields(Profile)].index("vector")


def spelled_names(names: frozenset[str], vector: Mapping[str, float]) -> tuple[
    tuple[str, frozenset[str]], ...
]:  # fmt: skip
    """Return the names of a vector that may have spelling variants, with their letter bigrams.

    Names of at least ``VARIANT_MIN_LETTERS`` letters (no digits) that are
    terms of the vector, sorted: the only terms ``variants`` compares.
    """
    return tuple(
        (n, frozenset(_bigrams(n)))
        for n in sorted(names)
        if len(n) >= VARIANT_MIN_LETTERS and n in vector and n.isalpha()
    )


def variants(a: Profile, b: Profile) -> tuple[float, int]:
    """Return (dot product gained, pairs found) from names spelled differently (Josei / Chosei).

    A name of one item that the other lacks is matched with at most one name
    of the other that it lacks too, when their lengths differ by at most two
    letters and their letter bigrams overlap with a Dice coefficient of at
    least ``VARIANT_DICE``; the pair then counts as one shared term (the
    product of their weights). Only names are compared, never ordinary words.
    """
    if not a.spelled or not b.spelled:
        return 0.0, 0
    va, vb = a.vector, b.vector
    theirs = [(y, by) for y, by in b.spelled if y not in va]
    if not theirs:
        return 0.0, 0
    total = 0.0
    used: set[str] = set()
    for x, bx in a.spelled:
        if x in vb:
            continue
        size = len(bx)
        for y, by in theirs:
            if (
                y not in used
                and abs(len(x) - len(y)) <= 2
                and 2 * len(bx & by) >= VARIANT_DICE * (size + len(by))
            ):
                total += va[x] * vb[y]
                used.add(y)
                break
    return total, len(used)


def build_vector(analysed: Analysed, idf: DocFreq, params: StoryParams) -> Vector:
    """Weight the terms of one item (title above body, names up) and normalise.

    Words weigh ``log(1 + count) x idf`` (names ``name_boost`` times more);
    each pair of neighbouring terms is a phrase weighing ``phrase_weight`` x
    the mean idf of its words. Two names side by side make the same phrase in
    either order ("Takaichi Sanae" / "Sanae Takaichi"). Numbers are not in the
    vector (see ``Profile.numbers``). The vector keeps the ``max_terms``
    heaviest terms, heaviest first.
    """
    title_w = params.title_weight
    raw: dict[str, float] = dict(Counter(analysed.body_terms))
    get = raw.get
    for term in analysed.title_terms:
        raw[term] = get(term, 0.0) + title_w
    weights = idf.idf_map(raw)
    names = analysed.names
    boost = params.name_boost
    log1p = math.log1p
    vec: Vector = {
        t: log1p(c) * weights[t] * (boost if t in names else 1.0) for t, c in raw.items()
    }
    limit = params.max_terms
    ordered = sorted(vec.items(), key=itemgetter(1), reverse=True)
    if params.phrase_weight > 0:
        # A phrase weighs at most phrase_weight x log(1 + the largest count) x
        # the mean idf of its words; one that cannot outweigh the limit-th
        # heaviest word would never be kept, and is not even built.
        half = params.phrase_weight / 2.0
        floor = 0.0
        if len(ordered) >= limit:
            floor = ordered[limit - 1][1] / (half * log1p(max(raw.values())))
        phrases: dict[str, float] = {}
        pairs: dict[str, tuple[str, str]] = {}
        _count_phrases(phrases, pairs, analysed.title_terms, title_w, names, weights, floor)
        body = analysed.body_terms[:PHRASE_BODY_TERMS]
        _count_phrases(phrases, pairs, body, 1.0, names, weights, floor)
        if phrases:
            for key, count in phrases.items():
                first, second = pairs[key]
                vec[key] = log1p(count) * half * (weights[first] + weights[second])
            ordered = sorted(vec.items(), key=itemgetter(1), reverse=True)
    vec = dict(ordered[:limit])
    return normalise(vec)


def _count_phrases(
    phrases: dict[str, float],
    pairs: dict[str, tuple[str, str]],
    terms: tuple[str, ...],
    weight: float,
    names: frozenset[str],
    idf: Mapping[str, float],
    floor: float,
) -> None:
    """Count each pair of neighbouring terms as a phrase; a run of names in any order.

    A run of neighbouring names is read in alphabetical order, so "Takaichi
    Sanae" and "Sanae Takaichi" make the same phrases. Pairs whose idfs add
    up to less than ``floor`` are skipped.
    """
    if names and len(terms) > 1:
        terms = _names_sorted(terms, names)
    get = phrases.get
    for first, second in pairwise(terms):
        if first == second or (floor and idf[first] + idf[second] < floor):
            continue
        key = f"{first}_{second}"
        count = get(key)
        if count is None:
            pairs[key] = (first, second)
            phrases[key] = weight
        else:
            phrases[key] = count + weight


def _names_sorted(terms: tuple[str, ...], names: frozenset[str]) -> tuple[str, ...]:
    """Return the terms with each run of neighbouring names in alphabetical order."""
    out: list[str] = []
    run: list[str] = []
    for term in terms:
        if term in names:
            run.append(term)
            continue
        if run:
            out += sorted(run) if len(run) > 1 else run
            run = []
        out.append(term)
    if run:
        out += sorted(run) if len(run) > 1 else run
    return tuple(out)


def counted_terms(vector: Mapping[str, float]) -> list[str]:
    """Return the terms of a vector that the idf table counts (words, not phrases)."""
    return [t for t in vector if "_" not in t]


def normalise(vec: Mapping[str, float]) -> Vector:
    """Return ``vec`` scaled to unit length (empty stays empty)."""
    norm = math.hypot(*vec.values())
    if norm <= 0:
        return {}
    scale = 1.0 / norm
    return {t: w * scale for t, w in vec.items()}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Return the dot product of two unit vectors (summed in a fixed order)."""
    return sum([a[t] * b[t] for t in sorted(a.keys() & b.keys())])


def similarity(a: Profile, b: Profile) -> float:
    """Return the cosine of two items, names spelled differently counting as one term."""
    return cosine(a.vector, b.vector) + variants(a, b)[0]


def cosine_words(a: Mapping[str, float], b: Mapping[str, float]) -> tuple[float, int]:
    """Return the cosine of two unit vectors and the number of word terms they share.

    The shared terms are found by a set intersection and summed in sorted
    order, so the result does not depend on the process's string hashing (nor
    on whether ``b`` is packed: its weights are read by position then).
    """
    if isinstance(b, Packed) and isinstance(a, dict):
        terms, weights = b.terms, b.weights
        found = a.keys() & terms
        if not found:  # most pairs of the window share one term or none: no list, no sort
            return 0.0, 0
        if len(found) == 1:
            (term,) = found  # 0.0 + as sum() starts: the same float, -0.0 included
            return 0.0 + a[term] * weights[terms.index(term)], int("_" not in term)
        shared = sorted(found)
        at = terms.index
        total = sum([a[t] * weights[at(t)] for t in shared])
    else:
        shared = sorted(a.keys() & b.keys())
        total = sum([a[t] * b[t] for t in shared])
    return total, sum([1 for t in shared if "_" not in t])


def shared_words(a: Mapping[str, float], b: Mapping[str, float]) -> int:
    """Count the word terms (not phrases) two vectors share."""
    if len(a) > len(b):
        a, b = b, a
    return sum(1 for t in a if t in b and "_" not in t)


def shared_names(a: frozenset[str], b: frozenset[str]) -> tuple[int, int]:
    """Return (names both share, further pairs that are spelling variants of each other)."""
    exact = len(a & b)
    return exact, len(name_variants(a, b))


def name_variants(
    a: frozenset[str], b: frozenset[str], table: Mapping[str, frozenset[str]] | None = None
) -> list[tuple[str, str]]:
    """Pair names found on one side only that are spelling variants (Josei / Chosei).

    Only names (capitalised words) are compared, never ordinary words: two
    names of five or more letters, whose lengths differ by at most two, are
    variants when their letter bigrams overlap with a Dice coefficient of at
    least 0.6. Each name is paired at most once. ``table`` maps names to
    their variants (``spelling_variant``) when that was worked out before.
    """
    only_a = variant_names(a - b)
    if not only_a:
        return []
    only_b = variant_names(b - a)
    found: list[tuple[str, str]] = []
    used: set[str] = set()
    for x in only_a:
        known = table.get(x) if table is not None else None
        for y in only_b:
            if y not in used and _variant(x, y, known):
                found.append((x, y))
                used.add(y)
                break
    return found


def _variant(x: str, y: str, known: frozenset[str] | None) -> bool:
    """Whether ``y`` is a spelling variant of ``x``: from ``known`` when given, else worked out."""
    return y in known if known is not None else spelling_variant(x, y)


def variant_names(names: Iterable[str]) -> list[str]:
    """The names that may have spelling variants (letters only, long enough), sorted."""
    return sorted(n for n in names if len(n) >= VARIANT_MIN_LETTERS and n.isalpha())


def spelling_variant(x: str, y: str) -> bool:
    """Whether two names are spelling variants: close lengths, overlapping letter bigrams."""
    return abs(len(x) - len(y)) <= 2 and _dice(x, y) >= VARIANT_DICE


def variants_among(names: Iterable[str]) -> dict[str, frozenset[str]]:
    """Each of ``names`` that may have spelling variants, with its variants among them.

    The same pairs as ``spelling_variant`` on every two of them, with each
    name's bigrams made once and only names within two letters in length compared.
    """
    candidates = variant_names(names)
    grams = {x: _bigrams(x) for x in candidates}
    by_length: dict[int, list[str]] = {}
    for x in candidates:
        by_length.setdefault(len(x), []).append(x)
    found: dict[str, frozenset[str]] = {}
    for x in candidates:
        bx, size = grams[x], len(x)
        found[x] = frozenset(
            y
            for length in range(size - 2, size + 3)
            for y in by_length.get(length, ())
            if y != x and _dice_of(bx, grams[y]) >= VARIANT_DICE
        )
    return found


def _bigrams(word: str) -> set[str]:
    return {word[i : i + 2] for i in range(len(word) - 1)}


def _dice(x: str, y: str) -> float:
    """Return the Dice overlap of the letter bigrams of two words."""
    return _dice_of(_bigrams(x), _bigrams(y))


def _dice_of(bx: set[str], by: set[str]) -> float:
    """Return the Dice overlap of two sets of letter bigrams."""
    return 2 * len(bx & by) / (len(bx) + len(by))


def is_date_only(when: datetime) -> bool:
    """Tell whether a timestamp looks like a bare date (exactly midnight UTC)."""
    return when.hour == 0 and when.minute == 0 and when.second == 0 and when.microsecond == 0


def pair_signals(a: Profile, b: Profile) -> dict[str, float]:
    """Return the raw signals comparing two items (shown by ``explain``)."""
    exact, variants = shared_names(a.names, b.names)
    return {
        "cosine": round(cosine(a.vector, b.vector), 4),
        "shingle_jaccard": round(sketch_jaccard(a.shingles, b.shingles), 4),
        "shared_names": float(exact + variants),
        "name_variants": float(variants),
        "shared_numbers": float(len(a.numbers & b.numbers)),
        "shared_words": float(shared_words(a.vector, b.vector)),
        "gap_hours": round(abs((a.published - b.published).total_seconds()) / 3600, 2),
        "same_outlet": 1.0 if a.outlet == b.outlet else 0.0,
    }
