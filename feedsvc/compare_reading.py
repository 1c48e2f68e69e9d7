"""How the difference finder reads one outlet's reports: names, numbers and where they stand.

Pure; no I/O. A report's title is read as a headline and each line of its text
as a sentence run; every number (a word starting with a digit) becomes an
``Occurrence`` with its kind (a year, a day beside a month, or a count of
one shape: "€2.5" is a sum, "35-minute" a duration),
the words of its sentence and the words around it, and every capitalised
phrase holding a word the engine takes for a name is kept with its context.
Words and names are the story engine's, through ``compare_text``.
``feedsvc.compare`` pairs what these readings hold.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from feedsvc.compare_records import Report
from feedsvc.compare_text import Memo, Word, feature, headline_case, split_words

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
_PHRASE_JOINS = frozenset({" ", "-", "‐", "–"})
_POSSESSIVE = re.compile(r"['’]s?$")
_FIGURE = re.compile(r"\d(?:[\d.,]*\d)?")


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One name or number in one outlet's text: its feature, how it reads, where it stands."""

    feature: str
    value: str
    context: str
    sentence: frozenset[str]
    kind: str
    order: int


@dataclass(slots=True)
class Reading:
    """One outlet's reports as the comparison needs them."""

    outlet: str
    features: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    numbers: dict[str, list[Occurrence]] = field(default_factory=dict)
    phrases: list[tuple[str, frozenset[str], str]] = field(default_factory=list)
    name_mentions: dict[str, Occurrence] = field(default_factory=dict)
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


def _context(found: list[Word], index: int, bounds: tuple[int, int], text: str) -> str:
    """Up to ``CONTEXT_WORDS`` words either side of word ``index``, within its sentence.

    ``bounds`` are the indexes of the sentence's first word and of the word after its last.
    """
    lo, hi = bounds
    first = max(lo, index - CONTEXT_WORDS)
    last = min(hi - 1, index + CONTEXT_WORDS)
    start = found[first][1]
    end = found[last][1] + len(found[last][0])
    snippet = " ".join(text[start:end].split())
    before = "… " if first != lo else ""
    after = " …" if last != hi - 1 else ""
    return f"{before}{snippet}{after}"


def _number_kind(word: str, found: list[Word], index: int) -> str:
    """``year`` (1800 to 2100), ``day`` (beside a month's name) or ``count``."""
    if word.isdigit() and len(word) == 4 and 1800 <= int(word) <= 2100:
        return "year"
    if word.isdigit() and int(word) <= 31 and _month_beside(found, index) is not None:
        return "day"
    return "count"


class _Segment:
    """One title or line being read: its words and their features; its sentences when asked.

    Most titles and lines hold no number and no name, so their sentences are
    found only for the words that need them (for their context and its words).
    """

    __slots__ = ("_held", "_spans", "_starts", "_word_starts", "features", "found", "text")

    def __init__(self, text: str, found: list[Word], features: list[str | None]) -> None:
        self.text = text
        self.found = found
        self.features = features
        self._spans: list[tuple[int, int]] = []
        self._starts: list[int] = []
        self._word_starts: list[int] = []
        self._held: dict[int, frozenset[str]] = {}

    def sentence(self, index: int) -> int:
        """The index of the sentence of word ``index``: the last one starting at or before it."""
        if not self._spans:  # not found yet (a text with a word has a sentence)
            self._spans = _sentences(self.text)
            self._starts = [s for s, _ in self._spans]
            self._word_starts = [start for _, start in self.found]
        return bisect.bisect_right(self._starts, self.found[index][1]) - 1

    def context(self, index: int) -> str:
        """Up to ``CONTEXT_WORDS`` words either side of word ``index``, within its sentence."""
        sentence = self.sentence(index)  # finds the sentences first
        start, end = self._spans[sentence]
        inside = (
            bisect.bisect_left(self._word_starts, start),
            bisect.bisect_left(self._word_starts, end),
        )
        return _context(self.found, index, inside, self.text)

    def held(self, index: int) -> frozenset[str]:
        """The features of the words of word ``index``'s sentence, numbers aside."""
        sentence = self.sentence(index)
        found = self._held.get(sentence)
        if found is None:
            # The words whose sentence this is: those from its start to the next one's.
            starts, word_starts = self._starts, self._word_starts
            lo = bisect.bisect_left(word_starts, starts[sentence])
            hi = (
                bisect.bisect_left(word_starts, starts[sentence + 1])
                if sentence + 1 < len(starts)
                else len(word_starts)
            )
            found = self._held[sentence] = frozenset(
                f for f in self.features[lo:hi] if f is not None and not f.startswith("#")
            )
        return found


