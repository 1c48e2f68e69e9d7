"""Conditions on (source, id) keys: right on both engines, and an index look-up on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from feedsvc.store.keys import KEYS_PER_QUERY, PAIRS_PER_QUERY, key_chunks, pair_chunks, pair_in
from feedsvc.store.schema import articles, metadata


def test_pairs_are_found_by_index_not_by_a_scan_of_the_table() -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    pairs = [("wire", f"a{n}") for n in range(3)] + [("post", "b")]
    key, values = pair_in(articles.c.source, articles.c.id, pairs)
    stmt = sa.select(articles.c.published).where(key)
    with engine.connect() as connection:
        compiled = stmt.compile(connection)
        order = [values[name] for name in compiled.positiontup or ()]
        plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(order))
        details = [row[-1] for row in plan]
        assert len(connection.execute(stmt, values).fetchall()) == 0  # runs, with its values
    assert any("SEARCH articles USING INDEX" in d for d in details), details
    assert not any(d.startswith("SCAN articles") for d in details), details


def test_chunks_hold_each_pair_once_in_order() -> None:
    pairs = [("s", f"{n:04d}") for n in range(PAIRS_PER_QUERY + 3)]
    chunks = list(pair_chunks(pairs + pairs[:10]))
    assert [len(c) for c in chunks] == [PAIRS_PER_QUERY, 3]
    assert [p for c in chunks for p in c] == sorted(pairs)


def test_key_chunks_keep_every_key_in_order() -> None:
    keys = [f"k{n}" for n in range(2 * KEYS_PER_QUERY + 1)]
    chunks = list(key_chunks(keys))
    assert [len(c) for c in chunks] == [KEYS_PER_QUERY, KEYS_PER_QUERY, 1]
    assert [k for c in chunks for k in c] == keys
    assert list(key_chunks([])) == []


def test_any_count_of_pairs_uses_one_of_a_few_statement_shapes() -> None:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(articles), [_row(f"a{n}") for n in range(7)])
        shapes = set()
        for count in range(1, 8):
            pairs = [("wire", f"a{n}") for n in range(count)]
            key, values = pair_in(articles.c.source, articles.c.id, pairs)
            shapes.add(len(values))
            found = connection.execute(sa.select(articles.c.id).where(key), values).scalars()
            assert sorted(found) == sorted(i for _, i in pairs)  # padding finds nothing extra
    assert shapes == {2, 4, 8, 16}  # 1, 2, 4 and 8 pairs: powers of two


def _row(article_id: str) -> dict[str, object]:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "source": "wire", "id": article_id, "url": None, "title": "t", "summary": "",
        "content_html": "", "text": "", "published": now, "updated": None,
        "date_estimated": False, "content_hash": article_id, "authors": (),
        "language": None, "categories": (), "dateline": None, "first_seen": now,
        "last_seen": now,
    }  # fmt: skip
