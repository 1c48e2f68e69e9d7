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

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from feedsvc.compare_text import (
    Word,
    feature,
    headline_case,
    name_features,
    spelling_variants,
    split_words,
)

# Words two sentences must share for their differing numbers to count as one figure.
MIN_SHARED_CONTEXT = 2
# Words of context shown on each side of a mention.
CONTEXT_WORDS = 8
# Occurrences of one number in one outlet's reports weighed when pairing figures.
OCCURRENCES_PER_NUMBER = 5
_SENTENCE_BREAK = re.compile(r"[.!?…]+[\"”’)\]]*\s+|\n+")
_CHUNK_EDGE = "\"'“”‘’()[]{},.;:!?…"
_MONTH_TEXT = """january february march april may june july august september october november
    december jan feb mar apr jun jul aug sep sept oct nov dec"""
_MONTHS = frozenset(_MONTH_TEXT.split())
_DAY_TEXT = "monday tuesday wednesday thursday friday saturday sunday"
_CALENDAR = _MONTHS | frozenset(_DAY_TEXT.split())
_HEADING_END = re.compile(r"[.!?…:;,\"”’)\]]\s*$")
HEADING_WORDS = 16
# Years are not paired: two years in like sentences are mostly two different events.
_UNPAIRED_KINDS = frozenset({"year"})
_PHRASE_JOINS = frozenset({" ", "-", "‐", "–"})
_POSSESSIVE = re.compile(r"['’]s?$")


@dataclass(frozen=True, slots=True)
class Report:
    """One outlet's reporting of a story (its reports' titles and texts, joined)."""

    outlet: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Mention:
    """Something one outlet wrote: the value as written and the words around it."""

    outlet: str
    value: str
    context: str


@dataclass(frozen=True, slots=True)
class Difference:
    """One fact the outlets give differently: each outlet's mention, in story order."""

    mentions: tuple[Mention, ...]

    @property
    def values(self) -> tuple[str, ...]:
        """The distinct values given, in the order the outlets gave them."""
        return tuple(dict.fromkeys(m.value for m in self.mentions))


@dataclass(frozen=True, slots=True)
class Unshared:
    """The names and numbers that only ``outlet`` mentions."""

    outlet: str
    names: tuple[Mention, ...] = ()
    numbers: tuple[Mention, ...] = ()


