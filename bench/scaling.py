"""Scaling benchmark (issue 12): 1, 2, 4 ``feedsvc worker`` processes on PostgreSQL vs one
``feedsvc run`` on SQLite, over the speed benchmark's synthetic corpus, plus a kill -9.

Each configuration starts from an empty database with every source due, and
ends when its processes exit (``worker --once``: every source due at start
fetched, grouped and published). The feed server's access log counts the
requests per feed, so a source fetched twice in the cycle shows. PostgreSQL is
a throwaway cluster (``tests/support/postgres.py``); its statistics give the
row writes per article and the index sizes. The kill run starts 4 workers
with a short lease, kills one with SIGKILL when a third of the sources are
fetched, and checks that the others took its sources (nothing lost) and that
only the sources it held were requested again (nothing stored twice).
The machine is noisy: compare configurations from one run.

usage: python bench/scaling.py [--scale F] [--workers 1,2,4] [--server nginx|python]
                               [--lease 10s] [--no-kill]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import sqlalchemy as sa
from speedlib import corpus as corpora
from speedlib.server import Server, serve

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.postgres import Cluster, start_cluster  # noqa: E402

WORK = REPO / "bench" / ".work" / "scaling"
FEEDSVC = [str(Path(sys.executable).with_name("feedsvc"))]
KILLED_HELD: list[int] = []  # corpus indexes of the sources the killed worker held
TABLES = ("articles", "article_tags", "sources", "story_members", "stories", "publish_marks")


@dataclass
class Outcome:
    """One configuration's figures."""

    name: str
    processes: int
    wall: float
    cpu: float
    sources: int
    articles: int
    stories: int
    requests: int
    fetched_twice: int
    max_per_source: int
    exit_codes: list[int]
    db: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def fetches_per_second(self) -> float:
        """Sources fetched and stored per wall second."""
        return self.sources / self.wall if self.wall else 0.0


def write_config(directory: Path, urls: list[str], database_url: str | None) -> Path:
    """A sources.yaml over every URL (hourly), on ``database_url`` or the default SQLite file."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["settings:", "  data_dir: data", "  output_dir: output", "  feed_size: 50"]
    if database_url:
        lines.append(f"  database_url: {database_url}")
    if _accepts_allow_private(directory):
        lines += ["  fetch:", "    allow_private_addresses: true"]
    lines.append("sources:")
    for index, url in enumerate(urls):
        lines += [
            f"  - name: f{index:05d}",
            "    kind: feed",
            f"    url: {url}",
            "    interval: 1h",
        ]
    config = directory / "sources.yaml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def _accepts_allow_private(directory: Path) -> bool:
    probe = directory / "probe.yaml"
    probe.write_text("settings:\n  fetch:\n    allow_private_addresses: true\nsources: []\n")
    done = subprocess.run([*FEEDSVC, "--config", str(probe), "check"], capture_output=True)
    probe.unlink()
    return done.returncode == 0


def children_cpu() -> float:
    """CPU seconds of every child process waited for so far (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def counts(server: Server, offset: int) -> tuple[int, int, int]:
    """Requests since ``offset``: in all, feeds requested more than once, most for one feed."""
    paths = server.paths_since(offset)
    return (
        sum(paths.values()),
        sum(1 for n in paths.values() if n > 1),
        max(paths.values(), default=0),
    )


def stored(url: str) -> tuple[int, int, int]:
    """(sources fetched ok, articles, stories) in the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            ok = c.execute(sa.text("SELECT count(*) FROM sources WHERE last_status='ok'")).scalar()
            articles = c.execute(sa.text("SELECT count(*) FROM articles")).scalar()
            stories = c.execute(sa.text("SELECT count(*) FROM stories")).scalar()
        return int(ok or 0), int(articles or 0), int(stories or 0)
    finally:
        engine.dispose()


def pg_figures(url: str) -> dict[str, float]:
    """Row writes and commits so far, and table and index sizes, of the database at ``url``."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            row = c.execute(
                sa.text(
                    "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted"
                    " FROM pg_stat_database WHERE datname = current_database()"
                )
            ).one()
            figures = dict(
                zip(("commits", "inserted", "updated", "deleted"), map(float, row), strict=True)
            )
            for table in TABLES:
                sizes = c.execute(
                    sa.text("SELECT pg_table_size(:t), pg_indexes_size(:t)"), {"t": table}
                ).one()
                figures[f"{table}_table_bytes"], figures[f"{table}_index_bytes"] = map(float, sizes)
        return figures
    finally:
        engine.dispose()


