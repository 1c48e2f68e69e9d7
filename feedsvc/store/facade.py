"""The ``Store``: feedsvc's one door to its database.

It owns the engine, opens one transaction per call (writes with
``BEGIN IMMEDIATE`` on SQLite), and is the one boundary where SQLAlchemy and
Alembic exceptions become ``StoreError``. The SQL itself lives in ``sources``
and ``articles``; this class only wires transactions to them. It holds no
cache: every read sees what is committed. Writes are meant to come from one
thread per process; reads may come from any thread. The one exception is a
worker's lease heartbeat (``Worker._keeping_leases``), a one-statement write
from its own thread: each call is its own transaction, so the two take turns
like any two writers of the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from feedsvc.config_types import SourceConfig
from feedsvc.errors import StoreError
from feedsvc.store import articles as article_sql
from feedsvc.store import leases as lease_sql
from feedsvc.store import publishing as publish_sql
from feedsvc.store import sources as source_sql
from feedsvc.store import state as state_sql
from feedsvc.store.engine import is_memory, make_engine, reading, writing
from feedsvc.store.migrate import upgrade
from feedsvc.store.story_queries import StoryQueries
from feedsvc.store.tag_queries import TagQueries
from feedsvc.store.worker_queries import WorkerQueries
from feedsvc.types import (
    Article,
    EntryMemo,
    FetchIntent,
    LeaseLost,
    PublishMarks,
    SourceState,
    UpsertResult,
)

log = logging.getLogger("feedsvc.store")


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn a SQLAlchemy failure into a StoreError that says what failed.

    (Alembic's failures are translated where Alembic is used, in ``migrate``.)
    """
    try:
        yield
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise StoreError(f"{action} failed: {type(cause).__name__}: {cause}") from exc


