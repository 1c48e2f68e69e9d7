"""The ``feedsvc`` command line: each command wires its arguments to the service.

Commands are plain functions whose docstring is their help. No logic lives
here beyond presentation and exit codes:

====  ==============================================================
code  meaning
====  ==============================================================
0     everything went well
1     the run finished, but one or more sources failed
2     the command line was wrong, named an article that does not exist, or an unusable input
74    the database or the output directory could not be used
75    another ``feedsvc run`` holds the lock, or another process publishes; try again later
78    the configuration is invalid (every problem is printed)
====  ==============================================================
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc import __version__
from feedsvc.errors import ConfigError, LockedError, NotFoundError, PublishError, StoreError

if TYPE_CHECKING:
    from feedsvc.service import Service
    from feedsvc.stories import Explanation
    from feedsvc.types import SourceState, StoredDecision, StoryView

EXIT_OK = 0
EXIT_SOURCES_FAILED = 1
EXIT_USAGE = 2
EXIT_IO = 74
EXIT_LOCKED = 75
EXIT_CONFIG = 78

log = logging.getLogger("feedsvc.cli")

Command = Callable[[argparse.Namespace], int]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def service_for(path: Path) -> Service:
    """The service for the config file at ``path`` (the stack loads here, not at start-up)."""
    from feedsvc.service import Service

    return Service.from_path(path)


def cmd_run(args: argparse.Namespace) -> int:
    """Fetch every due source once, store new articles, publish the feeds, and exit."""
    from feedsvc.quickrun import IDLE_SUMMARY, quick_idle_run
    from feedsvc.timing import format_timings

    started = time.perf_counter()
    ticket = None if args.all else quick_idle_run(args.config, utc_now)
    if ticket is not None:  # decided from the config's ticket, without parsing the config
        seconds = time.perf_counter() - started
        if not args.quiet:
            print(f"feedsvc: {IDLE_SUMMARY} ({seconds:.1f}s); feeds in {ticket.output_dir}/")
        if args.timings:
            print(format_timings({"total": seconds}))
        return EXIT_OK

    from feedsvc.config import read_config
    from feedsvc.idle_ticket import ticket_for, write_ticket
    from feedsvc.progress import TerminalProgress, log_progress, summary
    from feedsvc.quickrun import idle_run

    config, text = read_config(args.config)
    write_ticket(args.config, text, ticket_for(config))  # the next idle run need not parse it
    result = None if args.all else idle_run(config, utc_now)
    if result is None:  # something may be due: load the whole stack
        from feedsvc.service import Service

        progress = TerminalProgress(sys.stderr) if sys.stderr.isatty() else log_progress
        service = Service(config)
        result = service.run_once(force=args.all, workers=args.workers, progress=progress)
    output = config.settings.output_dir
    if result.failed or not args.quiet:
        print(f"feedsvc: {summary(result)}; feeds in {output}/")
    if args.timings:
        print(format_timings(result.timings))
    for failed in result.failed:
        print(f"feedsvc: {failed.source}: {failed.error}", file=sys.stderr)
    return EXIT_SOURCES_FAILED if result.failed else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the configuration file and report what it defines (--rules: try the tag rules)."""
    from feedsvc.config import load_config

    config = load_config(args.config)
    enabled = sum(1 for s in config.sources if s.enabled)
    rules = sum(1 for tag in config.tags.tags if tag.match is not None)
    print(
        f"{args.config}: ok: {len(config.sources)} sources ({enabled} enabled),"
        f" {len(config.tags.tags)} tags ({rules} with rules)"
    )
    if args.rules:
        from feedsvc.cli_tags import format_rule_counts

        print(format_rule_counts(*service_for(args.config).rule_counts()))
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    """Rewrite the published feeds from the database without fetching."""
    result = service_for(args.config).publish()
    if not args.quiet:  # as ``run``'s summary: quiet says nothing when all went well
        print(f"feedsvc: {len(result.written)} files written, {len(result.unchanged)} unchanged")
    return EXIT_OK


