"""The story engine's text analysis, as the difference finder uses it: the one place it is imported.

``feedsvc.compare`` finds what differs between the reports of one story with
the signals the engine groups them by: its words and their features (stems and
``#``-numbers), the words it takes for names, and its spelling-variant signal
(Josei / Chosei). Every import from ``feedsvc.stories`` that the comparison
needs is here, behind a few small functions, so an engine whose analysis moves
or changes is adapted in this file alone. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from feedsvc.stories.signals import name_variants, variants_among
from feedsvc.stories.text import WordCache, is_title_case, name_stems, normalise_word, words

Word = tuple[str, int]
"""A word as written and its start offset in the text."""


def split_words(text: str) -> list[Word]:
    """The words of ``text`` with their start offsets, as the engine splits them."""
    return words(text)


@lru_cache(maxsize=1 << 16)
def feature(word: str) -> str | None:
    """The engine's feature of one word: a stem, ``#`` and the digits of a number, or None."""
    return normalise_word(word)


class Memo:
    """What the engine made of each chunk of text already read, for one comparison.

    The reports of one story repeat their words; reading them through one memo
    reads each chunk once. Results are those of the engine's functions, memoised.
    """

    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks = WordCache()

    def name_features(self, text: str, *, title_case: bool) -> set[str]:
        """The features of the words the engine takes for names in ``text``.

        A headline in Title Case (``title_case``, see ``headline_case``) is read
        as the engine reads titles: only acronyms count as names.
        """
        return name_stems(text, title_case, self._chunks)


def headline_case(found: list[Word]) -> bool:
    """Whether words read as a headline in Title Case, as the engine judges titles."""
    return is_title_case([word for word, _ in found])


def spelling_variants(
    a: frozenset[str], b: frozenset[str], table: VariantTable | None = None
) -> list[tuple[str, str]]:
    """Name features, one only in ``a`` and one only in ``b``, that the engine calls variants.

    ``table`` (``variant_table`` of names that include these) saves comparing
    the same two names again for every pair of reports.
    """
    return name_variants(a, b, table)


VariantTable = dict[str, frozenset[str]]
"""Per name, the other names the engine calls its spelling variants."""


def variant_table(names: Iterable[str]) -> VariantTable:
    """Each of ``names`` that may have spelling variants, with its variants among them."""
    return variants_among(names)
