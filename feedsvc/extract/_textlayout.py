"""Where the article is in a plain-text drop: units, captions, body region, headline.

Pure functions over lines of text, no I/O. A web page saved as text carries
the page around its article: a date banner, teasers of other stories (a short
headline and a one-sentence blurb each), photo captions printed twice in a row,
the headline glued to a category prefix, and navigation at the end. The rules:

* A *unit* is one line, or one blank-line-separated block when the block is
  hard-wrapped prose.
* A *caption* is a unit repeated right next to itself (exactly, or after a
  leading number is stripped).
* *Prose* ends with sentence punctuation and is not Title Case; everything
  else (headlines, sub-headings, navigation) is *other*.
* *Segments* are runs of prose (captions do not break them). The article is
  the longest segment, extended over gaps of at most ``MAX_GAP`` other units
  (its sub-headings) to neighbouring segments that are substantial (two or more
  paragraphs, or one of several sentences) — so one-sentence teaser blurbs and
  trailing navigation stay outside.
* The headline is the Title-like unit just before the article; a unit that
  also occurs glued after a prefix elsewhere wins (the glued copy shows the
  category prefix), then the longest.

This module does not read dates, datelines or header markers (see ``text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from feedsvc.extract._dates import find_text_dates

MAX_GAP = 2
"""Other units (sub-headings) that may separate two parts of one article."""

WRAP_WIDTH = 100
"""Lines no longer than this, in a multi-line block, may be hard-wrapped prose."""

_TERMINAL = re.compile(r"[.!?…][\"'”’»)\]]*$")
_CREDIT = re.compile(r"\s+(?:—|–|--|-)\s*(?=[^a-z]*[A-Z]{2})[^a-z]{2,60}$")
_WORD = re.compile(r"[^\W\d_][\w'’\-]*")
_SENTENCE_BREAK = re.compile(r"[.!?…][\"'”’)]*\s+(?=[\"“‘'(]?[A-Z0-9])")
_LEADING_NUMBER = re.compile(r"^\d+\s*")
_BYLINE = re.compile(r"^(?:by|words:?|text:?)\s+\S", re.I)


@dataclass(frozen=True, slots=True)
class Layout:
    """The article's place among the units of a text drop."""

    units: tuple[str, ...]
    captions: frozenset[int]
    start: int
    end: int
    headline: int | None

    def body(self) -> list[str]:
        """The article's units from start to end (inclusive), without captions."""
        return [self.units[i] for i in range(self.start, self.end + 1) if i not in self.captions]

    def lead_in(self) -> list[str]:
        """Units from the headline (or start) to the end, captions included."""
        first = self.headline if self.headline is not None else self.start
        return list(self.units[first : self.end + 1])

    def before(self) -> list[str]:
        """Units before the headline (or start): the page around the article."""
        first = self.headline if self.headline is not None else self.start
        return list(self.units[:first])


@dataclass(frozen=True, slots=True)
class _Segment:
    first: int
    last: int
    chars: int
    substantial: bool


def split_units(text: str) -> list[str]:
    """Split text into units: lines, or joined blocks of hard-wrapped prose."""
    units: list[str] = []
    for block in re.split(r"\n[ \t]*\n", text):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if _is_wrapped(lines):
            units.append(" ".join(lines))
        else:
            units.extend(lines)
    return units


def find_layout(units: list[str]) -> Layout | None:
    """The article region of ``units``, or None when there is no prose at all."""
    captions = frozenset(_captions(units))
    segments = _segments(units, captions)
    if not segments:
        return None
    core = max(range(len(segments)), key=lambda i: segments[i].chars)
    first, last = _extend(segments, core, units, captions)
    start, end = segments[first].first, segments[last].last
    return Layout(tuple(units), captions, start, end, _headline(units, captions, start))


def is_prose(unit: str) -> bool:
    """Whether ``unit`` reads as running text rather than a headline or a link."""
    core = _CREDIT.sub("", unit)
    return bool(_TERMINAL.search(core)) and len(_WORD.findall(core)) >= 3 and not _title_case(core)


