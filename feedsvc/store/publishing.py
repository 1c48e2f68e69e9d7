"""SQL for incremental publishing: marks of what changed since the last publish.

A mark names a source whose articles changed, a story whose shape changed or a
tag that an article gained or lost;
marks are written in the same transaction as the change, so a change and its
mark are stored together or not at all. The publisher reads the marks up to
the highest ``seq`` it saw, renders what they name, then deletes exactly those:
a mark made meanwhile, or left by a publish that was killed, is kept for the
next one. Every function takes a connection inside the caller's transaction.
It decides nothing about which feeds to render (see ``feedsvc.publishing``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from feedsvc.store.bulk import execute_many
from feedsvc.store.keys import key_chunks
from feedsvc.store.schema import article_tags, publish_marks, story_members
from feedsvc.types import PublishMarks

# What a mark names (the table's check constraint allows exactly these).
MarkKind = Literal["source", "story", "tag"]
_INSERT = sa.insert(publish_marks)


def mark(connection: Connection, kind: MarkKind, keys: Iterable[str]) -> None:
    """Record that the sources, stories or tags (as ``kind`` says) ``keys`` changed."""
    rows = [(key,) for key in sorted(set(keys))]
    execute_many(connection, _INSERT, ("key",), rows, {"kind": kind})


def mark_tags(connection: Connection, tags: Iterable[str]) -> None:
    """Record that stories came into or left the feeds of these tags (marks of kind "tag")."""
    mark(connection, "tag", tags)


def mark_stories_of(connection: Connection, source: str, article_ids: Sequence[str]) -> None:
    """Mark the stories that hold any of these articles of ``source`` (their text changed)."""
    stories: set[str] = set()
    for chunk in key_chunks(article_ids):
        stmt = sa.select(story_members.c.story_id).where(
            story_members.c.source == source, story_members.c.article_id.in_(chunk)
        )
        stories.update(connection.execute(stmt).scalars())
    mark(connection, "story", stories)


def pending(connection: Connection) -> PublishMarks:
    """Every source, story and tag marked so far, and the highest mark read."""
    rows = list(connection.execute(sa.select(publish_marks)))
    if not rows:
        return PublishMarks()
    return PublishMarks(
        upto=max(row.seq for row in rows),
        sources=frozenset(row.key for row in rows if row.kind == "source"),
        stories=frozenset(row.key for row in rows if row.kind == "story"),
        tags=frozenset(row.key for row in rows if row.kind == "tag"),
    )


def clear(connection: Connection, upto: int) -> None:
    """Delete the marks up to ``upto`` (a publish rendered what they named)."""
    connection.execute(sa.delete(publish_marks).where(publish_marks.c.seq <= upto))


def sources_of_stories(connection: Connection, story_ids: Sequence[str]) -> set[str]:
    """The sources of the members of these stories."""
    found: set[str] = set()
    for chunk in key_chunks(story_ids):
        stmt = (
            sa.select(story_members.c.source).distinct().where(story_members.c.story_id.in_(chunk))
        )
        found.update(connection.execute(stmt).scalars())
    return found


def tags_of_stories(connection: Connection, story_ids: Sequence[str]) -> set[str]:
    """The tags carried by any member of these stories."""
    tags: set[str] = set()
    for chunk in key_chunks(story_ids):
        stmt = (
            sa.select(article_tags.c.tag)
            .distinct()
            .join(
                story_members,
                sa.and_(
                    story_members.c.source == article_tags.c.source,
                    story_members.c.article_id == article_tags.c.article_id,
                ),
            )
            .where(story_members.c.story_id.in_(chunk))
        )
        tags.update(connection.execute(stmt).scalars())
    return tags
