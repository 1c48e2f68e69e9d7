"""SQL for reading stories back: their members, views, ids, aliases, and decisions.

For publishing and the commands. ``story_members.story_id`` always holds the
current id; a merged-away id lives on only in ``story_aliases``. What the
story round reads and saves is ``store.story_round``; grouping is
``feedsvc.stories``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from feedsvc.store.articles import untagged, with_tags
from feedsvc.store.schema import (
    ARTICLE_COLUMNS,
    MEMBER_OF_ARTICLE,
    article_tags,
    articles,
    sources,
    stories,
    story_aliases,
    story_members,
)
from feedsvc.store.story_round import Key
from feedsvc.types import Article, StoredDecision, StoryView


def recent(
    connection: Connection, limit: int, *, tag: str | None = None, others: int | None = None
) -> list[StoryView]:
    """The newest stories (by their representative's date), newest first.

    With ``others`` set, each view holds the representative and the first
    report of each other outlet, at most ``others`` of them, whatever the size
    of the story; otherwise every member.
    """
    stmt = sa.select(stories).order_by(stories.c.published.desc(), stories.c.id).limit(limit)
    # Only stories with a member of a configured source, chosen before the limit:
    # those of removed outlets alone would take places and then be dropped.
    stmt = stmt.where(_has_member_tagged(tag) if tag is not None else _has_configured_member())
    rows = list(connection.execute(stmt))
    ids = [row.id for row in rows]
    shapes = _shapes(connection, ids)
    if others is None:
        members = _members(connection, ids)
    else:
        members = _bounded_members(connection, rows, others)
    views = (_view(row, members.get(row.id, []), shapes.get(row.id)) for row in rows)
    return [view for view in views if view is not None]


def _configured_members(story_ids: Sequence[str]) -> sa.Select[Any]:
    return (
        sa.select(story_members.c.story_id, articles.c.source, articles.c.id, articles.c.published)
        .join(articles, MEMBER_OF_ARTICLE)
        .join(sources, sources.c.name == articles.c.source)
        .where(story_members.c.story_id.in_(story_ids), sources.c.removed_at.is_(None))
    )


def _shapes(connection: Connection, story_ids: Sequence[str]) -> dict[str, tuple[int, int, Any]]:
    """Per story: its members, its outlets and its latest member date (configured sources)."""
    shapes: dict[str, tuple[int, int, Any]] = {}
    for chunk in _chunks(story_ids, 500):
        stmt = (
            sa.select(
                story_members.c.story_id,
                sa.func.count(),
                sa.func.count(sa.distinct(articles.c.source)),
                sa.func.max(sa.func.coalesce(articles.c.updated, articles.c.published)),
            )
            .join(articles, MEMBER_OF_ARTICLE)
            .join(sources, sources.c.name == articles.c.source)
            .where(story_members.c.story_id.in_(chunk), sources.c.removed_at.is_(None))
            .group_by(story_members.c.story_id)
        )
        for story, members, outlets, updated in connection.execute(stmt):
            shapes[story] = (members, outlets, updated)
    return shapes


def _bounded_members(
    connection: Connection, rows: Sequence[Row[Any]], others: int
) -> dict[str, list[Article]]:
    """Per story: the representative, then the first report of up to ``others`` other outlets.

    A representative whose outlet is no longer configured is not read: the
    story's first report from a configured outlet stands in, as with every member.
    """
    picked: dict[str, list[Key]] = defaultdict(list)
    for chunk in _chunks([row.id for row in rows], 500):
        for story_id, source, article_id in connection.execute(_first_per_outlet(chunk, others)):
            picked[story_id].append((source, article_id))
    wanted = {key for keys in picked.values() for key in keys}
    configured = _configured_sources(connection, {row.rep_source for row in rows})
    wanted |= {
        (row.rep_source, row.rep_article_id)
        for row in rows
        if row.id in picked and row.rep_source in configured
    }
    loaded = _articles_by_key(connection, wanted)
    grouped: dict[str, list[Article]] = {}
    for row in rows:
        keys = picked.get(row.id)
        if not keys:
            continue
        rep_key = (row.rep_source, row.rep_article_id)
        rep = loaded[rep_key] if rep_key in loaded else loaded[keys[0]]
        rest = [loaded[k] for k in keys if loaded[k].source != rep.source]
        grouped[row.id] = [rep, *rest[:others]]
    return grouped


def _configured_sources(connection: Connection, names: set[str]) -> set[str]:
    """Those of ``names`` that are configured sources (not removed from the configuration)."""
    stmt = sa.select(sources.c.name).where(
        sources.c.name.in_(sorted(names)), sources.c.removed_at.is_(None)
    )
    return set(connection.execute(stmt).scalars())


def _first_per_outlet(story_ids: Sequence[str], others: int) -> sa.Select[Any]:
    """(story, source, id) of the first report of each outlet, the first ``others + 1`` per story.

    One more than asked, because the representative's outlet may be among them.
    """
    nth = sa.func.row_number().over(
        partition_by=(story_members.c.story_id, articles.c.source),
        order_by=(articles.c.published, articles.c.id),
    )
    firsts = _configured_members(story_ids).add_columns(nth.label("nth")).subquery()
    rank = sa.func.row_number().over(
        partition_by=firsts.c.story_id,
        order_by=(firsts.c.published, firsts.c.source, firsts.c.id),
    )
    ranked = (
        sa.select(firsts.c.story_id, firsts.c.source, firsts.c.id, rank.label("rank"))
        .where(firsts.c.nth == 1)
        .subquery()
    )
    return (
        sa.select(ranked.c.story_id, ranked.c.source, ranked.c.id)
        .where(ranked.c.rank <= others + 1)
        .order_by(ranked.c.story_id, ranked.c.rank)
    )


def _articles_by_key(connection: Connection, keys: set[Key]) -> dict[Key, Article]:
    """The articles with these (source, id) keys, with their tags."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, article_id in sorted(keys):
        by_source[source].append(article_id)
    found: dict[Key, Article] = {}
    for source, ids in by_source.items():
        for chunk in _chunks(ids, 500):
            stmt = sa.select(*ARTICLE_COLUMNS).where(
                articles.c.source == source, articles.c.id.in_(chunk)
            )
            for article in with_tags(connection, list(connection.execute(stmt))):
                found[(article.source, article.id)] = article
    return found


def _has_configured_member() -> sa.Exists:
    return sa.exists().where(
        story_members.c.story_id == stories.c.id,
        sources.c.name == story_members.c.source,
        sources.c.removed_at.is_(None),
    )


def _has_member_tagged(tag: str) -> sa.Exists:
    return sa.exists().where(
        story_members.c.story_id == stories.c.id,
        article_tags.c.source == story_members.c.source,
        article_tags.c.article_id == story_members.c.article_id,
        article_tags.c.tag == tag,
        sources.c.name == story_members.c.source,
        sources.c.removed_at.is_(None),
    )


def _members(
    connection: Connection, story_ids: Sequence[str], *, tags: bool = True
) -> dict[str, list[Article]]:
    grouped: dict[str, list[Article]] = defaultdict(list)
    for chunk in _chunks(story_ids, 500):
        stmt = (
            sa.select(*ARTICLE_COLUMNS, story_members.c.story_id.label("story_id"))
            .join(story_members, MEMBER_OF_ARTICLE)
            .join(sources, sources.c.name == articles.c.source)
            .where(story_members.c.story_id.in_(chunk), sources.c.removed_at.is_(None))
            .order_by(articles.c.published, articles.c.source, articles.c.id)
        )
        rows: list[Row[Any]] = list(connection.execute(stmt))
        read = with_tags(connection, rows) if tags else untagged(rows)
        for row, article in zip(rows, read, strict=True):
            grouped[row.story_id].append(article)
    return grouped


def _view(
    row: Row[Any], members: list[Article], shape: tuple[int, int, Any] | None
) -> StoryView | None:
    if not members or shape is None:
        return None
    key = (row.rep_source, row.rep_article_id)
    rep = next((a for a in members if (a.source, a.id) == key), members[0])
    others = tuple(a for a in members if a is not rep)
    count, outlets, updated = shape
    return StoryView(row.id, rep, others, count, outlets, updated)


def count(connection: Connection) -> int:
    """How many stories there are."""
    return int(connection.execute(sa.select(sa.func.count()).select_from(stories)).scalar_one())


def members_of(connection: Connection, story_id: str) -> list[Article]:
    """The articles of one story (by its current id), oldest first."""
    return _members(connection, [story_id]).get(story_id, [])


def story_of(connection: Connection, source: str, article_id: str) -> str | None:
    """The current story id of one article, if it has one."""
    stmt = sa.select(story_members.c.story_id).where(
        story_members.c.source == source, story_members.c.article_id == article_id
    )
    return connection.execute(stmt).scalar_one_or_none()


def decision_of(connection: Connection, source: str, article_id: str) -> StoredDecision | None:
    """How one article was placed (layer, score, the article matched, when), if it was."""
    m = story_members.c
    stmt = sa.select(m.story_id, m.layer, m.score, m.matched, m.decided_at).where(
        m.source == source, m.article_id == article_id
    )
    row = connection.execute(stmt).first()
    return StoredDecision(*row) if row is not None else None


def ids(connection: Connection, *, min_outlets: int = 0) -> list[str]:
    """Every story id, sorted; with ``min_outlets``, those with that many configured outlets."""
    if min_outlets <= 0:
        return list(connection.execute(sa.select(stories.c.id).order_by(stories.c.id)).scalars())
    outlets = sa.func.count(sa.distinct(articles.c.source))
    stmt = (
        sa.select(story_members.c.story_id)
        .join(articles, MEMBER_OF_ARTICLE)
        .join(sources, sources.c.name == articles.c.source)
        .where(sources.c.removed_at.is_(None))
        .group_by(story_members.c.story_id)
        .having(outlets >= min_outlets)
        .order_by(story_members.c.story_id)
    )
    return list(connection.execute(stmt).scalars())


def views_by_id(
    connection: Connection, story_ids: Sequence[str], *, tags: bool = True
) -> list[StoryView]:
    """The stories with these ids, each with every member (of configured sources), by id.

    Stories that are unknown or have no member left are not returned. Without
    ``tags`` the members' tags are not read (their ``tags`` are empty).
    """
    rows = []
    for chunk in _chunks(sorted(set(story_ids)), 500):
        rows += list(connection.execute(sa.select(stories).where(stories.c.id.in_(chunk))))
    found = [row.id for row in rows]
    shapes = _shapes(connection, found)
    members = _members(connection, found, tags=tags)
    views = (_view(row, members.get(row.id, []), shapes.get(row.id)) for row in rows)
    return sorted((view for view in views if view is not None), key=lambda v: v.id)


def joined_at(connection: Connection, story_ids: Sequence[str]) -> dict[Key, datetime]:
    """When each member of these stories was assigned to its story."""
    joined: dict[Key, datetime] = {}
    for chunk in _chunks(sorted(set(story_ids)), 500):
        stmt = sa.select(
            story_members.c.source, story_members.c.article_id, story_members.c.decided_at
        ).where(story_members.c.story_id.in_(chunk))
        joined.update({(r.source, r.article_id): r.decided_at for r in connection.execute(stmt)})
    return joined


def aliases_into(connection: Connection, story_ids: Sequence[str]) -> dict[str, str]:
    """Every merged-away story id that these stories absorbed, and the id that absorbed it."""
    found: dict[str, str] = {}
    for chunk in _chunks(sorted(set(story_ids)), 500):
        stmt = sa.select(story_aliases.c.alias, story_aliases.c.story_id).where(
            story_aliases.c.story_id.in_(chunk)
        )
        found.update({row.alias: row.story_id for row in connection.execute(stmt)})
    return found


def stories_of_articles(
    connection: Connection, keys: Sequence[Key], known: Mapping[str, int] | None = None
) -> dict[Key, tuple[str, int]]:
    """The story of each of these articles that has one, and how many outlets that story has.

    ``known`` holds outlet counts the caller read moments ago (an earlier
    chunk of the same publish); those stories are not counted again.
    """
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, article_id in keys:
        by_source[source].append(article_id)
    story_of_key: dict[Key, str] = {}
    for source, article_ids in sorted(by_source.items()):
        for chunk in _chunks(article_ids, 500):
            stmt = sa.select(story_members.c.article_id, story_members.c.story_id).where(
                story_members.c.source == source, story_members.c.article_id.in_(chunk)
            )
            for row in connection.execute(stmt):
                story_of_key[(source, row.article_id)] = row.story_id
    known = known or {}
    wanted = sorted(set(story_of_key.values()) - known.keys())
    counted = {story: shape[1] for story, shape in _shapes(connection, wanted).items()}
    found: dict[Key, tuple[str, int]] = {}
    for key, story in story_of_key.items():
        outlets = counted.get(story, known.get(story))
        if outlets is not None:
            found[key] = (story, outlets)
    return found


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
