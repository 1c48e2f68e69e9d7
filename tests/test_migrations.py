"""The packaged Alembic revisions: creating, reopening, matching schema.py, refusing the future."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from feedsvc.config_types import SourceConfig
from feedsvc.errors import StoreError
from feedsvc.publishing import publish_changes
from feedsvc.service import Service
from feedsvc.store import Store
from feedsvc.store.engine import make_engine, writing
from feedsvc.store.idle import HEAD_REVISION
from feedsvc.store.migrate import (
    alembic_config,
    create_at_head,
    current_revision,
    head_revision,
    migrate,
    upgrade,
)
from feedsvc.store.schema import metadata
from feedsvc.types import Article, FetchIntent, StoryAssignment
from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer
from tests.test_publishing import GULLS, NOW, feed_files, rss

T0 = datetime(2031, 5, 4, 9, 30, tzinfo=UTC)
TABLES = {
    "alembic_version",
    "article_tags",
    "publish_marks",
    "service_state",
    "articles",
    "sources",
    "stories",
    "story_aliases",
    "story_members",
    "workers",
}


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def table_names(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as raw, raw:
        return {
            name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }


def schema_sql(path: Path) -> list[tuple[str | None, ...]]:
    with closing(sqlite3.connect(path)) as raw, raw:
        return raw.execute("SELECT sql FROM sqlite_master ORDER BY name").fetchall()


def revision_of(path: Path) -> str | None:
    engine = make_engine(url_of(path))
    try:
        with engine.connect() as connection:
            return current_revision(connection)
    finally:
        engine.dispose()


def test_open_on_an_empty_file_creates_the_schema_at_head(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    Store.open(url_of(path)).close()
    assert table_names(path) == TABLES
    assert revision_of(path) == head_revision()


def test_reopening_is_a_no_op_that_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "feedsvc.sqlite"
    with Store.open(url_of(path)) as store:
        store.sync_sources([SourceConfig("almanac", "Almanac", "file", path=tmp_path)], T0)
    schema_before = schema_sql(path)
    with Store.open(url_of(path)) as store:
        assert [s.name for s in store.source_states()] == ["almanac"]
    schema_after = schema_sql(path)
    assert schema_after == schema_before
    assert revision_of(path) == head_revision()


def test_migrations_produce_exactly_schema_py(tmp_path: Path) -> None:
    engine = make_engine(url_of(tmp_path / "compare.sqlite"))
    try:
        migrate(engine)  # every revision, from an empty database
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()


def test_comparison_would_notice_a_drift(tmp_path: Path) -> None:
    drifted = sa.MetaData()
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    sa.Table("extra", drifted, sa.Column("id", sa.Integer, primary_key=True))
    engine = make_engine(url_of(tmp_path / "drift.sqlite"))
    try:
        upgrade(engine)
        with engine.connect() as connection:
            diffs = compare_metadata(MigrationContext.configure(connection), drifted)
    finally:
        engine.dispose()
    assert [diff[0] for diff in diffs] == ["add_table"]


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = make_engine(url_of(tmp_path / "roundtrip.sqlite"))
    try:
        upgrade(engine)
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "base")
        assert table_names(tmp_path / "roundtrip.sqlite") == {"alembic_version"}
        assert upgrade(engine) == head_revision()
    finally:
        engine.dispose()
    assert table_names(tmp_path / "roundtrip.sqlite") == TABLES


def test_a_database_from_a_newer_feedsvc_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    Store.open(url_of(path)).close()
    with closing(sqlite3.connect(path)) as raw, raw:
        raw.execute("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(StoreError, match="newer feedsvc"):
        Store.open(url_of(path))
    assert revision_of(path) == "r9999"


def test_the_head_constant_is_alembics_head() -> None:
    # Store.open and the idle check recognise an up-to-date database by this constant alone.
    assert head_revision() == HEAD_REVISION


def test_an_older_database_is_still_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = make_engine(url_of(path))
    try:
        upgrade(engine)
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0003")
    finally:
        engine.dispose()
    assert "publish_marks" not in table_names(path)
    Store.open(url_of(path)).close()
    assert table_names(path) == TABLES
    assert revision_of(path) == HEAD_REVISION


# --------------------------------------------------------------------------- on both engines


@pytest.fixture
def empty_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty database on each engine (no schema at all)."""
    if engine_name == "sqlite":
        return url_of(tmp_path / "empty.sqlite")
    return str(request.getfixturevalue("postgres").empty_database())


