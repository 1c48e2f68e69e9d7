"""One statement run for many rows, without SQLAlchemy's work for each row.

``connection.execute(stmt, rows)`` builds and type-processes a parameter set
per row: for the story round's tens of thousands of rows that cost more than
the database's own work. ``execute_many`` compiles the statement once per
dialect, processes each value with its bound type's processor as SQLAlchemy
would (a value shared by every row, such as a timestamp, once), and hands the
rows to the driver's ``executemany``. Build each statement once (a module
constant, or cached): its compiled form is cached by the statement's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    """A statement's SQL for one dialect and its driver parameters, in order."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: Mapping[str, Processor]  # by parameter name, only those that have one


def execute_many(
    connection: Connection,
    stmt: sa.ClauseElement,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    shared: Mapping[str, Any] | None = None,
) -> None:
    """Run ``stmt`` once per row: ``rows`` hold values for ``columns``; ``shared``, for all."""
    if not rows:
        return
    shared = shared or {}
    keys = (*columns, *shared)
    compiled = _compile(stmt, connection.dialect, keys)
    fixed = tuple(_process(compiled, name, value) for name, value in shared.items())
    own = [(n, compiled.processors[name]) for n, name in enumerate(columns)
           if name in compiled.processors]  # fmt: skip
    full = [_processed_row(row, own) + fixed for row in rows]
    order = [keys.index(name) for name in compiled.names]
    params: list[Any]
    if not compiled.positional:
        names = compiled.names
        params = [{name: row[n] for name, n in zip(names, order, strict=True)} for row in full]
    elif order == list(range(len(keys))):
        params = full
    else:
        params = [tuple([row[n] for n in order]) for row in full]
    connection.exec_driver_sql(compiled.sql, params)


def upsert(dialect: str, table: sa.Table, **values: Any) -> sa.Insert:
    """An INSERT into ``table`` that, where the primary key is taken, updates that row instead.

    ``values`` are SQL expressions for some columns; the others are bound by
    name. Every column but the key takes the new value, as a delete and an
    insert would leave it, in one statement (SQLite and PostgreSQL spell it alike).
    """
    stmt: sqlite.Insert | postgresql.Insert
    if dialect == "sqlite":
        stmt = sqlite.insert(table)
    elif dialect == "postgresql":
        from sqlalchemy.dialects import postgresql  # loaded with a PostgreSQL database only

        stmt = postgresql.insert(table)
    else:
        raise ValueError(f"no upsert for {dialect}: feedsvc stores in SQLite or PostgreSQL")
    if values:
        stmt = stmt.values(**values)
    return stmt.on_conflict_do_update(
        index_elements=list(table.primary_key),
        set_={c.name: stmt.excluded[c.name] for c in table.c if not c.primary_key},
    )


def _processed_row(row: Sequence[Any], own: Sequence[tuple[int, Processor]]) -> tuple[Any, ...]:
    if not own:
        return tuple(row)
    values = list(row)
    for n, process in own:
        values[n] = process(values[n])
    return tuple(values)


def _process(compiled: _Compiled, name: str, value: Any) -> Any:
    process = compiled.processors.get(name)
    return value if process is None else process(value)


@lru_cache(maxsize=64)  # a few statements times a few dialects (one per engine)
def _compile(stmt: sa.ClauseElement, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = cast(SQLCompiler, stmt.compile(dialect=dialect, column_keys=list(keys)))
    if compiled.post_compile_params or compiled.literal_execute_params:
        raise ValueError(f"execute_many binds plain values only, not those of {compiled.string}")
    names = tuple(compiled.positiontup or compiled.binds)
    missing = set(names) - set(keys)
    if missing:
        raise ValueError(f"no value for {sorted(missing)} in {compiled.string}")
    processors = {}
    for name in set(names):
        process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return _Compiled(compiled.string, names, compiled.positiontup is not None, processors)
