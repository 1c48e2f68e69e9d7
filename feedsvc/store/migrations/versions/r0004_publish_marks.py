"""Incremental publishing: what changed since the last publish, and what it was made from.

Revision ID: r0004
Revises: r0003
Create Date: 2026-11-27 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0004"
down_revision: str | None = "r0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create publish_marks and service_state."""
    op.create_table(
        "publish_marks",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_publish_marks"),
        sa.CheckConstraint("kind IN ('source', 'story')", name="ck_publish_marks_kind"),
    )
    op.create_table(
        "service_state",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_service_state"),
    )


def downgrade() -> None:
    """Drop the publishing tables."""
    op.drop_table("service_state")
    op.drop_table("publish_marks")
