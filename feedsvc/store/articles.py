"""SQL for articles and their tags: the batch upsert and the read queries.

Every function takes an open ``Connection`` inside a transaction the caller
owns; none commits or translates exceptions (the ``Store`` does). A batch costs
a fixed handful of statements whatever its size: one SELECT per chunk of keys
to find what is stored, then one executemany per kind of write.

New and changed articles mark their source (and changed ones their stories,
and the tags they gained or lost) for the next publish, in the same
transaction (see ``publishing``).

The store keeps an article's tags as a set: they come back sorted and without
duplicates, and an article whose tags differ only in order is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from feedsvc.store import publishing
from feedsvc.store import tags as tag_sql
from feedsvc.store.keys import key_chunks
from feedsvc.store.schema import ARTICLE_COLUMNS, article_tags, articles, sources
from feedsvc.types import Article, UpsertResult

log = logging.getLogger("feedsvc.store.articles")

# What is read back into an Article: ``ARTICLE_COLUMNS`` (all but the analysis, which
# only grouping reads); every write stores the analysis too, beside them.
_COLUMNS = tuple(c.name for c in ARTICLE_COLUMNS if c.name not in ("first_seen", "last_seen"))
_UNTAGGED: tag_sql.Tagged = ((), ())
# An article written without an analysis (its text had one stored) keeps that one.
_KEPT_FEATURES: sa.ColumnElement[Any] = sa.func.coalesce(
    sa.bindparam("k_features"), articles.c.features
)
_KEY: dict[str, sa.BindParameter[Any]] = {
    "k_source": sa.bindparam("k_source"),
    "k_id": sa.bindparam("k_id"),
}


def upsert(
    connection: Connection,
    source: str,
    batch: Sequence[Article],
    seen_at: datetime,
    seen: Sequence[str] = (),
) -> UpsertResult:
    """Insert new articles, update changed ones, touch unchanged ones; count each.

    ``seen`` holds the ids of stored articles seen again unchanged and not in
    ``batch`` (not normalised again): they are touched too.
    """
    incoming = _last_wins(batch)
    touched = _touch_ids(connection, source, seen, seen_at)
    stored = _load(connection, source, list(incoming))
    new: list[Article] = []
    changed: list[Article] = []
    unchanged: list[Article] = []
    retagged: set[str] = set()
    for article in incoming.values():
        old = stored.get(article.id)
        if old is None:
            new.append(article)
            continue
        merged = _keep_estimated_date(article, old)
        (unchanged if merged == old else changed).append(merged)
        retagged.update(set(old.tags) ^ set(merged.tags))
    _insert(connection, new, seen_at)
    _update(connection, changed, seen_at)
    _touch(connection, unchanged, seen_at)
    tag_sql.replace_tags(connection, changed, new)
    if new or changed:
        publishing.mark(connection, "source", [source])
    if changed:
        publishing.mark_stories_of(connection, source, [a.id for a in changed])
    if retagged:  # a tag an article lost: its feed still lists the article's story
        publishing.mark_tags(connection, retagged)
    return UpsertResult(new=len(new), updated=len(changed), unchanged=len(unchanged) + touched)


def _last_wins(batch: Sequence[Article]) -> dict[str, Article]:
    incoming: dict[str, Article] = {}
    for article in batch:
        tags, origins = sorted(set(article.tags)), sorted(set(article.tag_origins))
        incoming[article.id] = replace(article, tags=tuple(tags), tag_origins=tuple(origins))
    return incoming


def _keep_estimated_date(article: Article, old: Article) -> Article:
    """An undated entry seen again keeps the date (and its provenance) stored first."""
    if not article.date_estimated:
        return article
    return replace(article, published=old.published, date_estimated=old.date_estimated)


def _load(connection: Connection, source: str, ids: Sequence[str]) -> dict[str, Article]:
    tags = tag_sql.load(connection, source, ids)
    found: dict[str, Article] = {}
    for chunk in key_chunks(ids):
        stmt = sa.select(*ARTICLE_COLUMNS).where(
            articles.c.source == source, articles.c.id.in_(chunk)
        )
        for row in connection.execute(stmt):
            found[row.id] = _to_article(row, tags.get(row.id, _UNTAGGED))
    return found


def _to_article(row: Row[Any], tagged: tag_sql.Tagged) -> Article:
    values = {name: getattr(row, name) for name in _COLUMNS}
    return Article(**values, tags=tagged[0], tag_origins=tagged[1])


def _values(article: Article) -> dict[str, Any]:
    return {name: getattr(article, name) for name in _COLUMNS}


def _insert(connection: Connection, new: Sequence[Article], seen_at: datetime) -> None:
    if new:
        rows = [
            {**_values(a), "features": a.features, "first_seen": seen_at, "last_seen": seen_at}
            for a in new
        ]
        connection.execute(sa.insert(articles), rows)


def _update(connection: Connection, changed: Sequence[Article], seen_at: datetime) -> None:
    if not changed:
        return
    # The SET clause comes from the column-named keys of the rows, but the analysis:
    # an article that came without one (its text was not new) keeps the stored one.
    stmt = (
        sa.update(articles)
        .where(articles.c.source == _KEY["k_source"], articles.c.id == _KEY["k_id"])
        .values(features=_KEPT_FEATURES)
    )
    connection.execute(stmt, [_update_row(a, seen_at) for a in changed])


def _update_row(article: Article, seen_at: datetime) -> dict[str, Any]:
    row = _values(article)
    del row["source"], row["id"]
    return {
        **row, "last_seen": seen_at, "k_source": article.source, "k_id": article.id,
        "k_features": article.features,
    }  # fmt: skip


def _touch(connection: Connection, seen: Sequence[Article], seen_at: datetime) -> None:
    if not seen:
        return
    # an unchanged article may bring an analysis its stored one lacked (stored
    # before there were any, or by other code): it is kept
    stmt = (
        sa.update(articles)
        .where(articles.c.source == _KEY["k_source"], articles.c.id == _KEY["k_id"])
        .values(last_seen=sa.bindparam("seen_at"), features=_KEPT_FEATURES)
    )
    rows = [
        {"k_source": a.source, "k_id": a.id, "seen_at": seen_at, "k_features": a.features}
        for a in seen
    ]
    connection.execute(stmt, rows)


def _touch_ids(connection: Connection, source: str, ids: Sequence[str], seen_at: datetime) -> int:
    """Mark stored articles as seen at ``seen_at``; return how many there were."""
    touched = 0
    for chunk in key_chunks(ids):
        stmt = (
            sa.update(articles)
            .where(articles.c.source == source, articles.c.id.in_(chunk))
            .values(last_seen=seen_at)
        )
        touched += connection.execute(stmt).rowcount
    return touched


def present(connection: Connection, source: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` are stored articles of ``source``."""
    found: set[str] = set()
    for chunk in key_chunks(ids):
        stmt = sa.select(articles.c.id).where(articles.c.source == source, articles.c.id.in_(chunk))
        found.update(connection.execute(stmt).scalars())
    return found


