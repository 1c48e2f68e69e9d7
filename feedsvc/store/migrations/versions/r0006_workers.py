"""Workers on many hosts: source leases and the workers table.

Revision ID: r0006
Revises: r0005
Create Date: 2026-12-09 00:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0006"
down_revision: str | None = "r0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen snapshot: types are spelled out, not imported from feedsvc.store.schema.
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add sources.lease_owner and lease_until; create workers."""
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(), nullable=True))
        batch.add_column(sa.Column("lease_until", Stamp, nullable=True))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("seen_at", Stamp, nullable=False),
        sa.Column("stopped_at", Stamp, nullable=True),
        sa.Column("publisher", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("fetches", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("articles", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )


def downgrade() -> None:
    """Drop workers and the lease columns, in place.

    Never by copying ``sources`` (batch mode's default on SQLite): with foreign
    keys on, dropping the old table fails while any article references it. SQLite
    drops a column in place since 3.35 (neither column is in an index or constraint).
    """
    op.drop_table("workers")
    with op.batch_alter_table("sources", recreate="never") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
