"""Whole-process speed benchmark of feedsvc against the ``reader`` library (issue 7).

Builds deterministic corpora in a scratch dir, serves each with a static server
on loopback, runs reader 3.26 and feedsvc on it (first full update, all-304
update, an update after a tenth of the feeds gained an entry, nothing due; each
step one whole process), and prints per corpus a
table of wall times, throughputs, peak RSS of the process tree and the
reader/feedsvc ratios, then feedsvc's per-stage costs and the targets block.
The machine is noisy: compare ratios from one run, not absolute times.

With ``--repeat N`` the whole measurement (every corpus, both tools) runs N
times in turn; each run prints its tables and targets, and the end prints
each target over the N runs: how often it was met and the spread of its
figure (median, lowest, highest), since one run on this machine can be off
by a tenth either way.

usage: python bench/speed.py [--corpus synthetic,realistic,synthetic10] [--scale F]
                             [--server nginx|python] [--reader-10x] [--no-reader]
                             [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from speedlib import corpus as corpora
from speedlib.churn import add_entries, served_copy
from speedlib.corpus import Corpus
from speedlib.procstat import become_subreaper
from speedlib.report import CorpusResult, corpus_report, to_json
from speedlib.runners import Bench, Feedsvc, Reader
from speedlib.server import serve
from speedlib.targets import Target, check, spread

REPO = Path(__file__).resolve().parents[1]
DEFAULT_WORK = REPO / "bench" / ".work"
DEFAULT_SHARED = REPO.parent / "shared"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        default="synthetic,realistic,synthetic10",
        help="comma-separated corpora among synthetic, realistic, synthetic10 (default: all)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="feed count factor (quick runs)")
    parser.add_argument("--server", choices=("nginx", "python"), default="nginx")
    parser.add_argument("--reader-10x", action="store_true", help="run reader on synthetic10 too")
    parser.add_argument("--no-reader", action="store_true", help="run feedsvc only")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch dir")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ dir")
    parser.add_argument("--regenerate", action="store_true", help="rebuild cached corpora")
    parser.add_argument("--startup-runs", type=int, default=5, help="feedsvc --version runs")
    parser.add_argument("--step-timeout", type=float, default=3600.0, help="seconds per step")
    parser.add_argument(
        "--timeout-10x",
        type=float,
        default=600.0,
        help="seconds per step on synthetic10 (default 600: keeps the default run under ~25 min)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="measure everything N times; print the spread"
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.corpora = [c.strip() for c in args.corpus.split(",") if c.strip()]
    unknown = set(args.corpora) - set(corpora.NAMES)
    if unknown:
        parser.error(f"unknown corpus {', '.join(sorted(unknown))}; choose from {corpora.NAMES}")
    return args


def describe_checkout() -> str:
    """The commit of feedsvc/ (the last one that changed it) and of the checkout."""
    try:
        code = _git("log", "-1", "--format=%h", "--", "feedsvc")
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "feedsvc")
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return f"feedsvc/ at {code}" + (" + local changes" if dirty else "") + f", HEAD {head}"


def _git(*args: str) -> str:
    command = ["git", "-C", str(REPO), *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def run_corpus(
    name: str, args: argparse.Namespace, reader: Reader | None, feedsvc: Feedsvc
) -> CorpusResult | None:
    """Build, serve and measure one corpus."""
    corpus = corpora.build(
        name,
        args.work / "corpora",
        scale=args.scale,
        shared=args.shared,
        regenerate=args.regenerate,
    )
    if corpus is None:
        return None
    directory = args.work / "runs" / name
    directory.mkdir(parents=True, exist_ok=True)
    served = served_copy(corpus, directory / "served")
    with serve(args.server, served, directory / "server") as server:
        print(f"[{name}] {corpus.describe()}; {args.server} on {server.base_url}", flush=True)
        urls = [server.base_url + path for path in corpus.paths]
        urls_file = directory / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
        timeout = args.timeout_10x if name == "synthetic10" else args.step_timeout
        bench = Bench(server, directory, timeout)
        use_reader = reader is not None and (name != "synthetic10" or args.reader_10x)
        plans = [reader.plan(bench, urls_file)] if use_reader and reader else []
        plans.append(feedsvc.plan(bench, urls))
        runs = bench.interleave(plans, lambda step: _change(step, corpus, served))
        counts = {plan.tool: plan.counts() for plan in plans}
        startup = feedsvc.startup(bench, args.startup_runs)
    return CorpusResult(
        corpus,
        args.server,
        runs["feedsvc"],
        counts["feedsvc"],
        startup,
        runs.get("reader"),
        counts.get("reader"),
    )


def _change(step: str, corpus: Corpus, served: Path) -> None:
    """Before the "changed" step, a tenth of the served feeds gain an entry."""
    if step == "changed":
        print(f"  [{corpus.name}] {add_entries(corpus, served).describe()}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the tables and targets; write speed-results.json."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers on kill
    started = time.monotonic()
    args.work.mkdir(parents=True, exist_ok=True)
    if not become_subreaper():
        print("warning: not a child subreaper; orphaned workers may escape the CPU count")
    feedsvc = Feedsvc(args.work)
    reader = None if args.no_reader else Reader(args.work)
    if reader:
        reader.ensure()
    header = (
        f"feedsvc speed benchmark: {feedsvc.version()} ({describe_checkout()}); "
        f"reader {'3.26' if reader else 'skipped'}; {platform.python_implementation()} "
        f"{platform.python_version()}; {os.cpu_count()} cores; "
        f"run --timings: {'yes' if feedsvc.timings else 'no'}; "
        f"allow_private_addresses: {'set' if feedsvc.allow_private else 'not known'}; "
        f"feedsvc's {feedsvc.compiled} modules compiled to bytecode beforehand (as pip does)"
    )
    print(header, flush=True)
    rounds: list[dict[str, object]] = []
    checked: list[list[Target]] = []
    for number in range(1, args.repeat + 1):
        if args.repeat > 1:
            print(f"\n=== run {number} of {args.repeat} ===", flush=True)
        results: dict[str, CorpusResult] = {}
        for name in args.corpora:
            result = run_corpus(name, args, reader, feedsvc)
            if result is not None:
                results[name] = result
                print(corpus_report(result), flush=True)
        targets = check(results)
        print("\ntargets (ratios measured in this run):")
        print("\n".join(t.line() for t in targets))
        checked.append(targets)
        rounds.append(
            {
                "corpora": {name: to_json(result) for name, result in results.items()},
                "targets": [
                    {"name": t.name, "measured": t.measured, "met": t.met, "value": t.value}
                    for t in targets
                ],
            }
        )
    if args.repeat > 1:
        print(
            f"\ntargets over {args.repeat} runs (met in all / none / k of n; figures in run order):"
        )
        print("\n".join(spread(checked)))
    minutes = (time.monotonic() - started) / 60
    record = {
        "header": header,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": args.scale,
        "minutes": minutes,
        **rounds[-1],  # the last run's figures where one run used to stand
        "runs": rounds,
    }
    out = args.work / "speed-results.json"
    out.write_text(json.dumps(record, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"\nresults in {out}; whole run {minutes:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
