"""Articles keep the story engine's analysis of their text.

Revision ID: r0007
Revises: r0006
Create Date: 2026-12-16 00:00:00+00:00
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
    """Add articles.features (NULL for the articles stored before: analysed when read)."""
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.add_column(sa.Column("features", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop articles.features, in place.

    Never by copying the table (batch mode's default on SQLite): dropping the
    old ``articles`` with foreign keys on would cascade to every tag and story
    membership. SQLite drops a column in place since 3.35.
    """
    with op.batch_alter_table("articles", recreate="never") as batch:
        batch.drop_column("features")
