"""Fetch politeness: adopted URL, pending permanent redirect, 410 Gone, body hash.

Revision ID: r0002
Revises: r0001
Create Date: 2026-11-21 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0002"
down_revision: str | None = "r0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen snapshot: types are spelled out, not imported from feedsvc.store.schema.
Stamp = sa.DateTime(timezone=True)

COLUMNS = (
    ("adopted_url", sa.Text()),
    ("redirect_url", sa.Text()),
    ("redirect_since", Stamp),
    ("disabled_at", Stamp),
    ("disabled_reason", sa.Text()),
    ("body_hash", sa.String()),
)


def upgrade() -> None:
    """Add the nullable politeness columns to sources (existing rows get NULL)."""
    with op.batch_alter_table("sources") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    """Drop the columns the upgrade added, in place.

    Never by copying ``sources`` (batch mode's default on SQLite): with foreign
    keys on, dropping the old table fails while any article references it. SQLite
    drops a column in place since 3.35 (none of these is in an index or constraint).
    """
    with op.batch_alter_table("sources", recreate="never") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
