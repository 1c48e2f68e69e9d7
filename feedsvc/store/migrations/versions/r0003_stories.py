"""Stories: which article belongs to which story, story rows and merge aliases.

Revision ID: r0003
Revises: r0002
Create Date: 2026-11-21 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0003"
down_revision: str | None = "r0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A revision is a frozen snapshot: it spells its types out instead of importing
# feedsvc.store.schema, which will move on.
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create story_members, stories and story_aliases."""
    op.create_table(
        "story_members",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("article_id", sa.String(), nullable=False),
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched", sa.Text(), nullable=True),
        sa.Column("signals", sa.Text(), nullable=False),
        sa.Column("decided_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("source", "article_id", name="pk_story_members"),
        sa.ForeignKeyConstraint(
            ["source", "article_id"],
            ["articles.source", "articles.id"],
            name="fk_story_members_source_article_id_articles",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_story_members_story_id", "story_members", ["story_id"])
    op.create_table(
        "stories",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("rep_source", sa.String(), nullable=False),
        sa.Column("rep_article_id", sa.String(), nullable=False),
        sa.Column("published", Stamp, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("changed_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_published", "stories", ["published"])
    op.create_table(
        "story_aliases",
        sa.Column("alias", sa.String(), nullable=False),
        sa.Column("story_id", sa.String(), nullable=False),
        sa.Column("merged_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("alias", name="pk_story_aliases"),
    )


def downgrade() -> None:
    """Drop the story tables."""
    op.drop_table("story_aliases")
    op.drop_index("ix_stories_published", table_name="stories")
    op.drop_table("stories")
    op.drop_index("ix_story_members_story_id", table_name="story_members")
    op.drop_table("story_members")
