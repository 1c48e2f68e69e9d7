"""SQL for article tags and their provenance, tag counts, story tags, and re-tagging.

An article's tags are rows of ``article_tags``, one per tag, each with the
list of its origins (``via``: ``"source:<name>"``, ``"rule:<what matched>"``,
``"category:<category>"``). A story's tags are the union of its members'.
Re-tagging reads stored articles in key order, chunk by chunk, and rewrites the
tags of those whose tags changed, marking their sources and stories for the
next publish in the same transaction. Every function takes a connection inside
the caller's transaction. Deciding tags is ``feedsvc.tags``; this only stores.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from feedsvc.store import publishing
from feedsvc.store.keys import key_chunks, pair_chunks, pair_in
from feedsvc.store.schema import article_tags, articles, sources, story_members
from feedsvc.types import Article, TagOrigin, TagOriginKind

CHUNK = 500  # articles re-tagged per page
_NO_DATE = datetime(1970, 1, 1, tzinfo=UTC)  # re-tagging reads no dates
ORIGIN_KINDS: tuple[TagOriginKind, ...] = ("source", "rule", "category")
Tagged = tuple[tuple[str, ...], tuple[TagOrigin, ...]]
K = TypeVar("K")
_KEY: dict[str, sa.BindParameter[Any]] = {
    "k_source": sa.bindparam("k_source"),
    "k_id": sa.bindparam("k_id"),
}


def encode(origins: Iterable[TagOrigin]) -> tuple[str, ...]:
    """The stored ``via`` of one tag's origins."""
    return tuple(sorted(f"{origin.kind}:{origin.detail}" for origin in origins))


def decode(tag: str, via: Iterable[str]) -> list[TagOrigin]:
    """The origins of ``tag`` from its stored ``via`` (unknown kinds are skipped)."""
    found = []
    for item in via:
        kind, _, detail = item.partition(":")
        for known in ORIGIN_KINDS:
            if kind == known:
                found.append(TagOrigin(tag, known, detail))
    return found


def load_keys(
    connection: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Tagged]:
    """The tags and tag origins of these articles, by (source, id): one query per 500."""
    found: _Collected[tuple[str, str]] = _Collected()
    for pairs in pair_chunks(keys):
        key, values = pair_in(article_tags.c.source, article_tags.c.article_id, pairs)
        stmt = (
            sa.select(article_tags.c.source, article_tags.c.article_id, article_tags.c.tag,
                      article_tags.c.via)
            .where(key)
            .order_by(article_tags.c.source, article_tags.c.article_id, article_tags.c.tag)
        )  # fmt: skip
        for source, article_id, tag, via in connection.execute(stmt, values):
            found.add((source, article_id), tag, via)
    return found.tagged()


def load(connection: Connection, source: str, ids: Sequence[str]) -> dict[str, Tagged]:
    """The tags and tag origins of these articles of ``source``, by article id.

    One source's articles are matched with ``id IN (...)``: one statement shape
    whatever their count, where ``load_keys`` builds one per count.
    """
    found: _Collected[str] = _Collected()
    for chunk in key_chunks(ids):
        stmt = (
            sa.select(article_tags.c.article_id, article_tags.c.tag, article_tags.c.via)
            .where(article_tags.c.source == source, article_tags.c.article_id.in_(chunk))
            .order_by(article_tags.c.article_id, article_tags.c.tag)
        )
        for article_id, tag, via in connection.execute(stmt):
            found.add(article_id, tag, via)
    return found.tagged()


class _Collected(Generic[K]):
    """Tag rows gathered per article, in the order read (tags sorted by the query)."""

    def __init__(self) -> None:
        self._tags: dict[K, list[str]] = defaultdict(list)
        self._origins: dict[K, list[TagOrigin]] = defaultdict(list)

    def add(self, key: K, tag: str, via: Iterable[str]) -> None:
        """Record one row: ``tag`` on the article ``key``, given by ``via``."""
        self._tags[key].append(tag)
        self._origins[key].extend(decode(tag, via))

    def tagged(self) -> dict[K, Tagged]:
        """Each article's tags and their sorted origins."""
        return {k: (tuple(self._tags[k]), tuple(sorted(self._origins[k]))) for k in self._tags}


