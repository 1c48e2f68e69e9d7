"""Inverse document frequency learned incrementally, with a decay that bounds memory.

Every item added counts once for each distinct term it holds; older items
count less and less (an exponential decay with a half-life measured in items),
so the weights follow the news of the moment and terms nobody has used for a
while are pruned. Memory stays proportional to the vocabulary of the last few
half-lives, not to the archive. Pure, in-memory; persistence is not done here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class DocFreq:
    """A decayed document-frequency table that answers ``idf(term)``."""

    __slots__ = ("_counts", "_half_life", "_increment", "_prior", "_since_prune", "_total")

    def __init__(self, half_life_items: int, prior_docs: float) -> None:
        self._counts: dict[str, float] = {}
        self._half_life = max(1, half_life_items)
        self._increment = 1.0
        self._prior = prior_docs
        self._since_prune = 0
        self._total = 0.0

    def idf(self, term: str) -> float:
        """Return the smoothed idf of ``term`` given what has been seen so far."""
        docs = self._total / self._increment + self._prior
        seen = self._counts.get(term, 0.0) / self._increment
        return math.log((docs + 1.0) / (seen + 0.5))

    def idf_map(self, terms: Iterable[str]) -> dict[str, float]:
        """Return ``idf(term)`` for many terms at once (the same values, faster)."""
        inv = 1.0 / self._increment
        top = math.log(self._total * inv + self._prior + 1.0)
        get = self._counts.get
        log = math.log
        return {t: top - log(get(t, 0.0) * inv + 0.5) for t in terms}

    def add(self, terms: Iterable[str]) -> None:
        """Count one item holding ``terms`` (duplicates count once)."""
        self._increment *= 2.0 ** (1.0 / self._half_life)
        inc = self._increment
        counts = self._counts
        for term in set(terms):
            counts[term] = counts.get(term, 0.0) + inc
        self._total += inc
        self._since_prune += 1
        if self._since_prune >= self._half_life:
            self._prune()

    def __len__(self) -> int:
        return len(self._counts)

    def _prune(self) -> None:
        """Rescale to keep floats small and drop terms now worth under a fifth of a doc."""
        scale = 1.0 / self._increment
        self._counts = {t: c * scale for t, c in self._counts.items() if c * scale >= 0.2}
        self._total *= scale
        self._increment = 1.0
        self._since_prune = 0
