"""The ``worker`` and ``status`` commands of the ``feedsvc`` command line.

Like ``cli``: each command is a plain function whose docstring is its help;
it wires arguments to the service and formats what comes back. No logic.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedsvc.types import WorkerState, WorkLoad

EXIT_OK = 0
EXIT_SOURCES_FAILED = 1
EXIT_USAGE = 2


def cmd_worker(args: argparse.Namespace) -> int:
    """Take due sources from the shared database and fetch them, beside other workers."""
    from feedsvc.cli import service_for
    from feedsvc.config import parse_duration
    from feedsvc.worker import ConfigReload, WorkerOptions

    try:
        options = WorkerOptions(
            once=args.once,
            batch=args.batch,
            lease=parse_duration(args.lease),
            poll=parse_duration(args.poll),
            publish=not args.no_publish,
            publish_every=parse_duration(args.publish_every),
            extract_workers=args.workers,
        )
    except ValueError as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    service = service_for(args.config)
    stop = threading.Event()
    reload = ConfigReload(args.config, threading.Event())
    with _stopped_by_signals(stop, reload.requested):
        result = service.worker(options, stop, reload)
    if not args.quiet:
        print(
            f"feedsvc: worker {result.worker}: {len(result.sources)} sources fetched, "
            f"{len(result.failed)} failed, {result.publishes} publishes"
        )
    for failed in result.failed:
        print(f"feedsvc: {failed.source}: {failed.error}", file=sys.stderr)
    return EXIT_SOURCES_FAILED if args.once and result.failed else EXIT_OK


@contextmanager
def _stopped_by_signals(stop: threading.Event, reload: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the batch in hand is abandoned, its leases given back);
    SIGHUP sets ``reload`` (the config file is read again before the next claim)."""
    signums = (signal.SIGTERM, signal.SIGINT)
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in signums}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda *_: reload.set())
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def cmd_status(args: argparse.Namespace) -> int:
    """Show the workers, the sources each holds, the lag and the throughput."""
    from feedsvc.cli import service_for

    workers, load = service_for(args.config).status()
    if args.json:
        print(json.dumps(status_json(workers, load), indent=2))
    else:
        print(format_status(workers, load))
    return EXIT_OK


def format_status(workers: Sequence[WorkerState], load: WorkLoad) -> str:
    """The status as a few aligned lines."""
    per_minute = load.fetched_recently / (load.window.total_seconds() / 60)
    lines = [
        f"due now     {load.due} sources ({load.leased} being fetched, "
        f"{load.never_fetched} never fetched)",
        f"lag         {_duration(load.lag)} (the most overdue source)",
        f"throughput  {per_minute:.1f} fetches/min over the last {_duration(load.window)}",
        f"workers     {sum(w.alive for w in workers)} alive",
    ]
    for worker in workers:
        lines.append("  " + _worker_line(worker))
    return "\n".join(lines)


def _worker_line(worker: WorkerState) -> str:
    state = "stopped" if worker.stopped_at else ("alive" if worker.alive else "silent")
    role = " publisher" if worker.publisher and worker.alive else ""
    held = ", ".join(worker.leases[:5]) + (" ..." if len(worker.leases) > 5 else "")
    uptime = (worker.stopped_at or worker.seen_at) - worker.started_at
    rate = worker.fetches / uptime.total_seconds() if uptime.total_seconds() > 0 else 0.0
    return (
        f"{worker.id}  {state}{role}  seen {_when(worker.seen_at)}  "
        f"{worker.fetches} fetches ({rate:.2f}/s), {worker.articles} articles  "
        f"holds {len(worker.leases)}{': ' + held if held else ''}"
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def status_json(workers: Sequence[WorkerState], load: WorkLoad) -> dict[str, object]:
    """The status as JSON-ready data."""
    return {
        "due": load.due,
        "leased": load.leased,
        "never_fetched": load.never_fetched,
        "lag_seconds": load.lag.total_seconds(),
        "fetched_recently": load.fetched_recently,
        "window_seconds": load.window.total_seconds(),
        "workers": [
            {
                "id": w.id,
                "host": w.host,
                "pid": w.pid,
                "alive": w.alive,
                "publisher": w.publisher,
                "started_at": w.started_at.isoformat(),
                "seen_at": w.seen_at.isoformat(),
                "stopped_at": w.stopped_at.isoformat() if w.stopped_at else None,
                "fetches": w.fetches,
                "articles": w.articles,
                "leases": list(w.leases),
            }
            for w in workers
        ],
    }


def add_worker_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``worker`` and ``status`` to the command parser."""
    from feedsvc.cli import _add

    worker = _add(commands, "worker", cmd_worker)
    worker.add_argument(
        "--once", action="store_true", help="take what is due now until none is left, then exit"
    )
    worker.add_argument("--batch", type=int, default=25, help="sources per claim (25)")
    worker.add_argument("--lease", default="10m", help="how long a claim lasts if we die (10m)")
    worker.add_argument("--poll", default="10s", help="how often to look when idle (10s)")
    worker.add_argument(
        "--no-publish", action="store_true", help="never take the publisher role (fetch only)"
    )
    worker.add_argument(
        "--publish-every", default="60s", help="as publisher, publish at most this often (60s)"
    )
    worker.add_argument("--workers", type=int, default=None, help="extraction processes")
    status = _add(commands, "status", cmd_status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
