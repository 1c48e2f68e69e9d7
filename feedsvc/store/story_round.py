"""SQL of the story round: what grouping reads of the articles, and saving what it decided.

A round reads the articles that wait for a story and the stored window to
replay (oldest first, a batch at a time: keyset paging on published, source,
id), and saves each batch's assignments, merges and story shapes in one
transaction. It decides nothing: grouping is ``feedsvc.stories``; reading
stories back for publishing and the commands is ``store.stories``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feedsvc.store import publishing, state
from feedsvc.store.bulk import execute_many, upsert
from feedsvc.store.keys import key_chunks
from feedsvc.store.schema import (
    MEMBER_OF_ARTICLE,
    articles,
    sources,
    stories,
    story_aliases,
    story_members,
)
from feedsvc.types import ArticleText, StoryAssignment, StoryUpdate

Key = tuple[str, str]
K = TypeVar("K", bound=Hashable)
TextKey = tuple[datetime, str, str]
"""Where an article stands in grouping order: published, source, id."""

_SIGNALS = json.JSONEncoder(sort_keys=True)
"""How a member's signals are stored: what ``json.dumps(signals, sort_keys=True)`` writes."""


def assignments_since(
    connection: Connection,
    since: datetime,
    until: datetime | None,
    key: Callable[[str, str], K],
) -> dict[K, str]:
    """The story of every assigned article published at or after ``since`` (to ``until``).

    Keyed by ``key(source, article_id)``, made as each row is read: a late pass
    at 10,000 feeds reads 64,000 of them, and a dict keyed by pairs, then
    converted, held both at once.
    """
    stmt = (
        sa.select(story_members.c.source, story_members.c.article_id, story_members.c.story_id)
        .join(articles, MEMBER_OF_ARTICLE)
        .where(*_published_between(since, until))
    )
    return {key(source, id_): story for source, id_, story in connection.execute(stmt)}


def founded_since(
    connection: Connection, since: datetime, until: datetime | None = None
) -> dict[str, datetime]:
    """When each story with a member published since ``since`` (to ``until``) was founded."""
    recent = (
        sa.select(story_members.c.story_id)
        .join(articles, MEMBER_OF_ARTICLE)
        .where(*_published_between(since, until))
    )
    stmt = sa.select(stories.c.id, stories.c.founded).where(
        stories.c.founded.is_not(None), stories.c.id.in_(recent)
    )
    return {row.id: row.founded for row in connection.execute(stmt)}


def _published_between(since: datetime, until: datetime | None) -> list[sa.ColumnElement[bool]]:
    """Articles published at or after ``since`` and, if given, at or before ``until``."""
    bounds = [articles.c.published >= since]
    if until is not None:
        bounds.append(articles.c.published <= until)
    return bounds


def newest_member(connection: Connection, story_ids: Sequence[str]) -> datetime | None:
    """When the newest stored member of any of these stories was published (None: no member)."""
    if not story_ids:
        return None
    stmt = (
        sa.select(sa.func.max(articles.c.published))
        .select_from(story_members.join(articles, MEMBER_OF_ARTICLE))
        .where(story_members.c.story_id.in_(sorted(set(story_ids))))
    )
    newest: datetime | None = connection.execute(stmt).scalar()
    return newest


def copies_since(
    connection: Connection, since: datetime, urls: Sequence[str], hashes: Sequence[str]
) -> tuple[set[str], set[str]]:
    """Those of ``urls`` and ``hashes`` an article in a story published since ``since`` has.

    Articles of configured sources, as the stored window (``texts_since``).
    """
    found_urls: set[str] = set()
    found_hashes: set[str] = set()
    member = sa.exists().where(MEMBER_OF_ARTICLE)
    for column, values, found in (
        (articles.c.url, urls, found_urls),
        (articles.c.content_hash, hashes, found_hashes),
    ):
        for chunk in key_chunks(sorted(set(values))):
            stmt = (
                sa.select(column)
                .distinct()
                .join(sources, sources.c.name == articles.c.source)
                .where(
                    sources.c.removed_at.is_(None),
                    articles.c.published >= since,
                    column.in_(chunk),
                    member,
                )
            )
            found.update(connection.execute(stmt).scalars())
    return found_urls, found_hashes


def aliases(connection: Connection) -> dict[str, str]:
    """Every merged-away story id and the id that absorbed it."""
    stmt = sa.select(story_aliases.c.alias, story_aliases.c.story_id)
    return {row.alias: row.story_id for row in connection.execute(stmt)}


def texts_since(
    connection: Connection,
    since: datetime,
    *,
    limit: int | None = None,
    after: TextKey | None = None,
) -> list[ArticleText]:
    """Articles of configured sources in a story, published at or after ``since``, oldest first.

    At most ``limit`` of them, those after ``after`` in that order (published,
    source, id): a rebuilt window is read a batch at a time.
    """
    member = sa.exists().where(MEMBER_OF_ARTICLE)
    stmt = _after(_configured_texts().where(articles.c.published >= since, member), after)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [ArticleText(*row) for row in connection.execute(stmt)]


def _after(stmt: sa.Select[Any], after: TextKey | None) -> sa.Select[Any]:
    """``stmt`` (in grouping order) from the article after ``after`` on, if given."""
    if after is None:
        return stmt
    columns = (articles.c.published, articles.c.source, articles.c.id)
    bound = (sa.literal(value, type_=c.type) for value, c in zip(after, columns, strict=True))
    return stmt.where(sa.tuple_(*columns) > sa.tuple_(*bound))