def cmd_sources(args: argparse.Namespace) -> int:
    """List each source with its last fetch, status, error and article count."""
    states = service_for(args.config).sources()
    if args.json:
        print(json.dumps([_state_json(s) for s in states], indent=2))
    else:
        print(format_sources(states))
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the published feeds of the output directory over HTTP, with /healthz and /metrics."""
    from feedsvc.metrics import Metrics, store_metrics  # loaded only for this command
    from feedsvc.serve import cache_seconds_for, create_app, serve_forever

    service = service_for(args.config)
    with service.open_store() as store:
        app = create_app(
            service.config.settings.output_dir,
            cache_seconds=cache_seconds_for(service.config.sources),
            metrics=store_metrics(Metrics(), store.source_states),
        )
        try:
            serve_forever(app, args.host, args.port, access_log=args.verbose > 0)
        except OSError as exc:
            print(f"feedsvc: cannot serve on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return EXIT_IO
    return EXIT_OK


def cmd_daemon(args: argparse.Namespace) -> int:
    """Run continuously: fetch each source when due, publish what arrives; SIGHUP reloads."""
    from feedsvc.config import parse_duration  # the daemon's modules load only for it
    from feedsvc.daemon import ServeOptions, run_daemon

    serve = ServeOptions(args.host, args.port) if args.serve else None
    try:
        tick = parse_duration(args.tick)
    except ValueError as exc:
        print(f"feedsvc: --tick: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_daemon(args.config, tick=tick, workers=args.workers, serve=serve)


def cmd_stories(args: argparse.Namespace) -> int:
    """List recent stories, each with its representative and the other outlets."""
    service = service_for(args.config)
    views = service.stories(args.limit)
    titles = {s.name: s.title for s in service.config.sources}
    print(format_stories(views, titles) if views else "no stories yet")
    return EXIT_OK


def cmd_stories_explain(args: argparse.Namespace) -> int:
    """Say why two articles (given as SOURCE:ID) are, or are not, in one story, and their tags."""
    from feedsvc.cli_tags import tag_lines

    service = service_for(args.config)
    explanation = service.explain(args.a, args.b)
    placed = {"A": service.story_decision(args.a), "B": service.story_decision(args.b)}
    tags = [
        *tag_lines(service.explain_tags(args.a), "A"),
        *tag_lines(service.explain_tags(args.b), "B"),
    ]
    print("\n".join([format_explanation(explanation), *format_decisions(placed), *tags]))
    return EXIT_OK


def format_stories(views: Sequence[StoryView], titles: Mapping[str, str]) -> str:
    """A plain-text list of stories and their members."""
    lines = []
    for view in views:
        rep = view.representative
        lines.append(f"{view.id}  {_when(rep.published)}  {rep.title}")
        for article, mark in [(rep, " *"), *((a, "") for a in view.others)]:
            outlet = titles.get(article.source, article.source)
            lines.append(f"    {outlet}{mark}: {article.title}  [{article.source}:{article.id}]")
    return "\n".join(lines)


def format_explanation(explanation: Explanation) -> str:
    """The signals and verdict of ``stories explain`` as text."""
    verdict = (
        f"same story ({explanation.story_a})"
        if explanation.same_story
        else f"different stories ({explanation.story_a} / {explanation.story_b})"
    )
    lines = [
        f"A: {explanation.a_id}",
        f"B: {explanation.b_id}",
        f"verdict: {verdict}",
        f"score: {explanation.score:.4f}",
        "signals:",
        *(
            f"  {name:<20} {value:.4f}"
            for name, value in sorted(explanation.signals.items())
            if not name.startswith("model.")
        ),
        *_contribution_lines(explanation.signals),
        f"why: {explanation.reason}",
    ]
    return "\n".join(lines)


def format_decisions(placed: Mapping[str, StoredDecision | None]) -> list[str]:
    """How the story rounds placed each article, as stored (the engine above only replays)."""
    lines = ["placed by the story rounds:"]
    for name, decision in placed.items():
        if decision is None:
            lines.append(f"  {name}: in no story yet (the next run places it)")
            continue
        if decision.layer == "new":
            how = f"a new story (best candidate {decision.score:.3f})"
        else:
            via = f" via {decision.matched}" if decision.matched else ""
            how = f"{decision.layer} {decision.score:.3f}{via}"
        lines.append(f"  {name}: {how}, {_when(decision.decided_at)}; now in {decision.story_id}")
    return lines


def _contribution_lines(signals: Mapping[str, float]) -> list[str]:
    """The model's per-feature contributions to the log-odds, largest effect first."""
    parts = {k.removeprefix("model."): v for k, v in signals.items() if k.startswith("model.")}
    if not parts:
        return []
    total = sum(parts.values())
    ordered = sorted(parts.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    return [
        "model (contributions to the log-odds of one story, from content alone):",
        *(f"  {name:<20} {value:+.4f}" for name, value in ordered),
        f"  {'= log-odds':<20} {total:+.4f}",
    ]


def format_sources(states: Sequence[SourceState]) -> str:
    """A plain-text table of source states."""
    header = ("NAME", "STATUS", "LAST FETCH", "NEXT FETCH", "FAILS", "ARTICLES", "NOTE", "ERROR")
    rows = [header] + [
        (
            s.name,
            "gone" if s.disabled_at else s.last_status or "never",
            _when(s.last_fetch),
            _next_fetch(s),
            str(s.failures),
            str(s.article_count),
            source_note(s),
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


def _next_fetch(state: SourceState) -> str:
    if state.disabled_at is not None:
        return "never"
    return _when(state.next_fetch_after) if state.next_fetch_after else "due"


def source_note(state: SourceState) -> str:
    """What a source's URL is doing: gone (410), moved to an adopted URL, a redirect on trial."""
    redirect = state.redirect
    if state.disabled_at is not None:
        return f"gone ({state.http_status or 410}): disabled until its url changes"
    if redirect.pending_url and redirect.pending_since:
        since = _when(redirect.pending_since)
        return f"redirects permanently to {redirect.pending_url} (since {since})"
    if redirect.adopted_url:
        return f"moved: now fetched from {redirect.adopted_url}"
    return ""


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
        "adopted_url": state.redirect.adopted_url,
        "pending_redirect": state.redirect.pending_url,
        "pending_redirect_since": _iso(state.redirect.pending_since),
        "disabled_at": _iso(state.disabled_at),
        "disabled_reason": state.disabled_reason,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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
    run.add_argument(
        "--timings", action="store_true", help="print the seconds each stage took (timings: ...)"
    )
    check = _add(commands, "check", cmd_check)
    check.add_argument(
        "--rules", action="store_true", help="count the stored articles each tag rule would match"
    )
    _add(commands, "publish", cmd_publish)
    sources = _add(commands, "sources", cmd_sources)
    sources.add_argument("--json", action="store_true", help="machine-readable output")
    stories = _add(commands, "stories", cmd_stories)
    stories.add_argument("--limit", type=int, default=20, help="how many stories (default 20)")
    explain = stories.add_subparsers(dest="stories_command", metavar="explain").add_parser(
        "explain", help=cmd_stories_explain.__doc__, description=cmd_stories_explain.__doc__
    )
    explain.add_argument("a", metavar="SOURCE:ID")
    explain.add_argument("b", metavar="SOURCE:ID")
    explain.set_defaults(handler=cmd_stories_explain)
    _add_tag_commands(commands)
    from feedsvc.cli_workers import add_worker_commands

    add_worker_commands(commands)
    from feedsvc.cli_cluster import cmd_cluster

    cluster = _add(commands, "cluster", cmd_cluster)
    cluster.add_argument("--input", type=Path, required=True, help="items as JSON lines, or -")
    serve = _add(commands, "serve", cmd_serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    daemon = _add(commands, "daemon", cmd_daemon)
    daemon.add_argument("--tick", default="30s", help="how often to look for due sources (30s)")
    daemon.add_argument("--workers", type=int, default=None, help="extraction processes")
    daemon.add_argument("--serve", action="store_true", help="also serve output/ over HTTP")
    daemon.add_argument("--host", default="127.0.0.1", help="with --serve: address (127.0.0.1)")
    daemon.add_argument("--port", type=int, default=8080, help="with --serve: port (8080)")
    return parser


def _add_tag_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from feedsvc import cli_tags as t

    tags = _add(commands, "tags", t.cmd_tags)
    tags.add_argument("--json", action="store_true", help="machine-readable output")
    explain = tags.add_subparsers(dest="tags_command", metavar="explain").add_parser(
        "explain", help=t.cmd_tags_explain.__doc__, description=t.cmd_tags_explain.__doc__
    )
    explain.add_argument("ref", metavar="SOURCE:ID")
    explain.set_defaults(handler=t.cmd_tags_explain)
    _add(commands, "config-schema", t.cmd_config_schema)
    opml_in = _add(commands, "import-opml", t.cmd_import_opml)
    opml_in.add_argument("file", type=Path, metavar="FILE", help="an OPML subscription list")
    opml_in.add_argument("--dry-run", action="store_true", help="report, change nothing")
    opml_out = _add(commands, "export-opml", t.cmd_export_opml)
    opml_out.add_argument("-o", "--output", type=Path, default=None, help="file (default stdout)")


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
        noisy_loggers = ("httpx", "httpcore", "trafilatura", "htmldate", "courlan", "alembic")
        for noisy in (*noisy_loggers, "apscheduler"):
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
    except NotFoundError as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LockedError as exc:
        print(f"feedsvc: {exc}; is another run still going?", file=sys.stderr)
        return EXIT_LOCKED
    except (StoreError, PublishError) as exc:
        print(f"feedsvc: {exc}", file=sys.stderr)
        return EXIT_IO