def _read_segment(
    reading: Reading, text: str, found: list[Word], memo: Memo, *, title_case: bool
) -> None:
    """Add one title or text (its words ``found``) to ``reading``."""
    names = memo.name_features(text, title_case=title_case)
    features = [feature(word) for word, _ in found]
    segment = _Segment(text, found, features)
    reading.features.update(f for f in features if f is not None)
    numbers, name_mentions = reading.numbers, reading.name_mentions
    for index, ((word, _), feat) in enumerate(zip(found, features, strict=True)):
        if feat is None:
            continue
        if word[0].isdigit():
            seen = numbers.setdefault(feat, [])
            if len(seen) < OCCURRENCES_PER_NUMBER:
                seen.append(_occurrence(reading, feat, segment, index))
        elif feat in names and word.lower() not in _CALENDAR:
            reading.names.add(feat)
            if feat not in name_mentions:
                name_mentions[feat] = _occurrence(reading, feat, segment, index)
    if names:  # a phrase holds a name
        reading.phrases += _phrases(segment, names)


def _occurrence(reading: Reading, feat: str, segment: _Segment, index: int) -> Occurrence:
    text, found = segment.text, segment.found
    word, start = found[index]
    kind = _number_kind(word, found, index) if word[0].isdigit() else "name"
    value = word if kind == "name" else _chunk(text, start)
    if kind == "day":
        value = _dated(text, found, index, value)
    elif kind == "count":
        kind = f"count {_shape(value)}"
    return Occurrence(
        feature=feat,
        value=value,
        context=segment.context(index),
        sentence=segment.held(index),
        kind=kind,
        order=reading.next_order(),
    )


def _shape(value: str) -> str:
    """How a figure is written around its digits: "€#" for "€2.5", "#-minute", "#am", "#" for 136.

    Figures are paired only with figures of one shape (a sum of money with a
    sum, a duration with a duration).
    """
    match = _FIGURE.search(value)
    if match is None:
        return value
    return f"{value[: match.start()]}#{value[match.end() :].lower()}"


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


def _phrases(segment: _Segment, names: set[str]) -> list[tuple[str, frozenset[str], str]]:
    """Runs of capitalised words holding at least one name: (phrase, name features, context)."""
    text, found, features = segment.text, segment.found, segment.features
    runs: list[list[int]] = []
    previous = -2  # the last capitalised word
    for index, (word, _) in enumerate(found):
        if not word[0].isupper():
            continue
        if previous == index - 1 and _only_spaces_between(text, found, index):
            runs[-1].append(index)
        else:
            runs.append([index])
        previous = index
    phrases = []
    for whole in runs:
        # (A stop word has no feature, so trimming the run leaves its names.)
        held = frozenset(
            f
            for i, f in ((i, features[i]) for i in whole)
            if f is not None and f in names and found[i][0].lower() not in _CALENDAR
        )
        if not held:
            continue
        run = _trimmed(whole, found, features)
        first, last = found[run[0]], found[run[-1]]
        phrase = _POSSESSIVE.sub("", text[first[1] : last[1] + len(last[0])])
        phrases.append((phrase, held, segment.context(run[0])))
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


def read_report(report: Report, memo: Memo | None = None) -> Reading:
    """Read a report's title as a headline, then each line of its text.

    A short line in Title Case with no closing punctuation is a sub-heading and
    is read as a headline too (the engine would take its capitals for names).
    The reports of one story are best read through one ``memo``.
    """
    memo = memo or Memo()
    reading = Reading(report.outlet)
    found = split_words(report.title)
    _read_segment(reading, report.title, found, memo, title_case=headline_case(found))
    for line in report.text.splitlines():
        if line.strip():
            found = split_words(line)
            _read_segment(reading, line, found, memo, title_case=_is_heading(line, found))
    return reading


def _is_heading(line: str, found: list[Word]) -> bool:
    """Whether ``line`` (its words ``found``) is a sub-heading: short, Title Case, unpunctuated."""
    return len(found) <= HEADING_WORDS and not _HEADING_END.search(line) and headline_case(found)