def sentences(unit: str) -> list[str]:
    """Split a paragraph into sentences (roughly: punctuation, space, capital)."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_BREAK.finditer(unit):
        if _is_abbreviation(unit[start : match.start() + 1]):
            continue
        parts.append(unit[start : match.end()].strip())
        start = match.end()
    parts.append(unit[start:].strip())
    return [p for p in parts if p]


def is_date_line(unit: str) -> bool:
    """Whether ``unit`` is just a date, maybe with a weekday ("Saturday, January 31, 2026")."""
    found = find_text_dates(unit)
    if not found:
        return False
    rest = unit[: found[0].start] + unit[found[0].end :]
    return len(_WORD.findall(rest)) <= 1


def is_byline(unit: str) -> bool:
    """Whether ``unit`` is a byline such as "By Jane Doe"."""
    return bool(_BYLINE.match(unit)) and len(unit) <= 120 and not _TERMINAL.search(unit)


# --------------------------------------------------------------------------- internals


def _is_wrapped(lines: list[str]) -> bool:
    if len(lines) < 2 or any(len(line) > WRAP_WIDTH for line in lines):
        return False
    if any(_same_caption(a, b) for a, b in pairwise(lines)):
        return False
    return all(len(line) >= 40 for line in lines[:-1])


def _captions(units: list[str]) -> set[int]:
    found: set[int] = set()
    for i in range(len(units) - 1):
        if _same_caption(units[i], units[i + 1]):
            found.update((i, i + 1))
    return found


def _same_caption(a: str, b: str) -> bool:
    a, b = _LEADING_NUMBER.sub("", a), _LEADING_NUMBER.sub("", b)
    return a == b and len(_WORD.findall(a)) >= 3


def _title_case(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) >= 4]
    if len(words) < 2:
        return False
    capitalised = sum(1 for w in words if w[0].isupper())
    return capitalised / len(words) >= 0.8


def _segments(units: list[str], captions: frozenset[int]) -> list[_Segment]:
    segments: list[_Segment] = []
    run: list[int] = []
    for i, unit in enumerate(units):
        if i in captions:
            continue
        if is_prose(unit):
            run.append(i)
            continue
        if run:
            segments.append(_segment(units, run))
        run = []
    if run:
        segments.append(_segment(units, run))
    return segments


def _segment(units: list[str], run: list[int]) -> _Segment:
    texts = [units[i] for i in run]
    substantial = len(run) >= 2 or len(sentences(texts[0])) >= 2
    return _Segment(run[0], run[-1], sum(map(len, texts)), substantial)


def _extend(
    segments: list[_Segment], core: int, units: list[str], captions: frozenset[int]
) -> tuple[int, int]:
    first = last = core
    while first > 0 and _joins(segments[first - 1], segments[first], units, captions):
        first -= 1
    while last + 1 < len(segments) and _joins(segments[last], segments[last + 1], units, captions):
        last += 1
    return first, last


def _joins(left: _Segment, right: _Segment, units: list[str], captions: frozenset[int]) -> bool:
    """Whether two prose segments are parts of one article (joined by sub-headings)."""
    gap = [i for i in range(left.last + 1, right.first) if i not in captions]
    if len(gap) > MAX_GAP or not (left.substantial and right.substantial):
        return False
    return all(_headline_like(units[i]) for i in gap)


def _headline(units: list[str], captions: frozenset[int], start: int) -> int | None:
    candidates: list[int] = []
    i = start - 1
    while i >= 0 and len(candidates) <= MAX_GAP:
        if i not in captions:
            if is_prose(units[i]):
                break
            if _headline_like(units[i]) and not is_byline(units[i]) and not is_date_line(units[i]):
                candidates.append(i)
        i -= 1
    glued = [c for c in candidates if _occurs_glued(units, c)]
    pool = glued or candidates
    return max(pool, key=lambda c: len(units[c])) if pool else None


def _occurs_glued(units: list[str], index: int) -> bool:
    text = units[index]
    return any(len(u) > len(text) and u.endswith(text) for u in units)


def _headline_like(unit: str) -> bool:
    words = _WORD.findall(unit)
    return 2 <= len(words) <= 40 and len(unit) <= 250


def _is_abbreviation(sentence: str) -> bool:
    """Whether the sentence-like piece ends in an abbreviation ("Mr.", "U.S.", "J.")."""
    words = sentence.split()
    last = words[-1].rstrip(".") if words else ""
    return "." in last or (len(last) <= 2 and last[:1].isupper()) or last in _ABBREVIATIONS


_ABBREVIATIONS = frozenset(
    {"Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "No", "Gen", "Sen", "Rep", "Gov", "Prof", "Col"}
)
