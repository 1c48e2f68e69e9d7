"""What differs between the reports of one story: figures, spellings, facts only one outlet has.

Pure decision code: the reports of a story in (one ``Report`` per outlet, in
story order), ``Differences`` out; no I/O, no clock. It reads the reports with
the story engine's own analysis (``compare_text``: its words and features, the
words it takes for names, its spelling-variant signal), so a difference shown
is one the engine itself can see:

- **differing figures**: a number one outlet gives and another never mentions,
  paired with a number of the same kind (a count, a year, a day of a month)
  that only the other gives, when the sentences they stand in share at least
  ``MIN_SHARED_CONTEXT`` words (136 "forcibly mobilized Koreans" killed in the
  disaster / 183 people "from the Korean Peninsula" killed in it);
- **one name spelled differently**: names the engine pairs as spelling variants
  (Josei / Chosei), each used by one outlet and never written by the other,
  and neither contained in the other (Japan / Japanese, Republic / public);
- **only one outlet mentions**: names (shown as the capitalised phrase they
  stand in, "Ube City") and numbers that no other outlet writes at all, in
  any form the engine treats as the same word.

Each is shown with the outlet that said it and the words around it. It judges
nothing: which figure is right is not its business. Numbers are words that
start with a digit (``136``, ``60th``, ``2026.1.13``); a word such as ``G7`` is
neither a name nor a number here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

from feedsvc.compare_reading import Occurrence, Reading, read_report
from feedsvc.compare_records import Difference, Differences, Mention, Report, Unshared
from feedsvc.compare_text import Memo, spelling_variants, split_words, variant_table

__all__ = ["Difference", "Differences", "Mention", "Report", "Unshared", "find_differences"]

# Words two sentences must share for their differing numbers to count as one figure.
MIN_SHARED_CONTEXT = 2
# Years are not paired: two years in like sentences are mostly two different events.
_UNPAIRED_KINDS = frozenset({"year"})


class _Groups:
    """Union-find over (outlet, feature) nodes, remembering the mention of each node."""

    def __init__(self) -> None:
        self._parent: dict[tuple[int, str], tuple[int, str]] = {}
        self.mentions: dict[tuple[int, str], Occurrence] = {}

    def find(self, node: tuple[int, str]) -> tuple[int, str]:
        """The representative node of ``node``'s group."""
        root = self._parent.setdefault(node, node)
        if root != node:
            root = self._parent[node] = self.find(root)
        return root

    def join(self, a: tuple[int, str], b: tuple[int, str]) -> None:
        """Put ``a`` and ``b`` in one group."""
        self._parent[self.find(a)] = self.find(b)

    def outlets(self, node: tuple[int, str]) -> set[int]:
        """The outlets with a node in ``node``'s group (only its own when it has none)."""
        if node not in self._parent:
            return {node[0]}
        root = self.find(node)
        return {n[0] for n in list(self._parent) if self.find(n) == root}

    def pair(self, a: tuple[int, str], oa: Occurrence, b: tuple[int, str], ob: Occurrence) -> None:
        """Join ``a`` and ``b`` unless that puts two values of one outlet in one group.

        (Pairs are found outlet by outlet; without this check, chains of pairs
        would make one "figure" of many numbers of a long story.)
        """
        together = a in self._parent and b in self._parent and self.find(a) == self.find(b)
        if together or self.outlets(a) & self.outlets(b):
            return
        self.mentions.setdefault(a, oa)
        self.mentions.setdefault(b, ob)
        self.join(a, b)

    def groups(self) -> list[list[tuple[int, str]]]:
        """Every group's nodes, in (outlet, first mention) order; groups by their first node."""
        grouped: dict[tuple[int, str], list[tuple[int, str]]] = {}
        for node in self._parent:
            grouped.setdefault(self.find(node), []).append(node)
        ordered = [sorted(nodes, key=self._position) for nodes in grouped.values()]
        return sorted(ordered, key=lambda nodes: self._position(nodes[0]))

    def _position(self, node: tuple[int, str]) -> tuple[int, int]:
        return node[0], self.mentions[node].order


def _pair_figures(readings: Sequence[Reading]) -> _Groups:
    """Differing numbers, paired outlet by outlet, best-matching context first."""
    groups = _Groups()
    for (i, a), (j, b) in combinations(enumerate(readings), 2):
        candidates = []
        for fa, occs_a in a.numbers.items():
            if fa in b.features:
                continue
            for fb, occs_b in b.numbers.items():
                if fb in a.features:
                    continue
                best = _best_context(occs_a, occs_b)
                if best is not None:
                    score, oa, ob = best
                    candidates.append((-score, oa.order, ob.order, oa, ob))
        used_a: set[str] = set()
        used_b: set[str] = set()
        for _, _, _, oa, ob in sorted(candidates, key=lambda c: c[:3]):
            if oa.feature in used_a or ob.feature in used_b:
                continue
            used_a.add(oa.feature)
            used_b.add(ob.feature)
            groups.pair((i, oa.feature), oa, (j, ob.feature), ob)
    return groups


