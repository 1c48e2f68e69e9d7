"""A throwaway PostgreSQL server for the tests: a cluster in a temporary directory on a free port.

``start_cluster`` finds Debian's (or any) ``initdb``/``pg_ctl``, makes a cluster
owned by a non-root user (PostgreSQL refuses to run as root: as root, the
cluster belongs to the ``postgres`` system user and every command runs through
``runuser``), tunes it for tests (no fsync: it is thrown away) and starts it on
127.0.0.1 on a free port. ``Cluster.stop`` stops it and removes the directory.
Installing the server is ``tests/support/install-postgres.sh`` (``make test``
runs it); this module never installs anything.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SETTINGS = (
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "max_connections=200",
    "shared_buffers=64MB",
)


def find_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Cluster:
    """A running throwaway cluster: where it lives and how to reach it."""

    bindir: Path
    directory: Path
    port: int
    user: str | None

    @property
    def admin_url(self) -> str:
        """A SQLAlchemy URL of the cluster's ``postgres`` database as its superuser."""
        return self.url("postgres")

    def url(self, database: str) -> str:
        """A SQLAlchemy URL of ``database`` in this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        _run(self, "pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


def _owner() -> str | None:
    """The user the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


def _run(cluster: Cluster, tool: str, *args: str) -> None:
    command = [str(cluster.bindir / tool), *args]
    if cluster.user is not None:
        command = ["runuser", "-u", cluster.user, "--", *command]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)


def start_cluster() -> Cluster:
    """Make and start a new cluster; raise RuntimeError (with the server's words) if it fails."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no initdb/pg_ctl)")
    directory = Path(tempfile.mkdtemp(prefix="feedsvc-pg-"))
    user = _owner()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(directory, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir, directory, free_port(), user)
    data = str(directory / "data")
    options = " ".join(f"-c {setting}" for setting in SETTINGS)
    options += f" -p {cluster.port} -c listen_addresses=127.0.0.1 -k {directory}"
    try:
        _run(cluster, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        log = str(directory / "server.log")
        _run(cluster, "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(directory, ignore_errors=True)
        said = getattr(exc, "stderr", "") or ""
        raise RuntimeError(f"could not start PostgreSQL: {exc}: {said.strip()}") from exc
    return cluster