class Store(StoryQueries, TagQueries, WorkerQueries):
    """Sources, their fetch state, their articles and stories, in one SQL database."""

    _translate = staticmethod(_translated)

    def __init__(self, engine: Engine) -> None:
        self._engine: Engine | None = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (creating and migrating as needed) the database at ``url``."""
        shown = _safe_url(url)
        with _translated(f"opening database url={shown}"):
            engine = _engine_for(url, shown)
            try:
                revision = upgrade(engine)
            except BaseException:
                engine.dispose()
                raise
        log.debug("store opened url=%s revision=%s", shown, revision)
        return cls(engine)

    def close(self) -> None:
        """Release every connection; the store cannot be used afterwards."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The open engine (for the store's own modules and tests)."""
        if self._engine is None:
            raise StoreError("the store is closed")
        return self._engine

    def sync_sources(self, sources: Sequence[SourceConfig], now: datetime) -> None:
        """Make the stored sources match the configured ones (removed ones are kept, marked)."""
        with _translated("syncing sources"), writing(self.engine) as connection:
            source_sql.sync(connection, sources, now)

    def source_states(self, *, counts: bool = True) -> list[SourceState]:
        """Every configured (not removed) source with its fetch state, by name.

        Article counts cost a scan of the articles; ``counts=False`` leaves them 0.
        """
        with _translated("reading sources"), reading(self.engine) as connection:
            return source_sql.states(connection, counts=counts)

    def source_state(self, name: str) -> SourceState | None:
        """One configured source's state, or None if it is unknown or removed."""
        with _translated(f"reading source name={name}"), reading(self.engine) as connection:
            return source_sql.state(connection, name)

    def due_sources(self, now: datetime) -> list[SourceState]:
        """Enabled configured sources due at ``now``, never-fetched ones first (counts 0)."""
        with _translated("reading due sources"), reading(self.engine) as connection:
            return source_sql.due(connection, now)

    def body_entries(self, source: str) -> dict[str, EntryMemo]:
        """Each article of the last body of ``source`` stored: its id and what is remembered of it.

        An in-memory database answers nothing: its one connection is the writer's,
        and this is read beside the writer (see ``pipeline``).
        """
        if is_memory(self.engine.url):
            return {}
        with _translated(f"reading entries source={source}"), reading(self.engine) as connection:
            return source_sql.body_entries(connection, source)

    def record_fetch(self, intent: FetchIntent) -> LeaseLost | None:
        """Record a fetch that brought no articles (a 304 or a failure).

        A fetch made under a lease its worker lost is not recorded: the
        ``LeaseLost`` is returned instead (see ``leases.lost``).
        """
        with (
            _translated(f"recording fetch source={intent.source}"),
            writing(self.engine) as connection,
        ):
            if lost := lease_sql.lost(connection, [intent]):
                return _log_lost(lost[intent.source])
            source_sql.record_fetch(connection, intent)
        return None

    def save_batch(
        self, source: str, articles: Sequence[Article], intent: FetchIntent
    ) -> UpsertResult | LeaseLost:
        """Upsert a source's articles and record its fetch, all in one transaction.

        Nothing is written for a fetch made under a lease its worker lost: the
        ``LeaseLost`` is returned instead.
        """
        _check_batch(source, articles, intent)
        with _translated(f"saving batch source={source}"), writing(self.engine) as connection:
            if lost := lease_sql.lost(connection, [intent]):
                return _log_lost(lost[source])
            seen = _seen_again(intent, articles)
            result = article_sql.upsert(connection, source, articles, intent.fetched_at, seen)
            source_sql.record_fetch(connection, intent)
        _log_batch(source, result)
        return result

    def save_fetches(
        self, fetches: Sequence[tuple[FetchIntent, Sequence[Article] | None]]
    ) -> list[UpsertResult | LeaseLost | None]:
        """Record several fetches (with their articles, if any) in one transaction.

        Each gives its ``UpsertResult`` (None without articles), or the
        ``LeaseLost`` of a fetch made under a lease its worker lost, which
        writes nothing.
        """
        for intent, batch in fetches:
            if batch is not None:
                _check_batch(intent.source, batch, intent)
        names = ",".join(sorted({intent.source for intent, _ in fetches}))
        results: list[UpsertResult | LeaseLost | None] = []
        with _translated(f"saving fetches sources={names}"), writing(self.engine) as connection:
            lost = lease_sql.lost(connection, [intent for intent, _ in fetches])
            for intent, batch in fetches:
                if intent.source in lost:
                    results.append(_log_lost(lost[intent.source]))
                    continue
                if batch is None:
                    results.append(None)
                    continue
                seen = _seen_again(intent, batch)
                saved = article_sql.upsert(
                    connection, intent.source, batch, intent.fetched_at, seen
                )
                results.append(saved)
            kept = [intent for intent, _ in fetches if intent.source not in lost]
            if kept:
                source_sql.record_fetches(connection, kept)
        for (intent, batch), result in zip(fetches, results, strict=True):
            if batch is not None and isinstance(result, UpsertResult):
                _log_batch(intent.source, result)
        return results

    def recent_articles(
        self, limit: int, *, source: str | None = None, tag: str | None = None
    ) -> list[Article]:
        """The newest ``limit`` articles of configured sources, newest first."""
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")
        if limit == 0:
            return []
        with _translated("reading recent articles"), reading(self.engine) as connection:
            return article_sql.recent(connection, limit, source=source, tag=tag)

    def recent_articles_by_source(
        self, names: Sequence[str], limit: int
    ) -> dict[str, list[Article]]:
        """The newest ``limit`` articles of each named configured source, newest first."""
        with _translated("reading recent articles"), reading(self.engine) as connection:
            return article_sql.recent_by_source(connection, names, limit)

    def article(self, source: str, article_id: str) -> Article | None:
        """One article by its key, or None."""
        with (
            _translated(f"reading article source={source}"),
            reading(self.engine) as connection,
        ):
            return article_sql.get(connection, source, article_id)

    def publish_marks(self) -> PublishMarks:
        """What changed since the last publish (sources and stories marked)."""
        with _translated("reading publish marks"), reading(self.engine) as connection:
            return publish_sql.pending(connection)

    def service_state(self, key: str) -> str | None:
        """A value the service stored under ``key`` (e.g. by the last publish)."""
        with _translated("reading service state"), reading(self.engine) as connection:
            return state_sql.get(connection, key)

    def published(self, upto: int, state: Mapping[str, str]) -> None:
        """Record a finished publish: drop the marks up to ``upto``, store ``state``."""
        with _translated("recording a publish"), writing(self.engine) as connection:
            publish_sql.clear(connection, upto)
            state_sql.put(connection, state)

    def sources_of_stories(self, story_ids: Iterable[str]) -> set[str]:
        """The sources of the members of these stories."""
        with _translated("reading story sources"), reading(self.engine) as connection:
            return publish_sql.sources_of_stories(connection, sorted(story_ids))

    def tags_of_stories(self, story_ids: Iterable[str]) -> set[str]:
        """The tags carried by any member of these stories."""
        with _translated("reading story tags"), reading(self.engine) as connection:
            return publish_sql.tags_of_stories(connection, sorted(story_ids))

    def tags(self) -> list[str]:
        """Every tag that at least one article of a configured source carries, sorted."""
        with _translated("reading tags"), reading(self.engine) as connection:
            return article_sql.tag_names(connection)


def _safe_url(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "<unparsable url>"


def _engine_for(url: str, shown: str) -> Engine:
    try:
        return make_engine(url)
    except ImportError as exc:
        raise StoreError(f"no database driver for url={shown}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot create the database directory for url={shown}: {exc}") from exc


def _log_lost(lost: LeaseLost) -> LeaseLost:
    log.debug(
        "fetch not recorded source=%s worker=%s: its lease lapsed, now held by %s",
        lost.source, lost.owner, lost.holder or "no one",
    )  # fmt: skip
    return lost


def _log_batch(source: str, result: UpsertResult) -> None:
    log.info(
        "batch saved source=%s new=%d updated=%d unchanged=%d",
        source,
        result.new,
        result.updated,
        result.unchanged,
    )


def _seen_again(intent: FetchIntent, batch: Sequence[Article]) -> list[str]:
    """The ids of the body's articles seen again unchanged: remembered, but not in the batch."""
    if not intent.entries:
        return []
    sent = {a.id for a in batch}
    return [k for k in intent.entries if k not in sent]


def _check_batch(source: str, articles: Sequence[Article], intent: FetchIntent) -> None:
    if intent.source != source:
        raise ValueError(f"fetch intent is for {intent.source!r}, batch is for {source!r}")
    strangers = {a.source for a in articles} - {source}
    if strangers:
        raise ValueError(f"batch for {source!r} holds articles of {sorted(strangers)!r}")