def recent(
    connection: Connection, limit: int, *, source: str | None = None, tag: str | None = None
) -> list[Article]:
    """The newest articles of configured sources, newest first, optionally filtered."""
    stmt = (
        sa.select(*ARTICLE_COLUMNS)
        .join(sources, sources.c.name == articles.c.source)
        .where(sources.c.removed_at.is_(None))
        .order_by(articles.c.published.desc(), articles.c.source, articles.c.id)
        .limit(limit)
    )
    if source is not None:
        stmt = stmt.where(articles.c.source == source)
    if tag is not None:
        stmt = stmt.where(_has_tag(tag))
    return with_tags(connection, list(connection.execute(stmt)))


def recent_by_source(
    connection: Connection, names: Sequence[str], limit: int
) -> dict[str, list[Article]]:
    """The newest ``limit`` articles of each of these configured sources, newest first."""
    found: dict[str, list[Article]] = {name: [] for name in names}
    for chunk in key_chunks(list(names)):
        rank = (
            sa.func.row_number()
            .over(
                partition_by=articles.c.source,
                order_by=(articles.c.published.desc(), articles.c.id),
            )
            .label("rank")
        )
        ranked = (
            sa.select(*ARTICLE_COLUMNS, rank)
            .join(sources, sources.c.name == articles.c.source)
            .where(sources.c.removed_at.is_(None), articles.c.source.in_(chunk))
            .subquery()
        )
        stmt = (
            sa.select(*(ranked.c[column.name] for column in ARTICLE_COLUMNS))
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.source, ranked.c.published.desc(), ranked.c.id)
        )
        for article in with_tags(connection, list(connection.execute(stmt))):
            found[article.source].append(article)
    return found


def _has_tag(tag: str) -> sa.Exists:
    return sa.exists().where(
        article_tags.c.source == articles.c.source,
        article_tags.c.article_id == articles.c.id,
        article_tags.c.tag == tag,
    )


def with_tags(connection: Connection, rows: Sequence[Row[Any]]) -> list[Article]:
    """Turn article rows into Articles, loading their tags in one query per 500 articles."""
    tags = tag_sql.load_keys(connection, [(row.source, row.id) for row in rows])
    return [_to_article(row, tags.get((row.source, row.id), _UNTAGGED)) for row in rows]


def untagged(rows: Sequence[Row[Any]]) -> list[Article]:
    """Turn article rows into Articles without reading their tags (``tags`` left empty)."""
    return [_to_article(row, _UNTAGGED) for row in rows]


def get(connection: Connection, source: str, article_id: str) -> Article | None:
    """One article by its key, whether or not its source is still configured."""
    stmt = sa.select(*ARTICLE_COLUMNS).where(
        articles.c.source == source, articles.c.id == article_id
    )
    row = connection.execute(stmt).first()
    return None if row is None else with_tags(connection, [row])[0]


def tag_names(connection: Connection) -> list[str]:
    """Every tag carried by at least one article of a configured source, sorted."""
    stmt = (
        sa.select(article_tags.c.tag)
        .distinct()
        .join(sources, sources.c.name == article_tags.c.source)
        .where(sources.c.removed_at.is_(None))
        .order_by(article_tags.c.tag)
    )
    return list(connection.execute(stmt).scalars())
