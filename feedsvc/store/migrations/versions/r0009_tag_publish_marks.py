"""Publish marks of tags are their own kind, no longer source marks keyed ``tag:<slug>``.

Revision ID: r0009
Revises: r0008
Create Date: 2026-11-29 04:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "r0009"
down_revision: str | None = "r0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The constraint's name as r0004 made it: the naming convention prefixed it once
# more (see schema.py); given through ``op.f``, it is not prefixed again.
CHECK = "ck_publish_marks_ck_publish_marks_kind"
KINDS = "kind IN ('source', 'story', 'tag')"
KINDS_BEFORE = "kind IN ('source', 'story')"
# How r0004 to r0008 stored a tag's mark: a source mark keyed "tag:<slug>".
PREFIX = "tag:"

# A frozen snapshot of the table's columns this revision reads and writes.
marks = sa.table("publish_marks", sa.column("kind", sa.String()), sa.column("key", sa.Text()))


def upgrade() -> None:
    """Allow kind 'tag', then turn the ``tag:<slug>`` source marks into tag marks."""
    _set_kinds(KINDS)
    op.execute(
        marks.update()
        .where(marks.c.kind == "source", marks.c.key.startswith(PREFIX, autoescape=True))
        .values(kind="tag", key=sa.func.substr(marks.c.key, len(PREFIX) + 1))
    )


def downgrade() -> None:
    """Turn tag marks back into source marks keyed ``tag:<slug>``, then refuse kind 'tag'."""
    op.execute(
        marks.update()
        .where(marks.c.kind == "tag")
        .values(kind="source", key=sa.literal(PREFIX, sa.Text()) + marks.c.key)
    )
    _set_kinds(KINDS_BEFORE)


def _set_kinds(condition: str) -> None:
    """Replace the check on ``kind``: on SQLite by copying the table, on PostgreSQL in place.

    Copying is safe here: no table references publish_marks, and the copy keeps
    every row's ``seq``, so marks made after it still sort after the old ones.
    """
    with op.batch_alter_table("publish_marks") as batch:
        batch.drop_constraint(op.f(CHECK), type_="check")
        batch.create_check_constraint(op.f(CHECK), condition)
