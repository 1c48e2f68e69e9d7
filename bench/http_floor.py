"""The HTTP floor of an all-304 update: conditional GETs alone, against whole updates (issue 7).

An all-304 update of the 1,000-feed synthetic corpus is 1,000 conditional
GETs that each answer 304, plus whatever the tool does around them. This
runs, on the same nginx and the same corpus, each a whole process, alternated
``--runs`` times (default 3):

- ``reader all-304``: reader 3.26's update of every feed (as ``make bench-speed``);
- ``feedsvc all-304``: ``feedsvc run --all`` (as ``make bench-speed``);
- ``requests GETs``: the 1,000 GETs alone through requests, one at a time
  (reader's client and reader's way), nothing parsed or stored;
- ``httpx GETs``: the 1,000 GETs alone through one httpx.AsyncClient, two in
  flight (feedsvc's client and its default per-host limit).

It prints the median wall of each and what the issue's target leaves: twice
reader's throughput is half reader's wall, and the httpx line is the part of
that budget the required HTTP client takes before feedsvc reads its sources
file, opens its database or records an answer. Both updates are first run
once, untimed, to fill their databases. Compare ratios, not seconds: the
machine is shared and noisy.

usage: python bench/http_floor.py [--runs N] [--work DIR] [--server nginx|python]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import httpx
from speedlib import corpus as corpora
from speedlib.runners import Bench, Feedsvc, Reader
from speedlib.server import serve

HERE = Path(__file__).resolve().parent
PROBE = HERE / "speedlib" / "http_probe.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="alternated runs of each")
    parser.add_argument("--work", type=Path, default=HERE / ".work", help="scratch dir")
    parser.add_argument("--server", choices=("nginx", "python"), default="nginx")
    return parser.parse_args(argv)


def validators(urls: list[str]) -> dict[str, list[str]]:
    """Each URL's ETag and Last-Modified, from one GET each."""
    found = {}
    with httpx.Client() as client:
        for url in urls:
            headers = client.get(url).headers
            found[url] = [headers.get("etag", ""), headers.get("last-modified", "")]
    return found


def main(argv: list[str] | None = None) -> int:
    """Measure the four ways; print medians, ratios and the budget."""
    args = parse_args(argv)
    shared = HERE.parent.parent / "shared"
    corpus = corpora.build(
        "synthetic", args.work / "corpora", scale=1.0, shared=shared, regenerate=False
    )
    assert corpus is not None  # the synthetic corpus needs nothing from ../shared
    directory = args.work / "runs" / "http-floor"
    directory.mkdir(parents=True, exist_ok=True)
    reader, feedsvc = Reader(args.work), Feedsvc(args.work)
    reader.ensure()
    with serve(args.server, corpus.root, directory / "server") as server:
        urls = [server.base_url + path for path in corpus.paths]
        urls_file = directory / "urls.txt"
        urls_file.write_text("\n".join(urls) + "\n", encoding="utf-8")
        pairs = directory / "validators.json"
        pairs.write_text(json.dumps(validators(urls)), encoding="utf-8")
        bench = Bench(server, directory, timeout=600.0)
        plans = {"reader": reader.plan(bench, urls_file), "feedsvc": feedsvc.plan(bench, urls)}
        for tool, plan in plans.items():
            bench.measure(tool, "first", plan.commands["first"])  # fills its database
        ways = {
            "reader all-304": ("reader", plans["reader"].commands["again"]),
            "feedsvc all-304": ("feedsvc", plans["feedsvc"].commands["again"]),
            "requests GETs": ("requests", [str(reader.python), str(PROBE), "requests"]),
            "httpx GETs": ("httpx", [sys.executable, str(PROBE), "httpx"]),
        }
        walls: dict[str, list[float]] = {way: [] for way in ways}
        for n in range(args.runs):
            for way, (tool, command) in ways.items():
                if tool in ("requests", "httpx"):
                    command = [*command, str(urls_file), str(pairs)]
                run = bench.measure(tool, f"floor-{n + 1}", command)
                if run.requests.not_modified != len(urls):
                    print(f"    {way}: {run.requests.describe()} (expected all 304)")
                walls[way].append(run.measurement.wall)
    print(report(walls))
    return 0


def report(walls: dict[str, list[float]]) -> str:
    """The medians (and spread), each against reader's all-304, and the target's budget."""
    reader = statistics.median(walls["reader all-304"])
    lines = ["", "way                  median s  (min-max)      reader / way"]
    for way, seconds in walls.items():
        median = statistics.median(seconds)
        spread = f"({min(seconds):.2f}-{max(seconds):.2f})"
        lines.append(f"{way:<20} {median:8.2f}  {spread:<13}  {reader / median:5.2f}×")
    budget, floor = reader / 2, statistics.median(walls["httpx GETs"])
    lines.append(
        f"\n2× reader's all-304 throughput = {budget:.2f} s for the whole feedsvc process; "
        f"the GETs alone through httpx take {floor:.2f} s = {floor / budget:.0%} of it."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