def _best_context(
    occs_a: Iterable[Occurrence], occs_b: Iterable[Occurrence]
) -> tuple[int, Occurrence, Occurrence] | None:
    """The pair of occurrences (same kind) whose sentences share the most words, if enough."""
    best: tuple[int, Occurrence, Occurrence] | None = None
    for oa in occs_a:
        for ob in occs_b:
            if oa.kind != ob.kind or oa.kind in _UNPAIRED_KINDS:
                continue
            score = len(oa.sentence & ob.sentence)
            if score >= MIN_SHARED_CONTEXT and (best is None or score > best[0]):
                best = (score, oa, ob)
    return best


def _pair_spellings(readings: Sequence[Reading]) -> _Groups:
    """Names the engine calls spelling variants, each written by one outlet only."""
    groups = _Groups()
    table = variant_table(set().union(*(r.names for r in readings)))
    names = [frozenset(r.names) for r in readings]
    able = [names[k] & table.keys() for k in range(len(readings))]  # names that may vary
    for (i, a), (j, b) in combinations(enumerate(readings), 2):
        if not (able[i] - names[j]) or not (able[j] - names[i]):
            continue  # one side has no name of its own that could be a variant
        for x, y in spelling_variants(names[i], names[j], table):
            if x in b.features or y in a.features or x in y or y in x:
                continue
            groups.mentions.setdefault((i, x), a.name_mentions[x])
            groups.mentions.setdefault((j, y), b.name_mentions[y])
            groups.join((i, x), (j, y))
    _add_other_users(groups, readings)
    return groups


def _add_other_users(groups: _Groups, readings: Sequence[Reading]) -> None:
    """Add every other outlet that writes one of a spelling group's names to that group."""
    for node in list(groups.mentions):
        for k, reading in enumerate(readings):
            other = (k, node[1])
            if other not in groups.mentions and node[1] in reading.name_mentions:
                groups.mentions[other] = reading.name_mentions[node[1]]
                groups.join(other, node)


def _differences(groups: _Groups, readings: Sequence[Reading]) -> tuple[Difference, ...]:
    found = []
    for nodes in groups.groups():
        said = [(readings[node[0]].outlet, groups.mentions[node]) for node in nodes]
        mentions = tuple(Mention(outlet, o.value, o.context) for outlet, o in said)
        if len({m.value.casefold() for m in mentions}) > 1:
            found.append(Difference(mentions))
    return tuple(found)


def _unshared(
    readings: Sequence[Reading], figures: _Groups, spellings: _Groups
) -> tuple[Unshared, ...]:
    """Per outlet, the names and numbers no other outlet writes (figures and spellings aside)."""
    found = []
    for k, reading in enumerate(readings):
        elsewhere = set().union(*(r.features for n, r in enumerate(readings) if n != k))
        in_spellings = {f for n, f in spellings.mentions if n == k}
        numbers = _distinct(
            Mention(reading.outlet, occs[0].value, occs[0].context)
            for feat, occs in reading.numbers.items()
            if feat not in elsewhere and (k, feat) not in figures.mentions
        )
        lonely = reading.names - elsewhere - in_spellings
        names = _distinct(
            Mention(reading.outlet, phrase, context)
            for phrase, held, context in reading.phrases
            if held & lonely
        )
        if names or numbers:
            found.append(Unshared(reading.outlet, names, numbers))
    return tuple(found)


def _distinct(mentions: Iterable[Mention]) -> tuple[Mention, ...]:
    """``mentions`` without repeats: a value within another one shown is left out.

    ("4-7" goes when "January 4-7" is there; the longer one takes the place of
    the shorter one it holds.)
    """
    kept: list[Mention] = []
    for mention in mentions:
        if any(_within(mention.value, k.value) for k in kept):
            continue
        held = [n for n, k in enumerate(kept) if _within(k.value, mention.value)]
        if held:
            kept[held[0]] = mention
            kept = [k for n, k in enumerate(kept) if n not in held[1:]]
        else:
            kept.append(mention)
    return tuple(kept)


def _within(part: str, whole: str) -> bool:
    """Whether the words of ``part`` appear, in a row, among the words of ``whole``."""
    inner = [w.casefold() for w, _ in split_words(part)]
    outer = [w.casefold() for w, _ in split_words(whole)]
    size = len(inner)
    return size > 0 and any(outer[i : i + size] == inner for i in range(len(outer) - size + 1))


def find_differences(reports: Sequence[Report]) -> Differences:
    """What differs between the reports of one story (one ``Report`` per outlet, story order)."""
    outlets = _by_outlet(reports)
    if len(outlets) < 2:  # one outlet: nothing to compare, so nothing to read
        return Differences()
    memo = Memo()
    readings = [read_report(report, memo) for report in outlets]
    figures = _pair_figures(readings)
    spellings = _pair_spellings(readings)
    return Differences(
        figures=_differences(figures, readings),
        spellings=_differences(spellings, readings),
        unshared=_unshared(readings, figures, spellings),
    )


def _by_outlet(reports: Sequence[Report]) -> list[Report]:
    """Join the reports of each outlet into one, outlets in the order they first appear."""
    joined: dict[str, list[Report]] = {}
    for report in reports:
        joined.setdefault(report.outlet, []).append(report)
    return [
        Report(
            outlet,
            "\n".join(r.title for r in group),
            "\n\n".join(r.text for r in group),
        )
        for outlet, group in joined.items()
    ]
