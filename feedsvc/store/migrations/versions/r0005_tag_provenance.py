"""Tag provenance: where each tag of an article came from.

Revision ID: r0005
Revises: r0004
Create Date: 2026-12-02 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0005"
down_revision: str | None = "r0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add article_tags.via; the tags stored so far all came from their source's tags."""
    with op.batch_alter_table("article_tags") as batch:
        batch.add_column(sa.Column("via", sa.Text(), nullable=False, server_default="[]"))
    op.execute("UPDATE article_tags SET via = '[\"source:' || source || '\"]'")


def downgrade() -> None:
    """Drop article_tags.via."""
    with op.batch_alter_table("article_tags") as batch:
        batch.drop_column("via")
