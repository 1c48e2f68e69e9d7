"""The database schema of feedsvc: every table, in one MetaData, plus two column types.

This module declares tables, indexes and the two portable column types the store
needs (aware-UTC timestamps and JSON string lists). It runs no SQL: a new
database is created from it (``migrate.create_at_head``) and an older one is
brought up to it by the Alembic revisions under ``migrations/``; tests check
that both build the same schema.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware UTC.

    Naive datetimes are refused on the way in: a naive value has no meaning
    here, and SQLite would silently keep it as whatever local time it was.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Check that ``value`` is aware and convert it to UTC."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; the store needs aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive; convert what PostgreSQL returns."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class StrTuple(sa.TypeDecorator[tuple[str, ...]]):
    """A tuple of strings stored as a JSON array in a text column."""

    impl = sa.Text()
    cache_ok = True

    def process_bind_param(self, value: tuple[str, ...] | None, dialect: Dialect) -> str | None:
        """Encode the tuple as a JSON array."""
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> tuple[str, ...] | None:
        """Decode the JSON array back into a tuple."""
        if value is None:
            return None
        return tuple(str(item) for item in json.loads(value))


# name, title, kind, location, enabled and removed_at are the configuration's:
# only ``sources.sync`` writes them, and it stores their digest beside them
# (``idle.sources_digest``, what a cron run's idle check compares; a test checks
# that fetches of every outcome leave them alone).
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("location", sa.Text(), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("removed_at", UTCDateTime(), nullable=True),
    sa.Column("etag", sa.Text(), nullable=True),
    sa.Column("last_modified", sa.Text(), nullable=True),
    sa.Column("last_fetch", UTCDateTime(), nullable=True),
    sa.Column("last_status", sa.String(16), nullable=True),
    sa.Column("http_status", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_fetch_after", UTCDateTime(), nullable=True),
    # r0002: politeness. The URL adopted after a stable permanent redirect, the
    # permanent redirect still on trial and since when, 410 Gone, the last body's hash.
    sa.Column("adopted_url", sa.Text(), nullable=True),
    sa.Column("redirect_url", sa.Text(), nullable=True),
    sa.Column("redirect_since", UTCDateTime(), nullable=True),
    sa.Column("disabled_at", UTCDateTime(), nullable=True),
    sa.Column("disabled_reason", sa.Text(), nullable=True),
    sa.Column("body_hash", sa.String(), nullable=True),
    # r0006: the worker that has taken the source to fetch it, and until when (a
    # lease that lapses if the worker dies); both NULL when no one holds it.
    sa.Column("lease_owner", sa.String(), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    # r0007: the articles of the last body stored, as JSON: each id and the key of
    # its stored analysis (``stories.stored``), so the next body analyses only
    # what is new or changed.
    sa.Column("body_entries", sa.Text(), nullable=True),
    # The revisions passed these names through the naming convention again, so the
    # databases they built have ck_sources_ck_sources_kind and so on: the names here
    # make the same, for a new database is created from this module.
    sa.CheckConstraint("kind IN ('feed', 'page', 'file')", name="ck_sources_kind"),
    sa.CheckConstraint(
        "last_status IS NULL OR last_status IN ('ok', 'not-modified', 'error')",
        name="ck_sources_last_status",
    ),
    sa.CheckConstraint("failures >= 0", name="ck_sources_failures"),
)
sa.Index("ix_sources_next_fetch_after", sources.c.next_fetch_after)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("source", sa.String(), sa.ForeignKey("sources.name"), primary_key=True),
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("url", sa.Text(), nullable=True),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
    sa.Column("content_html", sa.Text(), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("published", UTCDateTime(), nullable=False),
    sa.Column("updated", UTCDateTime(), nullable=True),
    sa.Column("date_estimated", sa.Boolean(), nullable=False),
    sa.Column("content_hash", sa.String(), nullable=False),
    sa.Column("authors", StrTuple(), nullable=False),
    sa.Column("language", sa.Text(), nullable=True),
    sa.Column("categories", StrTuple(), nullable=False),
    sa.Column("dateline", sa.Text(), nullable=True),
    sa.Column("first_seen", UTCDateTime(), nullable=False),
    sa.Column("last_seen", UTCDateTime(), nullable=False),
    # r0007: the story engine's analysis of title and text (``stories.stored``),
    # written with the article; NULL for articles stored before (analysed when read).
    # Only grouping reads it (``ARTICLE_COLUMNS`` leave it out).
    sa.Column("features", sa.Text(), nullable=True),
)
sa.Index("ix_articles_published", articles.c.published)
sa.Index("ix_articles_source_published", articles.c.source, articles.c.published)
sa.Index("ix_articles_content_hash", articles.c.content_hash)
sa.Index("ix_articles_url", articles.c.url)

# What every reader of whole articles selects: all but the analysis, which only
# grouping needs (about as many bytes as the text).
ARTICLE_COLUMNS = tuple(c for c in articles.c if c.name != "features")
# What every reader of source states selects: all but the last body's entries,
# which only the next extraction of that source reads.
SOURCE_COLUMNS = tuple(c for c in sources.c if c.name != "body_entries")

article_tags = sa.Table(
    "article_tags",
    metadata,
    sa.Column("source", sa.String(), primary_key=True),
    sa.Column("article_id", sa.String(), primary_key=True),
    sa.Column("tag", sa.String(), primary_key=True),
    # r0005: where the tag came from, as "source:<name>", "rule:<what matched>" or
    # "category:<the feed's category>", one string per origin.
    sa.Column("via", StrTuple(), nullable=False, server_default="[]"),
    sa.ForeignKeyConstraint(
        ["source", "article_id"],
        ["articles.source", "articles.id"],
        ondelete="CASCADE",
    ),
)
sa.Index(
    "ix_article_tags_tag", article_tags.c.tag, article_tags.c.source, article_tags.c.article_id
)

# --------------------------------------------------------------------------- stories (r0003)

story_members = sa.Table(
    "story_members",
    metadata,
    sa.Column("source", sa.String(), primary_key=True),
    sa.Column("article_id", sa.String(), primary_key=True),
    sa.Column("story_id", sa.String(), nullable=False),
    sa.Column("layer", sa.String(16), nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("matched", sa.Text(), nullable=True),
    sa.Column("signals", sa.Text(), nullable=False),
    sa.Column("decided_at", UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(
        ["source", "article_id"],
        ["articles.source", "articles.id"],
        ondelete="CASCADE",
    ),
)
sa.Index("ix_story_members_story_id", story_members.c.story_id)

MEMBER_OF_ARTICLE = sa.and_(
    story_members.c.source == articles.c.source,
    story_members.c.article_id == articles.c.id,
)
"""The join of a story membership with its article."""

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("rep_source", sa.String(), nullable=False),
    sa.Column("rep_article_id", sa.String(), nullable=False),
    sa.Column("published", UTCDateTime(), nullable=False),
    sa.Column("members", sa.Integer(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    # r0008: when the story engine founded the story (made its record, with its
    # first member); of two merged stories the one founded first keeps its id,
    # and an engine rebuilt from part of the archive is told it. NULL before.
    sa.Column("founded", UTCDateTime(), nullable=True),
)
sa.Index("ix_stories_published", stories.c.published)

story_aliases = sa.Table(
    "story_aliases",
    metadata,
    sa.Column("alias", sa.String(), primary_key=True),
    sa.Column("story_id", sa.String(), nullable=False),
    sa.Column("merged_at", UTCDateTime(), nullable=False),
)

# --------------------------------------------------------------------------- publishing (r0004)

# What changed since the last publish: one row per changed source, story or tag
# (kind 'tag' since r0009), written in the transaction that changed it, deleted
# by the publish that rendered it (up to the highest seq it read), so a killed
# publish loses nothing.
publish_marks = sa.Table(
    "publish_marks",
    metadata,
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("key", sa.Text(), nullable=False),
    sa.CheckConstraint(  # named as above
        "kind IN ('source', 'story', 'tag')", name="ck_publish_marks_kind"
    ),
)

# The service's own facts by key (the last publish's output fingerprint, the story
# snapshot's token), each written in the transaction whose result it describes.
service_state = sa.Table(
    "service_state",
    metadata,
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

# --------------------------------------------------------------------------- workers (r0006)

# Every ``feedsvc worker`` process: who it is, when it last reported, what it has done.
# A worker whose ``seen_at`` is old is gone (its leases lapse on their own).
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("host", sa.Text(), nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("seen_at", UTCDateTime(), nullable=False),
    sa.Column("stopped_at", UTCDateTime(), nullable=True),
    sa.Column("publisher", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("fetches", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("articles", sa.Integer(), nullable=False, server_default="0"),
)
