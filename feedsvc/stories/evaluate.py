"""Scores of a story grouping against gold labels: pairwise and B-cubed P/R/F1.

Same definitions as the project's evaluation script: items missing from the
prediction count as singletons; pairwise counts unordered pairs placed
together; B-cubed averages, over items, the share of an item's predicted
(resp. gold) story that is right. Pure functions over mappings; no I/O.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from math import comb


@dataclass(frozen=True, slots=True)
class Scores:
    """Pairwise and B-cubed precision, recall and F1 of one grouping."""

    items: int
    gold_stories: int
    pred_stories: int
    pair_p: float
    pair_r: float
    pair_f1: float
    b3_p: float
    b3_r: float
    b3_f1: float


def _f1(p: float, r: float) -> float:
    """Return the harmonic mean of precision and recall."""
    return 2 * p * r / (p + r) if p + r else 0.0


def score(gold: Mapping[str, str], pred: Mapping[str, str]) -> Scores:
    """Score ``pred`` (item → story) against ``gold`` over the items of ``gold``."""
    ids = list(gold)
    if not ids:
        return Scores(0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    guess = {i: pred.get(i, "__single__" + i) for i in ids}
    g_sizes = Counter(gold[i] for i in ids)
    p_sizes = Counter(guess[i] for i in ids)
    joint = Counter((gold[i], guess[i]) for i in ids)
    tp = sum(comb(n, 2) for n in joint.values())
    gp = sum(comb(n, 2) for n in g_sizes.values())
    pp = sum(comb(n, 2) for n in p_sizes.values())
    pair_p = tp / pp if pp else 1.0
    pair_r = tp / gp if gp else 1.0
    b3_p = sum(joint[(gold[i], guess[i])] / p_sizes[guess[i]] for i in ids) / len(ids)
    b3_r = sum(joint[(gold[i], guess[i])] / g_sizes[gold[i]] for i in ids) / len(ids)
    return Scores(
        len(ids), len(g_sizes), len(p_sizes),
        pair_p, pair_r, _f1(pair_p, pair_r), b3_p, b3_r, _f1(b3_p, b3_r),
    )  # fmt: skip


def score_by_prefix(gold: Mapping[str, str], pred: Mapping[str, str]) -> dict[str, Scores]:
    """Score overall (``all``) and per id prefix (the part before the first '-')."""
    parts: dict[str, dict[str, str]] = {}
    for item, story in gold.items():
        parts.setdefault(item.split("-", 1)[0], {})[item] = story
    result = {"all": score(gold, pred)}
    result.update({k: score(parts[k], pred) for k in sorted(parts)})
    return result


def score_items(gold: Mapping[str, str], pred: Mapping[str, str], ids: Iterable[str]) -> Scores:
    """Score the items ``ids`` of a grouping of all of ``gold``, whole stories counting.

    Each item of ``ids`` is judged by its whole predicted and gold story, so an
    item wrongly grouped with items outside ``ids`` loses precision (this is
    how one fold is scored inside a clustering of a whole file). Pairwise
    figures count the ordered pairs that start at an item of ``ids``; over all
    items they equal ``score``'s.
    """
    chosen = list(ids)
    if not chosen:
        return Scores(0, 0, 0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    guess = {i: pred.get(i, "__single__" + i) for i in gold}
    g_sizes = Counter(gold.values())
    p_sizes = Counter(guess.values())
    joint = Counter((gold[i], guess[i]) for i in gold)
    both = [joint[(gold[i], guess[i])] for i in chosen]
    tp = sum(n - 1 for n in both)
    pp = sum(p_sizes[guess[i]] - 1 for i in chosen)
    gp = sum(g_sizes[gold[i]] - 1 for i in chosen)
    pair_p = tp / pp if pp else 1.0
    pair_r = tp / gp if gp else 1.0
    b3_p = sum(n / p_sizes[guess[i]] for n, i in zip(both, chosen, strict=True)) / len(chosen)
    b3_r = sum(n / g_sizes[gold[i]] for n, i in zip(both, chosen, strict=True)) / len(chosen)
    return Scores(
        len(chosen), len({gold[i] for i in chosen}), len({guess[i] for i in chosen}),
        pair_p, pair_r, _f1(pair_p, pair_r), b3_p, b3_r, _f1(b3_p, b3_r),
    )  # fmt: skip
