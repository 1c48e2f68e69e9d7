"""The only SQL in feedsvc: schema, migrations, sources, articles, behind one ``Store``.

Modules by domain: ``schema`` (tables), ``engine`` (dialect specifics and
transactions), ``migrate`` (Alembic, run on open), ``sources``, ``articles``,
``stories`` and ``publishing`` (the SQL), ``facade`` (the ``Store`` and its
exception boundary), ``idle`` (a standard-library look at a SQLite file that
answers "is there anything to do?" without loading SQLAlchemy). Nothing here
fetches, parses or decides schedules.

``Store`` is imported on first use, so ``feedsvc.store.idle`` costs no
SQLAlchemy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feedsvc.store.facade import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from feedsvc.store.facade import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
