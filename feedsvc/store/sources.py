"""SQL for sources: syncing them with the configuration, their fetch state, what is due.

A source's fetch state includes its redirect tracking (the adopted URL, a
permanent redirect on trial), whether it is disabled (410 Gone) and the hash
of the last body. A changed configured location starts the source afresh:
validators, redirects, the disabled mark, the hash and the failures are reset
(its next fetch time is kept).

Every function takes an open ``Connection`` inside a transaction the caller
owns; none commits, opens connections or translates exceptions (the ``Store``
does). Nothing here decides when a source is fetched next: the scheduler
computes ``next_fetch_after`` and this module only stores it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from feedsvc.config_types import SourceConfig
from feedsvc.errors import StoreError
from feedsvc.store import articles as article_sql
from feedsvc.store import state as state_sql
from feedsvc.store.engine import serialise
from feedsvc.store.idle import CLOCK_STEP_SLACK, SOURCES_DIGEST_KEY, sources_digest
from feedsvc.store.schema import SOURCE_COLUMNS, articles, sources
from feedsvc.types import EntryMemo, FetchIntent, FetchStatus, RedirectState, SourceState

log = logging.getLogger("feedsvc.store.sources")

_SYNCED = ("title", "kind", "location", "enabled", "removed_at")
_FRESH_START: dict[str, Any] = {
    "etag": None,
    "last_modified": None,
    "adopted_url": None,
    "redirect_url": None,
    "redirect_since": None,
    "disabled_at": None,
    "disabled_reason": None,
    "body_hash": None,
    "failures": 0,
}


def sync(connection: Connection, configs: Sequence[SourceConfig], now: datetime) -> None:
    """Insert new sources, update known ones, mark the ones no longer configured as removed.

    Processes that sync at once (several workers starting) take turns. The
    digest of the sources made live is stored with them (``idle.sources_digest``:
    the idle check compares it with the configured sources' instead of reading
    every row). Nothing else writes the columns it covers.
    """
    wanted = _by_name(configs)
    serialise(connection, "sync-sources")
    known = {row.name: row for row in connection.execute(sa.select(*SOURCE_COLUMNS))}
    added = [_new_row(config, now) for name, config in wanted.items() if name not in known]
    if added:
        connection.execute(sa.insert(sources), added)
    changed = 0
    for name, config in wanted.items():
        if name in known:
            changed += _update_known(connection, config, known[name])
    gone = [name for name, row in known.items() if name not in wanted and row.removed_at is None]
    if gone:
        stmt = sa.update(sources).where(sources.c.name.in_(gone)).values(removed_at=now)
        connection.execute(stmt)
    rows = ((c.name, c.title, c.kind, c.location, c.enabled) for c in wanted.values())
    digest = sources_digest(rows)
    if state_sql.get(connection, SOURCES_DIGEST_KEY) != digest:
        state_sql.put(connection, {SOURCES_DIGEST_KEY: digest})
    level = logging.INFO if added or changed or gone else logging.DEBUG
    log.log(level, "sources synced added=%d changed=%d removed=%d", len(added), changed, len(gone))


def _by_name(configs: Sequence[SourceConfig]) -> dict[str, SourceConfig]:
    wanted: dict[str, SourceConfig] = {}
    for config in configs:
        if config.name in wanted:
            raise ValueError(f"source name {config.name!r} is configured twice")
        wanted[config.name] = config
    return wanted


def _new_row(config: SourceConfig, now: datetime) -> dict[str, Any]:
    return {**_config_values(config), "added_at": now, "failures": 0}


def _config_values(config: SourceConfig) -> dict[str, Any]:
    return {
        "name": config.name,
        "title": config.title,
        "kind": config.kind,
        "location": config.location,
        "enabled": config.enabled,
        "removed_at": None,
    }


def _update_known(connection: Connection, config: SourceConfig, row: Row[Any]) -> int:
    values = _config_values(config)
    changes = {key: values[key] for key in _SYNCED if getattr(row, key) != values[key]}
    if not changes:
        return 0
    if "location" in changes:
        changes.update(_FRESH_START)
    connection.execute(sa.update(sources).where(sources.c.name == config.name).values(changes))
    log.info("source changed name=%s fields=%s", config.name, ",".join(sorted(changes)))
    return 1


def state_select(counts: bool = True) -> sa.Select[Any]:
    """Live sources with their article count (counting costs a scan: 0 unless ``counts``)."""
    count: sa.ColumnElement[int] = (
        sa.select(sa.func.count())
        .select_from(articles)
        .where(articles.c.source == sources.c.name)
        .scalar_subquery()
        if counts
        else sa.literal(0)
    )
    return sa.select(*SOURCE_COLUMNS, count.label("article_count")).where(
        sources.c.removed_at.is_(None)
    )


def to_state(row: Row[Any]) -> SourceState:
    """The ``SourceState`` of a row of ``state_select``."""
    return SourceState(
        name=row.name,
        location=row.location,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetch=row.last_fetch,
        last_status=cast(FetchStatus | None, row.last_status),
        http_status=row.http_status,
        last_error=row.last_error,
        failures=row.failures,
        next_fetch_after=row.next_fetch_after,
        article_count=row.article_count,
        redirect=RedirectState(row.adopted_url, row.redirect_url, row.redirect_since),
        disabled_at=row.disabled_at,
        disabled_reason=row.disabled_reason,
        body_hash=row.body_hash,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def states(connection: Connection, *, counts: bool = True) -> list[SourceState]:
    """Every configured (not removed) source, by name (article counts only if ``counts``)."""
    rows = connection.execute(state_select(counts).order_by(sources.c.name))
    return [to_state(row) for row in rows]


def state(connection: Connection, name: str) -> SourceState | None:
    """One configured source, or None if it is unknown or removed."""
    row = connection.execute(state_select().where(sources.c.name == name)).first()
    return None if row is None else to_state(row)


def body_entries(connection: Connection, name: str) -> dict[str, EntryMemo]:
    """The articles of the last body of ``name`` stored: each id and what is remembered of it.

    An entry's digest is remembered only while its article is stored: an entry
    seen again is not normalised again, so its article must be there to keep.
    """
    stmt = sa.select(sources.c.body_entries).where(sources.c.name == name)
    stored = connection.execute(stmt).scalar()
    try:
        entries = decode_entries(json.loads(stored)) if stored else {}
    except ValueError:  # damaged: the next body is analysed whole, and stores it again
        return {}
    digested = [k for k, memo in entries.items() if memo.raw is not None]
    present = article_sql.present(connection, name, digested)
    return {
        k: memo if memo.raw is None or k in present else replace(memo, raw=None, document=None)
        for k, memo in entries.items()
    }


def decode_entries(value: object) -> dict[str, EntryMemo]:
    """Each id's ``EntryMemo`` from its JSON form (``_encoded``), or an older key alone."""
    if not isinstance(value, dict):
        return {}
    entries: dict[str, EntryMemo] = {}
    for k, v in value.items():
        if isinstance(v, str):  # stored before entries had digests
            entries[k] = EntryMemo(v)
        elif (
            isinstance(v, list) and 2 <= len(v) <= 5 and isinstance(v[0], str)
            and all(part is None or isinstance(part, str) for part in v[1:])
        ):  # fmt: skip
            entries[k] = EntryMemo(*v)
    return entries


