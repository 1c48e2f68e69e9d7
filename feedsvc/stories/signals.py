"""Weighted feature vectors of items and the signals that compare them.

Pure functions: an item's analysed text plus the current idf table become a
sparse, L2-normalised vector; two items (or an item and a story centroid) are
compared by cosine, shingle overlap, shared names and numbers, time gap and
outlet. No state and no decisions here: the engine (``engine.py``) decides.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from feedsvc.stories.idf import DocFreq
from feedsvc.stories.model import StoryParams
from feedsvc.stories.text import Analysed, sketch_jaccard

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Profile:
    """An analysed item ready to compare: its vector and its cheap signatures."""

    item_id: str
    outlet: str
    published: datetime
    vector: Vector
    names: frozenset[str]
    shingles: tuple[int, ...]
    length: int


def build_vector(analysed: Analysed, idf: DocFreq, params: StoryParams) -> Vector:
    """Weight the terms of one item (title above body, names up) and normalise."""
    raw: dict[str, float] = defaultdict(float)
    for term in analysed.title_terms:
        raw[term] += params.title_weight
    for term in analysed.body_terms:
        raw[term] += 1.0
    if params.phrase_weight > 0:
        _add_phrases(raw, analysed.title_terms, params.title_weight)
        _add_phrases(raw, analysed.body_terms, 1.0)
    weights = idf.idf_map(t for t in raw if "_" not in t)
    names = analysed.names
    vec: Vector = {}
    for term, count in raw.items():
        if "_" in term:
            first, second = term.split("_", 1)
            kind = params.phrase_weight * (weights[first] + weights[second]) / 2.0
        elif term[0] == "#":
            kind = params.number_weight * weights[term]
        else:
            kind = (params.name_boost if term in names else 1.0) * weights[term]
        vec[term] = math.log1p(count) * kind
    if len(vec) > params.max_terms:
        vec = dict(heapq.nlargest(params.max_terms, vec.items(), key=lambda kv: (kv[1], kv[0])))
    return normalise(vec)


def counted_terms(vector: Mapping[str, float]) -> list[str]:
    """Return the terms of a vector that the idf table counts (words and numbers, not phrases)."""
    return [t for t in vector if "_" not in t]


def _add_phrases(raw: dict[str, float], terms: tuple[str, ...], weight: float) -> None:
    """Count each pair of neighbouring terms as a phrase feature."""
    for first, second in pairwise(terms):
        raw[f"{first}_{second}"] += weight


def normalise(vec: Mapping[str, float]) -> Vector:
    """Return ``vec`` scaled to unit length (empty stays empty)."""
    norm = math.sqrt(sum(w * w for w in vec.values()))
    return {t: w / norm for t, w in vec.items()} if norm > 0 else {}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Return the dot product of two unit vectors."""
    return sum(a[t] * b[t] for t in a.keys() & b.keys())


def shared_words(a: Mapping[str, float], b: Mapping[str, float]) -> int:
    """Count the word terms (not numbers, not phrases) two vectors share."""
    if len(a) > len(b):
        a, b = b, a
    return sum(1 for t in a if t in b and not t.startswith("#") and "_" not in t)


def is_date_only(when: datetime) -> bool:
    """Tell whether a timestamp looks like a bare date (exactly midnight UTC)."""
    return when.hour == 0 and when.minute == 0 and when.second == 0 and when.microsecond == 0


def time_gap(a: datetime, b: datetime, date_grace: timedelta) -> timedelta:
    """Return the gap between two times, less ``date_grace`` when either is a bare date."""
    gap = abs(a - b)
    if is_date_only(a) or is_date_only(b):
        gap = max(timedelta(0), gap - date_grace)
    return gap


def time_decay(gap: timedelta, half_life: timedelta) -> float:
    """Return the factor by which a time gap discounts similarity."""
    seconds = abs(gap.total_seconds())
    return math.exp(-math.log(2.0) * seconds / max(1.0, half_life.total_seconds()))


def pair_signals(a: Profile, b: Profile, params: StoryParams) -> dict[str, float]:
    """Return every signal comparing two items (used by ``explain``)."""
    shared = set(a.vector) & set(b.vector)
    return {
        "cosine": round(cosine(a.vector, b.vector), 4),
        "shingle_jaccard": round(sketch_jaccard(a.shingles, b.shingles), 4),
        "shared_names": float(len(a.names & b.names)),
        "shared_numbers": float(sum(1 for t in shared if t.startswith("#"))),
        "shared_terms": float(len(shared)),
        "gap_hours": round(abs((a.published - b.published).total_seconds()) / 3600, 2),
        "time_decay": round(time_decay(_gap(a, b, params), params.time_half_life), 4),
        "same_outlet": 1.0 if a.outlet == b.outlet else 0.0,
        "name_variants": float(len(name_variants(a.names, b.names))),
    }


def name_variants(a: frozenset[str], b: frozenset[str]) -> list[tuple[str, str]]:
    """Pair names found on one side only that are spelling variants (Josei / Chosei).

    Two names of five or more letters are variants when their letter bigrams
    overlap with a Dice coefficient of at least 0.6.
    """
    only_a = sorted(n for n in a - b if len(n) >= 5 and n.isalpha())
    only_b = sorted(n for n in b - a if len(n) >= 5 and n.isalpha())
    return [(x, y) for x in only_a for y in only_b if _dice(x, y) >= 0.6]


def _dice(x: str, y: str) -> float:
    """Return the Dice overlap of the letter bigrams of two words."""
    bx = {x[i : i + 2] for i in range(len(x) - 1)}
    by = {y[i : i + 2] for i in range(len(y) - 1)}
    return 2 * len(bx & by) / (len(bx) + len(by))


def _gap(a: Profile, b: Profile, params: StoryParams) -> timedelta:
    """Return the effective publication gap of two items."""
    return time_gap(a.published, b.published, params.date_only_grace)
