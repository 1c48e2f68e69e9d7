"""Stories keep when the story engine founded them.

Revision ID: r0008
Revises: r0007
Create Date: 2026-11-28 05:30:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0008"
down_revision: str | None = "r0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A revision is a frozen snapshot: it spells its types out (see r0003).
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Add stories.founded (NULL before: a rebuild takes the first member it replays)."""
    with op.batch_alter_table("stories", recreate="never") as batch:
        batch.add_column(sa.Column("founded", Stamp, nullable=True))


def downgrade() -> None:
    """Drop the column, in place (never by copying the table; see r0007)."""
    with op.batch_alter_table("stories", recreate="never") as batch:
        batch.drop_column("founded")