def tables_at(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_each_engine_migrates_to_exactly_schema_py(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        assert migrate(engine) == HEAD_REVISION
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
    assert tables_at(empty_url) == TABLES


def test_each_engine_downgrades_step_by_step_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        for target in ("r0006", "r0005", "r0004", "r0003", "r0002", "r0001", "base"):
            with writing(engine) as connection:
                command.downgrade(alembic_config(connection), target)
                assert current_revision(connection) == (None if target == "base" else target)
        assert tables_at(empty_url) == {"alembic_version"}
        assert upgrade(engine) == HEAD_REVISION
    finally:
        engine.dispose()
    assert tables_at(empty_url) == TABLES


def test_each_engine_keeps_sources_through_r0006(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0005")
    finally:
        engine.dispose()
    with Store.open(empty_url) as store:  # migrates to r0006 again
        store.sync_sources([SourceConfig("almanac", "Almanac", "feed", url="http://a.test/")], T0)
        (state,) = store.source_states()
        assert state.name == "almanac"
    engine = make_engine(empty_url)
    try:
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0005")
        with engine.connect() as connection:
            names = connection.execute(sa.text("SELECT name FROM sources")).scalars().all()
        assert names == ["almanac"]
    finally:
        engine.dispose()


KEPT_ROWS = {  # table: (what to read of it, what a downgrade must leave there)
    "sources": ("SELECT name FROM sources", [("almanac",)]),
    "articles": (
        "SELECT source, id, title FROM articles",
        [("almanac", "a1", "Tide tables revised")],
    ),
    "article_tags": (
        "SELECT source, article_id, tag FROM article_tags",
        [("almanac", "a1", "tides")],
    ),
    "story_members": (
        "SELECT source, article_id, story_id FROM story_members",
        [("almanac", "a1", "story-1")],
    ),
}


def store_one_tagged_member(url: str) -> None:
    """A source, an article of it with an analysis, the tag "tides" and a story membership."""
    with Store.open(url) as store:
        store.sync_sources([SourceConfig("almanac", "Almanac", "feed", url="http://a.test/")], T0)
        kept = Article(
            source="almanac", id="a1", url="http://a.test/1", title="Tide tables revised",
            summary="", content_html="<p>New tables.</p>", text="New tables.", published=T0,
            updated=None, date_estimated=False, content_hash="h1", features="an analysis",
        )  # fmt: skip
        intent = FetchIntent(source="almanac", fetched_at=T0, status="ok", next_fetch_after=T0)
        store.save_batch("almanac", [replace(kept, tags=("tides",))], intent)
        decision = StoryAssignment("almanac", "a1", "story-1", "new", 0.0)
        store.save_stories([decision], [], {}, T0)


def test_each_engine_keeps_articles_through_r0007(empty_url: str) -> None:
    store_one_tagged_member(empty_url)
    engine = make_engine(empty_url)
    try:
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0006")  # drops the analyses
    finally:
        engine.dispose()
    with Store.open(empty_url) as store:  # migrates to r0007 again
        (text,) = store.texts_since(T0)
        assert (text.id, text.text, text.features) == ("a1", "New tables.", None)
        # nothing that hangs on the article went with the column
        assert store.story_of("almanac", "a1") == "story-1"
        stored = store.article("almanac", "a1")
        assert stored is not None and stored.tags == ("tides",)


def test_each_engine_keeps_articles_through_r0006(empty_url: str) -> None:
    """r0006's downgrade drops two columns of ``sources``, which every article references."""
    store_one_tagged_member(empty_url)
    engine = make_engine(empty_url)
    try:
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0005")  # r0007's, then r0006's
        with engine.connect() as connection:
            assert current_revision(connection) == "r0005"
            rows = {t: connection.execute(sa.text(q)).all() for t, (q, _) in KEPT_ROWS.items()}
            columns = {c["name"] for c in sa.inspect(connection).get_columns("sources")}
    finally:
        engine.dispose()
    assert rows == {table: held for table, (_, held) in KEPT_ROWS.items()}
    assert not {"lease_owner", "lease_until"} & columns  # the downgrade did drop them
    with Store.open(empty_url) as store:  # migrates to head again
        assert store.story_of("almanac", "a1") == "story-1"
        stored = store.article("almanac", "a1")
        assert stored is not None and stored.tags == ("tides",)


def test_each_engine_keeps_articles_down_to_r0001_and_back(empty_url: str) -> None:
    """Every downgrade, one at a time, keeps the rows its revision can hold.

    r0001 is the oldest revision with articles; story_members exists from r0003 on.
    """
    store_one_tagged_member(empty_url)
    engine = make_engine(empty_url)
    try:
        for target in ("r0006", "r0005", "r0004", "r0003", "r0002", "r0001"):
            with writing(engine) as connection:
                command.downgrade(alembic_config(connection), target)
            holds = set(KEPT_ROWS) if target >= "r0003" else set(KEPT_ROWS) - {"story_members"}
            with engine.connect() as connection:
                assert current_revision(connection) == target
                assert holds <= set(sa.inspect(connection).get_table_names()), target
                rows = {t: connection.execute(sa.text(KEPT_ROWS[t][0])).all() for t in holds}
            assert rows == {t: KEPT_ROWS[t][1] for t in holds}, target
    finally:
        engine.dispose()
    with Store.open(empty_url) as store:  # migrates to head again
        assert store.story_of("almanac", "a1") is None  # went with r0003's table
        stored = store.article("almanac", "a1")
        assert stored is not None and stored.tags == ("tides",)
        assert (stored.title, stored.features) == ("Tide tables revised", None)
        assert [s.name for s in store.source_states()] == ["almanac"]


def shape(url: str) -> dict[str, object]:
    """Everything a schema says of each table: columns, keys, indexes, constraints."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            return {
                table: (
                    [
                        (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in inspector.get_columns(table)
                    ],
                    inspector.get_pk_constraint(table),
                    sorted(inspector.get_indexes(table), key=lambda i: str(i["name"])),
                    inspector.get_foreign_keys(table),
                    inspector.get_unique_constraints(table),
                    inspector.get_check_constraints(table),
                )
                for table in sorted(inspector.get_table_names())
            }
    finally:
        engine.dispose()


def test_each_engine_creates_a_new_database_as_the_revisions_build_it(
    engine_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine_name == "sqlite":
        created_url, migrated_url = url_of(tmp_path / "new.sqlite"), url_of(tmp_path / "old.sqlite")
    else:
        server = request.getfixturevalue("postgres")
        created_url, migrated_url = (str(server.empty_database()) for _ in range(2))
    created, migrated = make_engine(created_url), make_engine(migrated_url)
    try:
        assert create_at_head(created) is True
        assert migrate(migrated) == HEAD_REVISION  # every revision, from an empty database
    finally:
        created.dispose()
        migrated.dispose()
    assert shape(created_url) == shape(migrated_url)
    engine = make_engine(created_url)
    try:
        with engine.connect() as connection:
            assert current_revision(connection) == HEAD_REVISION
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
        assert create_at_head(engine) is False  # it has tables now: never created twice
        with writing(engine) as connection:  # and the revisions take it down and up again
            command.downgrade(alembic_config(connection), "base")
        assert upgrade(engine) == HEAD_REVISION
    finally:
        engine.dispose()
    assert shape(created_url) == shape(migrated_url)


def test_a_new_database_never_loads_alembic(tmp_path: Path) -> None:
    """Alembic and its templates would stay in the process that opened the store to its end."""
    path = tmp_path / "fresh.sqlite"
    probe = (
        "import sys\n"
        "from feedsvc.store import Store\n"
        f"Store.open({url_of(path)!r}).close()\n"
        "print(sorted(m for m in ('alembic', 'mako') if m in sys.modules))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert ran.stdout.strip() == "[]", ran.stderr
    assert table_names(path) == TABLES
    assert revision_of(path) == HEAD_REVISION


# --------------------------------------------------------------------------- tag marks (r0009)

MARK_ROWS = 'INSERT INTO publish_marks (kind, "key") VALUES '


def marks_in(url: str) -> list[tuple[str, str]]:
    """Every publish mark's kind and key, oldest first, as stored."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text('SELECT kind, "key" FROM publish_marks ORDER BY seq'))
            return [(kind, key) for kind, key in rows]
    finally:
        engine.dispose()


def test_each_engine_keeps_every_mark_through_r0009_and_back(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine)
        with writing(engine) as connection:
            connection.execute(sa.text(MARK_ROWS + "('source', 'coast'), ('story', 's1')"))
            connection.execute(sa.text(MARK_ROWS + "('tag', 'nature'), ('source', 'city')"))
        marked = marks_in(empty_url)
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0008")
        assert marks_in(empty_url) == [
            ("source", "coast"), ("story", "s1"), ("source", "tag:nature"), ("source", "city")
        ]  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError), writing(engine) as connection:
            connection.execute(sa.text(MARK_ROWS + "('tag', 'nature')"))  # r0008 has no tag marks
        assert upgrade(engine) == HEAD_REVISION
        assert marks_in(empty_url) == marked
        with pytest.raises(sa.exc.IntegrityError), writing(engine) as connection:
            connection.execute(sa.text(MARK_ROWS + "('page', 'nature')"))  # the check is still on
    finally:
        engine.dispose()


def test_each_engine_turns_tag_keyed_source_marks_into_tag_marks(
    empty_url: str, tmp_path: Path, loopback_server: LoopbackServer
) -> None:
    """Before r0009 a tag's mark was a source mark keyed "tag:<slug>"; one left waiting counts."""
    loopback_server.route("/coast.xml", body=rss(GULLS))
    source = feed_source("coast", loopback_server.url("/coast.xml"), tags=["nature"])
    service = Service.from_path(
        write_config(tmp_path, [source], database_url=empty_url), clock=lambda: NOW
    )
    service.run_once(force=True, workers=1)  # creates the database at head, publishes it all
    output = service.config.settings.output_dir
    engine = make_engine(empty_url)
    try:
        with writing(engine) as connection:
            command.downgrade(alembic_config(connection), "r0008")
            connection.execute(sa.text(MARK_ROWS + "('source', 'tag:nature')"))
    finally:
        engine.dispose()
    for name in feed_files("tags/nature"):
        (output / name).unlink()  # only a publish that renders the tag's feed brings them back

    with service.open_store() as store:  # migrates to head
        marks = store.publish_marks()
    assert marks_in(empty_url) == [("tag", "nature")]
    assert (marks.tags, marks.sources, marks.stories) == ({"nature"}, set(), set())

    with service.open_store() as store:
        result = publish_changes(service.config, store)
        assert store.publish_marks().empty
    rendered = {*result.written, *result.unchanged}
    assert feed_files("tags/nature") <= set(result.written)
    assert not rendered & feed_files("all", "sources/coast")
    (entry,) = feedparser.parse((output / "tags/nature.atom").read_bytes()).entries
    assert entry.title == GULLS[1]
