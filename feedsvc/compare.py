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

from collections import Counter
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


Node = tuple[int, str]
"""An (outlet, feature) node: the index of an outlet's reading and one of its features."""


class _Groups:
    """Union-find over (outlet, feature) nodes, remembering the mention of each node."""

    def __init__(self) -> None:
        self._parent: dict[Node, Node] = {}
        self._outlets: dict[Node, set[int]] = {}  # per representative, the outlets of its group
        self.mentions: dict[Node, Occurrence] = {}

    def find(self, node: Node) -> Node:
        """The representative node of ``node``'s group."""
        root = self._parent.setdefault(node, node)
        if root != node:
            root = self._parent[node] = self.find(root)
        return root

    def join(self, a: Node, b: Node) -> None:
        """Put ``a`` and ``b`` in one group."""
        root_b = self.find(b)
        root_a = self.find(a)
        if root_a == root_b:
            return
        self._parent[root_a] = root_b
        joined = self._outlets.pop(root_a, None) or {root_a[0]}
        self._outlets.setdefault(root_b, {root_b[0]}).update(joined)

    def outlets(self, node: Node) -> set[int]:
        """The outlets with a node in ``node``'s group (only its own when it has none)."""
        if node not in self._parent:
            return {node[0]}
        root = self.find(node)
        return self._outlets.get(root) or {root[0]}

    def pair(self, a: Node, oa: Occurrence, b: Node, ob: Occurrence) -> None:
        """Join ``a`` and ``b`` unless that puts two values of one outlet in one group.

        (Pairs are found outlet by outlet; without this check, chains of pairs
        would make one "figure" of many numbers of a long story.)
        """
        if not self.outlets(a).isdisjoint(self.outlets(b)):
            return  # also when ``a`` and ``b`` are in one group already
        self.mentions.setdefault(a, oa)
        self.mentions.setdefault(b, ob)
        self.join(a, b)

    def groups(self) -> list[list[Node]]:
        """Every group's nodes, in (outlet, first mention) order; groups by their first node."""
        grouped: dict[Node, list[Node]] = {}
        for node in self._parent:
            grouped.setdefault(self.find(node), []).append(node)
        ordered = [sorted(nodes, key=self._position) for nodes in grouped.values()]
        return sorted(ordered, key=lambda nodes: self._position(nodes[0]))

    def _position(self, node: Node) -> tuple[int, int]:
        return node[0], self.mentions[node].order


def _pairable(reading: Reading) -> list[tuple[str, list[Occurrence]]]:
    """A reading's numbers with the occurrences that may pair (years never do), in text order."""
    found = []
    for feature, occurrences in reading.numbers.items():
        kept = [o for o in occurrences if o.kind not in _UNPAIRED_KINDS]
        if kept:
            found.append((feature, kept))
    return found


def _pair_figures(readings: Sequence[Reading]) -> _Groups:
    """Differing numbers, paired outlet by outlet, best-matching context first."""
    groups = _Groups()
    pairable = [_pairable(reading) for reading in readings]
    # Pairs in (i, j) order, of readings with a number that could pair.
    for i, j in combinations([k for k, found in enumerate(pairable) if found], 2):
        a, b = readings[i], readings[j]
        only_b = [(fb, occs_b) for fb, occs_b in pairable[j] if fb not in a.features]
        if not only_b:
            continue
        candidates = []
        for fa, occs_a in pairable[i]:
            if fa in b.features:
                continue
            for _, occs_b in only_b:
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
    """The pair of occurrences (same kind) whose sentences share the most words, if enough.

    Of pairs sharing as many words, the first (in text order) is taken.
    """
    best: tuple[int, Occurrence, Occurrence] | None = None
    top = MIN_SHARED_CONTEXT - 1
    for oa in occs_a:
        for ob in occs_b:
            if oa.kind != ob.kind or oa.kind in _UNPAIRED_KINDS:
                continue
            score = len(oa.sentence & ob.sentence)
            if score > top:
                best, top = (score, oa, ob), score
    return best


