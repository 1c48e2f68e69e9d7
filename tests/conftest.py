"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.support.postgres import Cluster, start_cluster

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
# An existing server to use instead of a throwaway one: a URL of a database on it
# whose user may create databases (e.g. postgresql+psycopg://me@host/postgres).
PG_ADMIN_ENV = "FEEDSVC_TEST_POSTGRES_URL"
ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared material; skipped where it is absent, required in CI."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI run without ../shared (looked for {SHARED})")
        pytest.skip(f"../shared is not here ({SHARED}); it comes with the development checkout")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The root of this repository."""
    return REPO


class PostgresServer:
    """A PostgreSQL server the tests may make databases on, one fresh database per test."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = sa.make_url(admin_url)
        self._admin = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self._numbers = itertools.count(1)
        self._prefix = f"feedsvc_test_{os.getpid()}"
        self._template: str | None = None

    def url(self, database: str) -> str:
        """The URL of ``database`` on this server."""
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def _create(self, template: str | None = None) -> str:
        name = f"{self._prefix}_{next(self._numbers)}"
        clause = f" TEMPLATE {template}" if template else ""
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}{clause}")
        return name

    def empty_database(self) -> str:
        """The URL of a new, empty database."""
        return self.url(self._create("template0"))

    def migrated_database(self) -> str:
        """The URL of a new database already migrated to the newest schema (copied, so fast)."""
        if self._template is None:
            from feedsvc.store import Store

            name = self._create("template0")
            Store.open(self.url(name)).close()
            self._template = name
        return self.url(self._create(self._template))

    def close(self) -> None:
        """Drop the databases made here (on a server of our own, stopping it does that)."""
        with self._admin.connect() as connection:
            names = connection.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE datname LIKE %(p)s",
                {"p": f"{self._prefix}_%"},
            ).scalars()
            for name in list(names):
                connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server: $FEEDSVC_TEST_POSTGRES_URL's, or a throwaway cluster started here.

    Without one, the test skips with the reason, except in CI, where it fails.
    """
    given = os.environ.get(PG_ADMIN_ENV)
    cluster: Cluster | None = None
    if not given:
        try:
            cluster = start_cluster()
        except RuntimeError as exc:
            if os.environ.get("CI"):
                pytest.fail(f"CI needs PostgreSQL for the store tests: {exc}")
            pytest.skip(f"no PostgreSQL for the store tests: {exc}")
    server = PostgresServer(given or (cluster.admin_url if cluster else ""))
    try:
        yield server
    finally:
        if cluster is not None:
            server._admin.dispose()
            cluster.stop()
        else:
            server.close()


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    """Each database engine the store runs on, in turn."""
    return str(request.param)


@pytest.fixture
def store_url(engine_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database on each engine: a SQLite file, then a new PostgreSQL database."""
    if engine_name == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'feedsvc.sqlite'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.migrated_database()


from tests.support.httpserver import loopback_server  # noqa: E402,F401  (fixture for every test)