def rows(article: Article) -> list[dict[str, Any]]:
    """The ``article_tags`` rows of one article."""
    return [
        {
            "source": article.source,
            "article_id": article.id,
            "tag": tag,
            "via": encode(o for o in article.tag_origins if o.tag == tag),
        }
        for tag in article.tags
    ]


def replace_tags(
    connection: Connection, changed: Sequence[Article], new: Sequence[Article]
) -> None:
    """Write the tags of new articles and replace those of changed ones."""
    if changed:
        stmt = sa.delete(article_tags).where(
            article_tags.c.source == _KEY["k_source"], article_tags.c.article_id == _KEY["k_id"]
        )
        connection.execute(stmt, [{"k_source": a.source, "k_id": a.id} for a in changed])
    values = [row for article in [*new, *changed] for row in rows(article)]
    if values:
        connection.execute(sa.insert(article_tags), values)


# --------------------------------------------------------------------------- re-tagging

TAGGING_COLUMNS = (
    articles.c.source,
    articles.c.id,
    articles.c.title,
    articles.c.text,
    articles.c.dateline,
    articles.c.categories,
    articles.c.language,
)


def tagging_chunk(
    connection: Connection, after: tuple[str, str] | None, limit: int = CHUNK
) -> list[Article]:
    """Up to ``limit`` stored articles after the key ``after``, with the fields rules read.

    The articles carry their stored tags and origins; other text fields are empty.
    """
    stmt = sa.select(*TAGGING_COLUMNS).order_by(articles.c.source, articles.c.id).limit(limit)
    if after is not None:
        stmt = stmt.where(sa.tuple_(articles.c.source, articles.c.id) > sa.tuple_(*after))
    found = list(connection.execute(stmt))
    by_source: dict[str, list[str]] = defaultdict(list)
    for row in found:
        by_source[row.source].append(row.id)
    stored = {source: load(connection, source, ids) for source, ids in by_source.items()}
    return [_partial(row, stored[row.source].get(row.id, ((), ()))) for row in found]


def _partial(row: Row[Any, Any, Any, Any, Any, Any, Any], tagged: Tagged) -> Article:
    return Article(
        source=row.source,
        id=row.id,
        url=None,
        title=row.title,
        summary="",
        content_html="",
        text=row.text,
        published=_NO_DATE,
        updated=None,
        date_estimated=False,
        content_hash="",
        language=row.language,
        categories=row.categories,
        dateline=row.dateline,
        tags=tagged[0],
        tag_origins=tagged[1],
    )


def save_retagged(connection: Connection, changed: Sequence[Article]) -> None:
    """Replace the tags of re-tagged articles; mark their sources and stories for publishing."""
    if not changed:
        return
    replace_tags(connection, changed, ())
    publishing.mark(connection, "source", {article.source for article in changed})
    by_source: dict[str, list[str]] = defaultdict(list)
    for article in changed:
        by_source[article.source].append(article.id)
    for source, ids in sorted(by_source.items()):
        publishing.mark_stories_of(connection, source, ids)


# --------------------------------------------------------------------------- reading


def counts(connection: Connection) -> dict[str, int]:
    """How many articles of configured sources carry each tag."""
    stmt = (
        sa.select(article_tags.c.tag, sa.func.count())
        .join(sources, sources.c.name == article_tags.c.source)
        .where(sources.c.removed_at.is_(None))
        .group_by(article_tags.c.tag)
        .order_by(article_tags.c.tag)
    )
    return {tag: int(count) for tag, count in connection.execute(stmt)}


def story_tags(connection: Connection, story_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The tags of each story: every tag its members of configured sources carry, sorted."""
    found: dict[str, set[str]] = defaultdict(set)
    for chunk in key_chunks(story_ids):
        stmt = (
            sa.select(story_members.c.story_id, article_tags.c.tag)
            .distinct()
            .join(
                article_tags,
                sa.and_(
                    story_members.c.source == article_tags.c.source,
                    story_members.c.article_id == article_tags.c.article_id,
                ),
            )
            .join(sources, sources.c.name == story_members.c.source)
            .where(
                story_members.c.story_id.in_(chunk),
                sources.c.removed_at.is_(None),
            )
        )
        for story_id, tag in connection.execute(stmt):
            found[story_id].add(tag)
    return {story_id: tuple(sorted(tags)) for story_id, tags in found.items()}
