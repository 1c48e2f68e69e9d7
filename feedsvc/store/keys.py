"""SQL conditions on keys: single keys in pieces, and pairs such as (source, article id).

``key_chunks`` cuts a list of keys into the pieces one ``IN (...)`` takes.

``(a, b) IN (VALUES ...)`` reads clearly, but SQLite answers it by scanning the
whole table (3.40 does; the primary key is not used), which made every batch
of a story round cost a scan of all articles. A disjunction of equalities is
answered with one index look-up per pair on SQLite ("MULTI-INDEX OR") and on
PostgreSQL alike, so that is what ``pair_in`` builds: once per pair of
columns and count, with named parameters, because building the expression
for every batch cost more than running it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

PAIRS_PER_QUERY = 512  # two bound parameters each: far below every engine's limit
KEYS_PER_QUERY = 500  # keys per IN (...): well under every engine's bound-parameter limit

Pair = tuple[str, str]


def pair_in(
    first: sa.ColumnElement[Any], second: sa.ColumnElement[Any], pairs: Sequence[Pair]
) -> tuple[sa.ColumnElement[bool], dict[str, str]]:
    """The condition that (``first``, ``second``) is one of ``pairs``, and its parameters.

    The pairs are padded (with the last one again) to a power of two, so a few
    statement shapes serve every count and stay cached, here and in
    SQLAlchemy's compiled cache.
    """
    if not pairs:
        raise ValueError("pair_in needs at least one pair")
    size = 1 << (len(pairs) - 1).bit_length()
    padded = [*pairs, *[pairs[-1]] * (size - len(pairs))]
    condition = _condition(first, second, size)
    values = {
        f"k{n}{side}": value
        for n, pair in enumerate(padded)
        for side, value in zip("ab", pair, strict=True)
    }
    return condition, values


@lru_cache(maxsize=64)  # a memo of immutable SQL expressions: ten sizes per column pair
def _condition(
    first: sa.ColumnElement[Any], second: sa.ColumnElement[Any], count: int
) -> sa.ColumnElement[bool]:
    return sa.or_(
        *(
            sa.and_(first == sa.bindparam(f"k{n}a"), second == sa.bindparam(f"k{n}b"))
            for n in range(count)
        )
    )


def pair_chunks(pairs: Sequence[Pair] | set[Pair]) -> Iterator[list[Pair]]:
    """The distinct ``pairs``, sorted, ``PAIRS_PER_QUERY`` at a time."""
    unique = sorted(set(pairs))
    for start in range(0, len(unique), PAIRS_PER_QUERY):
        yield unique[start : start + PAIRS_PER_QUERY]


def key_chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    """``keys`` in order, ``KEYS_PER_QUERY`` at a time (one ``IN (...)`` each)."""
    for start in range(0, len(keys), KEYS_PER_QUERY):
        yield keys[start : start + KEYS_PER_QUERY]