def newest_assigned(connection: Connection) -> datetime | None:
    """When the newest article of a configured source that is in a story was published."""
    member = sa.exists().where(MEMBER_OF_ARTICLE)
    stmt = (
        sa.select(articles.c.published)
        .join(sources, sources.c.name == articles.c.source)
        .where(sources.c.removed_at.is_(None), member)
        .order_by(articles.c.published.desc())
        .limit(1)
    )
    newest: datetime | None = connection.execute(stmt).scalar()
    return newest


def unassigned_texts(
    connection: Connection, *, limit: int | None = None, after: TextKey | None = None
) -> list[ArticleText]:
    """Articles of configured sources that belong to no story yet, oldest first.

    At most ``limit`` of them, and only those after ``after`` in that order
    (published, source, id): a round reads its pending articles a batch at a time.
    """
    member = sa.exists().where(MEMBER_OF_ARTICLE)
    stmt = _after(_configured_texts().where(~member), after)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [ArticleText(*row) for row in connection.execute(stmt)]


def any_unassigned(connection: Connection) -> bool:
    """Whether an article of a configured source belongs to no story yet."""
    member = sa.exists().where(MEMBER_OF_ARTICLE)
    stmt = (
        sa.select(sa.literal(1))
        .select_from(articles.join(sources, sources.c.name == articles.c.source))
        .where(sources.c.removed_at.is_(None), ~member)
        .limit(1)
    )
    return connection.execute(stmt).first() is not None


def _configured_texts() -> sa.Select[Any]:
    """The grouping columns (in ``ArticleText`` order) of configured sources' articles, by date."""
    return (
        sa.select(
            articles.c.source,
            articles.c.id,
            articles.c.url,
            articles.c.title,
            articles.c.text,
            articles.c.published,
            articles.c.content_hash,
            articles.c.features,
        )
        .join(sources, sources.c.name == articles.c.source)
        .where(sources.c.removed_at.is_(None))
        .order_by(articles.c.published, articles.c.source, articles.c.id)
    )


def save(
    connection: Connection,
    assignments: Sequence[StoryAssignment],
    updates: Sequence[StoryUpdate],
    merges: Mapping[str, str],
    now: datetime,
    facts: Mapping[str, str] | None = None,
) -> None:
    """Record new assignments, merges and the new shape of every touched story (marked).

    ``facts`` go to the service state in the same transaction (the engine
    snapshot's token).
    """
    _assign(connection, assignments, now)
    for alias, into in merges.items():
        _merge(connection, alias, into, now)
    _upsert_stories(connection, updates, now)
    publishing.mark(connection, "story", [*(u.id for u in updates), *merges.values()])
    state.put(connection, facts or {})


def _assign(connection: Connection, batch: Sequence[StoryAssignment], now: datetime) -> None:
    """Insert each article's membership, replacing the row of an article assigned before."""
    rows = [
        (a.source, a.article_id, a.story_id, a.layer, a.score, a.matched, _signals(a.signals))
        for a in batch
    ]
    stmt = _upsert_members(connection.dialect.name)
    execute_many(connection, stmt, _MEMBER, rows, {"decided_at": now})


_MEMBER = ("source", "article_id", "story_id", "layer", "score", "matched", "signals")


def _signals(signals: Mapping[str, float]) -> str:
    return _SIGNALS.encode(signals if type(signals) is dict else dict(signals))


def _merge(connection: Connection, alias: str, into: str, now: datetime) -> None:
    connection.execute(
        sa.update(story_members).where(story_members.c.story_id == alias).values(story_id=into)
    )
    connection.execute(
        sa.update(story_aliases).where(story_aliases.c.story_id == alias).values(story_id=into)
    )
    connection.execute(sa.delete(story_aliases).where(story_aliases.c.alias == alias))
    connection.execute(sa.insert(story_aliases).values(alias=alias, story_id=into, merged_at=now))
    connection.execute(sa.delete(stories).where(stories.c.id == alias))


def _upsert_stories(connection: Connection, updates: Sequence[StoryUpdate], now: datetime) -> None:
    """Insert or replace the row of each story in ``updates``, in one statement.

    Each row's ``published`` is its representative's, read by the statement itself; a
    representative that is not stored leaves it NULL, which the column refuses (the save fails).
    """
    rows = [
        (u.id, u.representative_source, u.representative_id, u.members, u.founded) for u in updates
    ]
    columns = ("id", "rep_source_", "rep_article_id_", "members", "founded")
    stmt = _upsert_story(connection.dialect.name)
    execute_many(connection, stmt, columns, rows, {"changed_at": now})


@lru_cache(maxsize=4)  # an immutable statement per dialect
def _upsert_members(dialect: str) -> sa.Insert:
    """Insert a member row; an article that has one already gets the new values instead."""
    return upsert(dialect, story_members)


@lru_cache(maxsize=4)  # an immutable statement per dialect
def _upsert_story(dialect: str) -> sa.Insert:
    """Insert or replace a story row, its ``published`` read from its representative."""
    # Named apart from the columns: SQLAlchemy keeps a column's own name for its value.
    rep_source = sa.bindparam("rep_source_", type_=stories.c.rep_source.type)
    rep_id = sa.bindparam("rep_article_id_", type_=stories.c.rep_article_id.type)
    published = (
        sa.select(articles.c.published)
        .where(articles.c.source == rep_source, articles.c.id == rep_id)
        .scalar_subquery()
    )
    return upsert(
        dialect, stories, rep_source=rep_source, rep_article_id=rep_id, published=published
    )
