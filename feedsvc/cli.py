"""The ``feedsvc`` command line: each command wires its arguments to the service.

Commands are plain functions whose docstring is their help. No logic lives
here beyond presentation and exit codes:

====  ==============================================================
code  meaning
====  ==============================================================
0     everything went well
1     the run finished, but one or more sources failed
2     the command line itself was wrong (argparse)
74    the database or the output directory could not be used
75    another ``feedsvc run`` holds the lock; try again later
78    the configuration is invalid (every problem is printed)
====  ==============================================================
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from feedsvc import __version__
from feedsvc.config import load_config
from feedsvc.errors import ConfigError, LockedError, PublishError, StoreError
from feedsvc.progress import TerminalProgress, log_progress, summary
from feedsvc.service import Service
from feedsvc.types import SourceState

EXIT_OK = 0
EXIT_SOURCES_FAILED = 1
EXIT_IO = 74
EXIT_LOCKED = 75
EXIT_CONFIG = 78

log = logging.getLogger("feedsvc.cli")

Command = Callable[[argparse.Namespace], int]


def cmd_run(args: argparse.Namespace) -> int:
    """Fetch every due source once, store new articles, publish the feeds, and exit."""
    service = Service.from_path(args.config)
    progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else log_progress
    result = service.run_once(force=args.all, workers=args.workers, progress=progress)
    output = service.config.settings.output_dir
    if result.failed or not args.quiet:
        print(f"feedsvc: {summary(result)}; feeds in {output}/")
    for failed in result.failed:
        print(f"feedsvc: {failed.source}: {failed.error}", file=sys.stderr)
    return EXIT_SOURCES_FAILED if result.failed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configuration file and report what it defines."""
    config = load_config(args.config)
    enabled = sum(1 for s in config.sources if s.enabled)
    print(f"{args.config}: ok: {len(config.sources)} sources ({enabled} enabled)")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    """Rewrite the published feeds from the database without fetching."""
    result = Service.from_path(args.config).publish()
    print(f"feedsvc: {len(result.written)} files written, {len(result.unchanged)} unchanged")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    """List each source with its last fetch, status, error and article count."""
    states = Service.from_path(args.config).sources()
    if args.json:
        print(json.dumps([_state_json(s) for s in states], indent=2))
    else:
        print(format_sources(states))
    return EXIT_OK


def format_sources(states: Sequence[SourceState]) -> str:
    """A plain-text table of source states."""
    header = ("NAME", "STATUS", "LAST FETCH", "NEXT FETCH", "FAILS", "ARTICLES", "ERROR")
    rows = [header] + [
        (
            s.name,
            s.last_status or "never",
            _when(s.last_fetch),
            _when(s.next_fetch_after) if s.next_fetch_after else "due",
            str(s.failures),
            str(s.article_count),
            (s.last_error or "")[:80],
        )
        for s in states
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ).rstrip()


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def _state_json(state: SourceState) -> dict[str, object]:
    return {
        "name": state.name,
        "location": state.location,
        "status": state.last_status,
        "http_status": state.http_status,
        "last_fetch": state.last_fetch.isoformat() if state.last_fetch else None,
        "next_fetch_after": state.next_fetch_after.isoformat() if state.next_fetch_after else None,
        "failures": state.failures,
        "error": state.last_error,
        "articles": state.article_count,
    }


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(prog="feedsvc", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"feedsvc {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        type=Path,
        default=Path(os.environ.get("FEEDSVC_CONFIG", "sources.yaml")),
        help="the sources file (default: $FEEDSVC_CONFIG or ./sources.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = _add(commands, "run", cmd_run)
    run.add_argument("--all", action="store_true", help="fetch every enabled source, due or not")
    run.add_argument(
        "--workers", type=int, default=None, help="extraction processes (default: cores)"
    )
    _add(commands, "check", cmd_check)
    _add(commands, "publish", cmd_publish)
    sources = _add(commands, "sources", cmd_sources)
    sources.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _add(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, fn: Command
) -> argparse.ArgumentParser:
    doc = (fn.__doc__ or "").strip()
    sub = commands.add_parser(name, help=doc, description=doc)
    sub.set_defaults(handler=fn)
    return sub


def configure_logging(verbose: int, quiet: bool) -> None:
    """Send key=value log lines to stderr at the level the flags ask for."""
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if verbose < 2:
        for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``feedsvc`` console script."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"feedsvc: invalid configuration:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    except LockedError as exc:
        print(f"feedsvc: {exc}; is another run still going?", file=sys.stderr)
        return EXIT_LOCKED
    except (StoreError, PublishError) as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return EXIT_IO