def _pair_spellings(readings: Sequence[Reading]) -> _Groups:
    """Names the engine calls spelling variants, each written by one outlet only."""
    groups = _Groups()
    table = variant_table(set().union(*(r.names for r in readings)))
    names = [frozenset(r.names) for r in readings]
    # The names that may vary: the engine pairs only these, so they alone are compared.
    able = [names[k] & table.keys() for k in range(len(readings))]
    # Of those, the names with a variant, and the names that are another's variant: a
    # pair of outlets has a variant to show only if one writes a name of the first kind
    # the other does not write, and the other a name of the second kind the first does not.
    varied = frozenset(x for x, variants in table.items() if variants)
    variants = frozenset().union(*table.values())
    having = [able[k] & varied for k in range(len(readings))]
    being = [able[k] & variants for k in range(len(readings))]
    for i, j in combinations(range(len(readings)), 2):
        if not having[i] or having[i] <= names[j] or not being[j] or being[j] <= names[i]:
            continue
        a, b = readings[i], readings[j]
        for x, y in spelling_variants(able[i], able[j], table):
            if x in b.features or y in a.features or x in y or y in x:
                continue
            groups.mentions.setdefault((i, x), a.name_mentions[x])
            groups.mentions.setdefault((j, y), b.name_mentions[y])
            groups.join((i, x), (j, y))
    _add_other_users(groups, readings)
    return groups


def _add_other_users(groups: _Groups, readings: Sequence[Reading]) -> None:
    """Add every other outlet that writes one of a spelling group's names to that group."""
    if not groups.mentions:
        return
    users: dict[str, list[int]] = {}  # per name in a group, the outlets that write it
    for _, name in groups.mentions:
        users.setdefault(name, [])
    for k, reading in enumerate(readings):
        for name in reading.name_mentions.keys() & users.keys():
            users[name].append(k)
    for node in list(groups.mentions):
        for k in users[node[1]]:
            other = (k, node[1])
            if other not in groups.mentions:
                groups.mentions[other] = readings[k].name_mentions[node[1]]
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
    writers = Counter(f for reading in readings for f in reading.features)
    in_spellings: dict[int, set[str]] = {}
    for k, name in spellings.mentions:
        in_spellings.setdefault(k, set()).add(name)
    found = []
    for k, reading in enumerate(readings):
        # A feature of this reading is written elsewhere when another reading has it too.
        numbers = _distinct(
            Mention(reading.outlet, occs[0].value, occs[0].context)
            for feat, occs in reading.numbers.items()
            if writers[feat] == 1 and (k, feat) not in figures.mentions
        )
        spelt = in_spellings.get(k, set())
        lonely = {n for n in reading.names if writers[n] == 1 and n not in spelt}
        names = _distinct(
            Mention(reading.outlet, phrase, context)
            for phrase, held, context in reading.phrases
            if not held.isdisjoint(lonely)
        )
        if names or numbers:
            found.append(Unshared(reading.outlet, names, numbers))
    return tuple(found)


def _distinct(mentions: Iterable[Mention]) -> tuple[Mention, ...]:
    """``mentions`` without repeats: a value within another one shown is left out.

    ("4-7" goes when "January 4-7" is there; the longer one takes the place of
    the shorter one it holds.)
    """
    kept: list[tuple[Mention, tuple[str, ...]]] = []
    for mention in mentions:
        words = _folded_words(mention.value)
        if any(_within(words, k) for _, k in kept):
            continue
        held = [n for n, (_, k) in enumerate(kept) if _within(k, words)]
        if held:
            kept[held[0]] = (mention, words)
            kept = [k for n, k in enumerate(kept) if n not in held[1:]]
        else:
            kept.append((mention, words))
    return tuple(mention for mention, _ in kept)


def _folded_words(value: str) -> tuple[str, ...]:
    """The words of ``value``, case-folded."""
    return tuple(w.casefold() for w, _ in split_words(value))


def _within(inner: tuple[str, ...], outer: tuple[str, ...]) -> bool:
    """Whether the words ``inner`` appear, in a row, among the words ``outer``."""
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