def encode_entries(entries: Mapping[str, EntryMemo]) -> str:
    """The JSON form of the ``EntryMemo`` of each id (``decode_entries`` reads it)."""
    return json.dumps({k: _encoded(m) for k, m in entries.items()}, ensure_ascii=False)


def _encoded(memo: EntryMemo) -> list[str | None]:
    """``[analysis, raw]``, then the drop it came from, its digest and the alias where known."""
    if memo.origin is None and memo.document is None and memo.alias is None:
        return [memo.analysis, memo.raw]
    return [memo.analysis, memo.raw, memo.origin, memo.document, memo.alias]


def due_clause(now: datetime) -> sa.ColumnElement[bool]:
    """Enabled, configured, not disabled, and never fetched or due at ``now``.

    A source last fetched after ``now`` (by more than a day) was fetched
    while the clock ran ahead, and is due: its next fetch, planned from that
    wrong time, would otherwise wait until the clock caught up.
    """
    return sa.and_(
        sources.c.removed_at.is_(None),
        sources.c.enabled.is_(True),
        sources.c.disabled_at.is_(None),
        sa.or_(
            sources.c.next_fetch_after.is_(None),
            sources.c.next_fetch_after <= now,
            sources.c.last_fetch > now + CLOCK_STEP_SLACK,
        ),
    )


