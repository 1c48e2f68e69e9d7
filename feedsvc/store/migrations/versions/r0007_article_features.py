"""Articles keep the story engine's analysis of their text; sources, their last body's.

Revision ID: r0007
Revises: r0006
Create Date: 2026-11-28 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0007"
down_revision: str | None = "r0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add articles.features and sources.body_entries (NULL before: analysed when read)."""
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.add_column(sa.Column("features", sa.Text(), nullable=True))
    with op.batch_alter_table("sources", recreate="never") as batch:
        batch.add_column(sa.Column("body_entries", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop both columns, in place.

    Never by copying a table (batch mode's default on SQLite): dropping the old
    ``articles`` or ``sources`` with foreign keys on would cascade to every tag,
    story membership or article. SQLite drops a column in place since 3.35.
    """
    with op.batch_alter_table("sources", recreate="never") as batch:
        batch.drop_column("body_entries")
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.drop_column("features")
