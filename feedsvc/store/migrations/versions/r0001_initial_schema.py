"""Initial schema: sources, articles, article_tags.

Revision ID: r0001
Revises:
Create Date: 2025-01-01 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A revision is a frozen snapshot: it spells its types out instead of importing
# feedsvc.store.schema, which will move on.
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the three tables and their indexes."""
    _create_sources()
    _create_articles()
    _create_article_tags()


def downgrade() -> None:
    """Drop everything the upgrade created."""
    op.drop_table("article_tags")
    op.drop_table("articles")
    op.drop_table("sources")


def _create_sources() -> None:
    op.create_table(
        "sources",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("added_at", Stamp, nullable=False),
        sa.Column("removed_at", Stamp, nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("last_fetch", Stamp, nullable=True),
        sa.Column("last_status", sa.String(16), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_fetch_after", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_sources"),
        sa.CheckConstraint("kind IN ('feed', 'page', 'file')", name="ck_sources_kind"),
        sa.CheckConstraint(
            "last_status IS NULL OR last_status IN ('ok', 'not-modified', 'error')",
            name="ck_sources_last_status",
        ),
        sa.CheckConstraint("failures >= 0", name="ck_sources_failures"),
    )
    op.create_index("ix_sources_next_fetch_after", "sources", ["next_fetch_after"])


def _create_articles() -> None:
    op.create_table(
        "articles",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("published", Stamp, nullable=False),
        sa.Column("updated", Stamp, nullable=True),
        sa.Column("date_estimated", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("authors", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("dateline", sa.Text(), nullable=True),
        sa.Column("first_seen", Stamp, nullable=False),
        sa.Column("last_seen", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("source", "id", name="pk_articles"),
        sa.ForeignKeyConstraint(
            ["source"], ["sources.name"], name="fk_articles_source_sources"
        ),
    )
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_index("ix_articles_source_published", "articles", ["source", "published"])
    op.create_index("ix_articles_content_hash", "articles", ["content_hash"])
    op.create_index("ix_articles_url", "articles", ["url"])


def _create_article_tags() -> None:
    op.create_table(
        "article_tags",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("article_id", sa.String(), nullable=False),
        sa.Column("tag", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("source", "article_id", "tag", name="pk_article_tags"),
        sa.ForeignKeyConstraint(
            ["source", "article_id"],
            ["articles.source", "articles.id"],
            name="fk_article_tags_source_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_article_tags_tag", "article_tags", ["tag", "source", "article_id"]
    )