@dataclass(frozen=True, slots=True)
class Differences:
    """Everything that differs between the reports of one story."""

    figures: tuple[Difference, ...] = ()
    spellings: tuple[Difference, ...] = ()
    unshared: tuple[Unshared, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the reports agree on every name and number they contain."""
        return not (self.figures or self.spellings or self.unshared)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class _Occurrence:
    """One name or number in one outlet's text: its feature, how it reads, where it stands."""

    feature: str
    value: str
    context: str
    sentence: frozenset[str]
    kind: str
    order: int


@dataclass(slots=True)
class _Reading:
    """One outlet's reports as the comparison needs them."""

    outlet: str
    features: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    numbers: dict[str, list[_Occurrence]] = field(default_factory=dict)
    phrases: list[tuple[str, frozenset[str], str]] = field(default_factory=list)
    name_mentions: dict[str, _Occurrence] = field(default_factory=dict)
    order: int = 0

    def next_order(self) -> int:
        """A counter of occurrences, so everything can be listed in text order."""
        self.order += 1
        return self.order


def _sentences(text: str) -> list[tuple[int, int]]:
    """The (start, end) offsets of the sentences of ``text``."""
    spans, start = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        spans.append((start, match.start() + 1))
        start = match.end()
    spans.append((start, len(text)))
    return [(s, e) for s, e in spans if e > s]


def _chunk(text: str, start: int) -> str:
    """The whitespace-delimited piece of ``text`` around ``start``, without edge punctuation."""
    left = start
    while left > 0 and not text[left - 1].isspace():
        left -= 1
    right = start
    while right < len(text) and not text[right].isspace():
        right += 1
    return text[left:right].strip(_CHUNK_EDGE) or text[start:right]


def _context(found: list[Word], index: int, span: tuple[int, int], text: str) -> str:
    """Up to ``CONTEXT_WORDS`` words either side of word ``index``, within its sentence."""
    inside = [i for i, (_, start) in enumerate(found) if span[0] <= start < span[1]]
    at = inside.index(index)
    first = inside[max(0, at - CONTEXT_WORDS)]
    last = inside[min(len(inside) - 1, at + CONTEXT_WORDS)]
    start = found[first][1]
    end = found[last][1] + len(found[last][0])
    snippet = " ".join(text[start:end].split())
    before = "… " if first != inside[0] else ""
    after = " …" if last != inside[-1] else ""
    return f"{before}{snippet}{after}"


def _number_kind(word: str, found: list[Word], index: int) -> str:
    """``year`` (1800 to 2100), ``day`` (beside a month's name) or ``count``."""
    if word.isdigit() and len(word) == 4 and 1800 <= int(word) <= 2100:
        return "year"
    if word.isdigit() and int(word) <= 31 and _month_beside(found, index) is not None:
        return "day"
    return "count"


def _read_segment(reading: _Reading, text: str, *, headline: bool) -> None:
    """Add one title or text to ``reading``."""
    found = split_words(text)
    names = name_features(text, found, headline=headline)
    spans = _sentences(text)
    starts = [s for s, _ in spans]
    features = [feature(word) for word, _ in found]
    sentence_of = [spans[bisect.bisect_right(starts, start) - 1] for _, start in found]
    by_sentence: dict[tuple[int, int], frozenset[str]] = {}
    for span, feat in zip(sentence_of, features, strict=True):
        if feat is not None and not feat.startswith("#"):
            by_sentence[span] = by_sentence.get(span, frozenset()) | {feat}
    reading.features.update(f for f in features if f is not None)
    for index, ((word, _), feat) in enumerate(zip(found, features, strict=True)):
        if feat is None:
            continue
        span = sentence_of[index]
        if word[0].isdigit():
            seen = reading.numbers.setdefault(feat, [])
            if len(seen) < OCCURRENCES_PER_NUMBER:
                seen.append(_occurrence(reading, feat, text, found, index, span, by_sentence))
        elif feat in names and word.lower() not in _CALENDAR:
            reading.names.add(feat)
            if feat not in reading.name_mentions:
                reading.name_mentions[feat] = _occurrence(
                    reading, feat, text, found, index, span, by_sentence
                )
    reading.phrases += _phrases(text, found, features, names, spans)


def _occurrence(
    reading: _Reading,
    feat: str,
    text: str,
    found: list[Word],
    index: int,
    span: tuple[int, int],
    by_sentence: dict[tuple[int, int], frozenset[str]],
) -> _Occurrence:
    word, start = found[index]
    kind = _number_kind(word, found, index) if word[0].isdigit() else "name"
    value = word if kind == "name" else _chunk(text, start)
    if kind == "day":
        value = _dated(text, found, index, value)
    return _Occurrence(
        feature=feat,
        value=value,
        context=_context(found, index, span, text),
        sentence=by_sentence.get(span, frozenset()),
        kind=kind,
        order=reading.next_order(),
    )


def _dated(text: str, found: list[Word], index: int, value: str) -> str:
    """A day of a month shown with its month, in the order written ("February 3", "3 May")."""
    other = _month_beside(found, index)
    if other is None:
        return value
    month = found[other][0]
    return f"{month} {value}" if other < index else f"{value} {month}"


def _month_beside(found: list[Word], index: int) -> int | None:
    """The index of the month's name just before or after word ``index``, if any."""
    for other in (index - 1, index + 1):
        if 0 <= other < len(found) and found[other][0].lower().rstrip(".") in _MONTHS:
            return other
    return None


def _phrases(
    text: str,
    found: list[Word],
    features: list[str | None],
    names: set[str],
    spans: list[tuple[int, int]],
) -> list[tuple[str, frozenset[str], str]]:
    """Runs of capitalised words holding at least one name: (phrase, name features, context)."""
    runs: list[list[int]] = []
    for index, (word, _) in enumerate(found):
        if not word[0].isupper():
            continue
        previous = runs[-1][-1] if runs else None
        joined = previous == index - 1 and _only_spaces_between(text, found, index)
        if joined:
            runs[-1].append(index)
        else:
            runs.append([index])
    starts = [s for s, _ in spans]
    phrases = []
    for whole in runs:
        run = _trimmed(whole, found, features)
        if not run:
            continue
        held = frozenset(
            f
            for i, f in ((i, features[i]) for i in run)
            if f is not None and f in names and found[i][0].lower() not in _CALENDAR
        )
        if not held:
            continue
        first, last = found[run[0]], found[run[-1]]
        phrase = _POSSESSIVE.sub("", text[first[1] : last[1] + len(last[0])])
        span = spans[bisect.bisect_right(starts, first[1]) - 1]
        phrases.append((phrase, held, _context(found, run[0], span, text)))
    return phrases


def _trimmed(run: list[int], found: list[Word], features: list[str | None]) -> list[int]:
    """``run`` without the stop words at its ends ("The Korea-Japan Body" → "Korea-Japan Body")."""
    kept = list(run)
    while kept and _stop(kept[0], found, features):
        kept.pop(0)
    while kept and _stop(kept[-1], found, features):
        kept.pop()
    return kept


def _stop(index: int, found: list[Word], features: list[str | None]) -> bool:
    """Whether word ``index`` is a stop word that is not an acronym ("The", not "US")."""
    word = found[index][0]
    return features[index] is None and not (len(word) >= 2 and word.isupper())


def _only_spaces_between(text: str, found: list[Word], index: int) -> bool:
    word, start = found[index - 1]
    gap = text[start + len(word) : found[index][1]]
    return gap in _PHRASE_JOINS


def _read(report: Report) -> _Reading:
    """Read a report's title as a headline, then each line of its text.

    A short line in Title Case with no closing punctuation is a sub-heading and
    is read as a headline too (the engine would take its capitals for names).
    """
    reading = _Reading(report.outlet)
    _read_segment(reading, report.title, headline=True)
    for line in report.text.splitlines():
        if line.strip():
            _read_segment(reading, line, headline=_is_heading(line))
    return reading


def _is_heading(line: str) -> bool:
    found = split_words(line)
    return len(found) <= HEADING_WORDS and not _HEADING_END.search(line) and headline_case(found)


# --------------------------------------------------------------------------- finding


class _Groups:
    """Union-find over (outlet, feature) nodes, remembering the mention of each node."""

    def __init__(self) -> None:
        self._parent: dict[tuple[int, str], tuple[int, str]] = {}
        self.mentions: dict[tuple[int, str], _Occurrence] = {}

    def find(self, node: tuple[int, str]) -> tuple[int, str]:
        """The representative node of ``node``'s group."""
        root = self._parent.setdefault(node, node)
        if root != node:
            root = self._parent[node] = self.find(root)
        return root

    def join(self, a: tuple[int, str], b: tuple[int, str]) -> None:
        """Put ``a`` and ``b`` in one group."""
        self._parent[self.find(a)] = self.find(b)

    def groups(self) -> list[list[tuple[int, str]]]:
        """Every group's nodes, in (outlet, first mention) order; groups by their first node."""
        grouped: dict[tuple[int, str], list[tuple[int, str]]] = {}
        for node in self._parent:
            grouped.setdefault(self.find(node), []).append(node)
        ordered = [sorted(nodes, key=self._position) for nodes in grouped.values()]
        return sorted(ordered, key=lambda nodes: self._position(nodes[0]))

    def _position(self, node: tuple[int, str]) -> tuple[int, int]:
        return node[0], self.mentions[node].order


def _pair_figures(readings: Sequence[_Reading]) -> _Groups:
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
            groups.mentions.setdefault((i, oa.feature), oa)
            groups.mentions.setdefault((j, ob.feature), ob)
            groups.join((i, oa.feature), (j, ob.feature))
    return groups


def _best_context(
    occs_a: Iterable[_Occurrence], occs_b: Iterable[_Occurrence]
) -> tuple[int, _Occurrence, _Occurrence] | None:
    """The pair of occurrences (same kind) whose sentences share the most words, if enough."""
    best: tuple[int, _Occurrence, _Occurrence] | None = None
    for oa in occs_a:
        for ob in occs_b:
            if oa.kind != ob.kind or oa.kind in _UNPAIRED_KINDS:
                continue
            score = len(oa.sentence & ob.sentence)
            if score >= MIN_SHARED_CONTEXT and (best is None or score > best[0]):
                best = (score, oa, ob)
    return best


def _pair_spellings(readings: Sequence[_Reading]) -> _Groups:
    """Names the engine calls spelling variants, each written by one outlet only."""
    groups = _Groups()
    for (i, a), (j, b) in combinations(enumerate(readings), 2):
        for x, y in spelling_variants(frozenset(a.names), frozenset(b.names)):
            if x in b.features or y in a.features or x in y or y in x:
                continue
            groups.mentions.setdefault((i, x), a.name_mentions[x])
            groups.mentions.setdefault((j, y), b.name_mentions[y])
            groups.join((i, x), (j, y))
    _add_other_users(groups, readings)
    return groups


def _add_other_users(groups: _Groups, readings: Sequence[_Reading]) -> None:
    """Add every other outlet that writes one of a spelling group's names to that group."""
    for node in list(groups.mentions):
        for k, reading in enumerate(readings):
            other = (k, node[1])
            if other not in groups.mentions and node[1] in reading.name_mentions:
                groups.mentions[other] = reading.name_mentions[node[1]]
                groups.join(other, node)


def _differences(groups: _Groups, readings: Sequence[_Reading]) -> tuple[Difference, ...]:
    found = []
    for nodes in groups.groups():
        said = [(readings[node[0]].outlet, groups.mentions[node]) for node in nodes]
        mentions = tuple(Mention(outlet, o.value, o.context) for outlet, o in said)
        if len({m.value.casefold() for m in mentions}) > 1:
            found.append(Difference(mentions))
    return tuple(found)


def _unshared(
    readings: Sequence[_Reading], figures: _Groups, spellings: _Groups
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
    readings = [_read(report) for report in _by_outlet(reports)]
    if len(readings) < 2:
        return Differences()
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