def due(connection: Connection, now: datetime) -> list[SourceState]:
    """Enabled, configured, not disabled sources whose time has come (never fetched first).

    Their article counts are not read (0).
    """
    stmt = (
        state_select(counts=False)
        .where(due_clause(now))
        .order_by(sources.c.next_fetch_after.asc().nulls_first(), sources.c.name)
    )
    return [to_state(row) for row in connection.execute(stmt)]


def record_fetch(connection: Connection, intent: FetchIntent) -> None:
    """Store the outcome of one fetch on its source."""
    record_fetches(connection, [intent])


def record_fetches(connection: Connection, intents: Sequence[FetchIntent]) -> None:
    """Store the outcomes of several fetches: one statement per shape of outcome."""
    shapes: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
    for intent in intents:
        failed, values = _fetch_values(intent)
        shapes.setdefault((failed, tuple(sorted(values))), []).append(
            {**values, "k_name": intent.source}
        )
    for (failed, columns), rows in shapes.items():
        sets: dict[str, Any] = {column: sa.bindparam(column) for column in columns}
        sets["failures"] = sources.c.failures + 1 if failed else 0
        stmt = sa.update(sources).where(sources.c.name == sa.bindparam("k_name")).values(sets)
        result = connection.execute(stmt, rows)
        if connection.dialect.supports_sane_multi_rowcount and result.rowcount != len(rows):
            names = sorted(row["k_name"] for row in rows)
            raise StoreError(f"cannot record a fetch of unknown source among {names!r}")
    log.debug("fetches recorded count=%d", len(intents))


def _fetch_values(intent: FetchIntent) -> tuple[bool, dict[str, Any]]:
    """Whether the fetch failed, and the columns it sets besides the failure count."""
    failed = intent.status == "error"
    values: dict[str, Any] = {
        "last_fetch": intent.fetched_at,
        "last_status": intent.status,
        "http_status": intent.http_status,
        "last_error": intent.error,
        "next_fetch_after": intent.next_fetch_after,
        # A recorded fetch ends the lease a worker took to make it (see ``leases``).
        "lease_owner": None,
        "lease_until": None,
    }
    if not failed and intent.etag is not None:
        values["etag"] = intent.etag
    if not failed and intent.last_modified is not None:
        values["last_modified"] = intent.last_modified
    values.update(_politeness_values(intent))
    return failed, values


def _politeness_values(intent: FetchIntent) -> dict[str, Any]:
    """The redirect, body-hash and disabled columns an intent sets (None leaves them)."""
    values: dict[str, Any] = {}
    if intent.redirect is not None:
        values["adopted_url"] = intent.redirect.adopted_url
        values["redirect_url"] = intent.redirect.pending_url
        values["redirect_since"] = intent.redirect.pending_since
    if intent.body_hash is not None and intent.status != "error":
        values["body_hash"] = intent.body_hash
    if intent.entries is not None and intent.status != "error":
        values["body_entries"] = encode_entries(intent.entries)
    if intent.disable is not None:
        values["disabled_at"] = intent.fetched_at
        values["disabled_reason"] = intent.disable
    return values