def fresh_database(cluster: Cluster, name: str) -> str:
    """A new empty database on the cluster; its URL."""
    admin = sa.create_engine(cluster.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return cluster.url(name)


def sqlite_run(server: Server, urls: list[str]) -> Outcome:
    """One ``feedsvc run`` over every source on SQLite (extraction on every core)."""
    directory = WORK / "sqlite"
    _clear(directory)
    config = write_config(directory, urls, None)
    offset, cpu, started = server.log_offset(), children_cpu(), time.monotonic()
    done = subprocess.run([*FEEDSVC, "-q", "--config", str(config), "run"], capture_output=True)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    requests, twice, most = counts(server, offset)
    ok, articles, stories = stored(f"sqlite:///{directory / 'data' / 'feedsvc.sqlite3'}")
    return Outcome(
        "sqlite run", 1, wall, cpu, ok, articles, stories, requests, twice, most, [done.returncode]
    )


def worker_command(config: Path, lease: str) -> list[str]:
    """One ``feedsvc worker --once`` with one extraction thread."""
    return [*FEEDSVC, "-q", "--config", str(config), "worker", "--once", "--workers", "1",
            "--poll", "1s", "--lease", lease]  # fmt: skip


def workers_run(
    server: Server, cluster: Cluster, urls: list[str], processes: int, lease: str, *, kill: bool
) -> Outcome:
    """``processes`` workers on a fresh PostgreSQL database (killing one, with ``kill``)."""
    name = f"kill{processes}" if kill else f"workers{processes}"
    directory = WORK / name
    _clear(directory)
    url = fresh_database(cluster, name)
    config = write_config(directory, urls, url)
    subprocess.run([*FEEDSVC, "-q", "--config", str(config), "status"], capture_output=True)
    before = pg_figures(url)
    offset, cpu, started = server.log_offset(), children_cpu(), time.monotonic()
    procs = [subprocess.Popen(worker_command(config, lease), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(processes)]  # fmt: skip
    notes = _kill_one(procs, url, len(urls)) if kill else []
    codes = [_finish(p) for p in procs]
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    requests, twice, most = counts(server, offset)
    if kill:
        again = {p for p, n in server.paths_since(offset).items() if n > 1}
        held = {"/" + Path(urls[i]).name for i in KILLED_HELD}
        notes.append(f"requested twice: {len(again)}, all among the killed worker's leases: "
                     f"{again <= held}")  # fmt: skip
    ok, articles, stories = stored(url)
    after = pg_figures(url)
    db = {k: after[k] - before.get(k, 0.0) if k in ("commits", "inserted", "updated", "deleted")
          else after[k] for k in after}  # fmt: skip
    label = f"pg {processes} workers" + (" (kill -9 one)" if kill else "")
    return Outcome(label, processes, wall, cpu, ok, articles, stories, requests, twice, most,
                   codes, db, notes)  # fmt: skip


def _finish(proc: subprocess.Popen[bytes]) -> int:
    _, err = proc.communicate(timeout=3600)
    if proc.returncode not in (0, -signal.SIGKILL):
        print(err.decode(errors="replace")[-2000:], file=sys.stderr)
    return proc.returncode


def _kill_one(procs: list[subprocess.Popen[bytes]], url: str, total: int) -> list[str]:
    """Kill -9 the worker holding the most leases once a third of the sources are fetched."""
    engine = sa.create_engine(url)
    try:
        while True:
            with engine.connect() as c:
                done = c.execute(
                    sa.text("SELECT count(*) FROM sources WHERE last_fetch IS NOT NULL")
                ).scalar()
            if (done or 0) >= total // 3:
                break
            time.sleep(0.2)
        with engine.connect() as c:
            held = c.execute(sa.text(
                "SELECT w.pid, count(*) FROM sources s JOIN workers w ON w.id = s.lease_owner"
                " GROUP BY w.pid ORDER BY count(*) DESC")).all()  # fmt: skip
        pids = {p.pid: p for p in procs}
        victim_pid, leased = next(((pid, n) for pid, n in held if pid in pids), (procs[0].pid, 0))
        os.kill(victim_pid, signal.SIGKILL)
        with engine.connect() as c:
            names = c.execute(sa.text(
                "SELECT s.name FROM sources s JOIN workers w ON w.id = s.lease_owner"
                " WHERE w.pid = :pid"), {"pid": victim_pid}).scalars().all()  # fmt: skip
        KILLED_HELD[:] = [int(name[1:]) for name in names]
        return [f"killed pid {victim_pid} at {done} of {total} fetched, holding {leased} leases"]
    finally:
        engine.dispose()


def _clear(directory: Path) -> None:
    subprocess.run(["rm", "-rf", str(directory)], check=True)
    directory.mkdir(parents=True)


def report(rows: list[Outcome], corpus: corpora.Corpus) -> str:
    """The figures as a table and notes."""
    head = (
        f"{'configuration':28} {'wall s':>7} {'CPU s':>7} {'fetch/s':>8} {'sources':>7} "
        f"{'articles':>8} {'stories':>7} {'requests':>8} {'twice':>5} {'max/src':>7}"
    )
    lines = [f"== scaling: {corpus.describe()} ==", head]
    for r in rows:
        lines.append(
            f"{r.name:28} {r.wall:7.1f} {r.cpu:7.1f} {r.fetches_per_second:8.1f} "
            f"{r.sources:7d} {r.articles:8d} {r.stories:7d} {r.requests:8d} "
            f"{r.fetched_twice:5d} {r.max_per_source:7d}"
        )
    for r in rows:
        for note in r.notes:
            lines.append(f"  {r.name}: {note}")
        if r.db and r.articles:
            ins, upd, dele = (r.db[k] for k in ("inserted", "updated", "deleted"))
            lines.append(
                f"  {r.name}: {(ins + upd + dele) / r.articles:.1f} row writes per article "
                f"({ins:.0f} ins, {upd:.0f} upd, {dele:.0f} del), "
                f"{r.db['commits'] / max(r.sources, 1):.2f} commits per source; "
                f"exit codes {r.exit_codes}"
            )
    last = next((r for r in reversed(rows) if r.db), None)
    if last is not None and last.articles:
        for table in TABLES:
            t, i = last.db[f"{table}_table_bytes"], last.db[f"{table}_index_bytes"]
            lines.append(f"  size {table}: table {t / 1e6:.1f} MB, indexes {i / 1e6:.1f} MB "
                         f"({(t + i) / last.articles:.0f} B per article)")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run every configuration and print the figures (JSON in bench/.work/scaling/)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="feed count factor (1,000 feeds)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run (1,2,4)")
    parser.add_argument("--server", choices=("nginx", "python"), default="nginx")
    parser.add_argument("--lease", default="10s", help="the workers' lease (kill run: its wait)")
    parser.add_argument("--no-kill", action="store_true", help="skip the kill -9 run")
    args = parser.parse_args(argv)
    corpus = corpora.build("synthetic", REPO / "bench" / ".work", scale=args.scale,
                           shared=REPO.parent / "shared", regenerate=False)  # fmt: skip
    assert corpus is not None
    WORK.mkdir(parents=True, exist_ok=True)
    cluster = start_cluster()
    rows: list[Outcome] = []
    try:
        with serve(args.server, corpus.root, WORK / "server") as server:
            urls = [server.base_url + path for path in corpus.paths]
            rows.append(sqlite_run(server, urls))
            print(report(rows, corpus), flush=True)
            for count in (int(n) for n in args.workers.split(",")):
                rows.append(workers_run(server, cluster, urls, count, args.lease, kill=False))
                print(report(rows[-1:], corpus), flush=True)
            if not args.no_kill:
                rows.append(workers_run(server, cluster, urls, 4, args.lease, kill=True))
    finally:
        cluster.stop()
    print(report(rows, corpus))
    out = WORK / "scaling.json"
    out.write_text(
        json.dumps(
            [{**asdict(r), "fetches_per_second": r.fetches_per_second} for r in rows], indent=1
        )
    )
    print(f"figures in {out}")


if __name__ == "__main__":
    main()
