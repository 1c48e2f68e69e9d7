"""Kill -9 at random moments in every stage of ``feedsvc run``, over and over.

A loopback corpus of outlets grows by one report per outlet at every run (the
same events reported by several outlets, so stories merge). Each run is a real
``feedsvc run --all`` subprocess, killed with SIGKILL after a random delay
aimed at one stage (start-up, fetch/extract/store, stories, publish: the stage
windows come from ``--timings`` of an uninterrupted run). After every kill:
the database passes ``PRAGMA integrity_check``, no article stored before is
gone, and every feed file in output/ parses whole (the old one or the new one).
After every completed run: every article is in exactly one story, story sizes
and representatives agree with the members, merged-away ids have no members,
no publish mark is left, every report served so far is stored once, and no
temporary file is left in output/ or data/.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.configs import feed_source, write_config
from tests.support.httpserver import LoopbackServer, RequestInfo, Response

REPO = Path(__file__).resolve().parents[1]
OUTLETS = 9
GROUPS = 3  # outlets i and j report the same events when i % GROUPS == j % GROUPS
KEEP = 25  # reports per feed
KILLS = 100
COMPLETE_EVERY = 10
STAGES = ("start-up", "cycle", "stories", "publish")
PLACES = [
    "Port Wendel", "Lowmere", "Valemont", "Nara", "Tidewater", "Quayside", "Harrowgate",
    "Fenwick", "Marlow Point", "Saltash", "Brindle", "Crowhaven", "Dunmore", "Eastreach",
    "Greyhollow", "Kestrel Bay", "Ormsby", "Pellham", "Redcliffe", "Sandwick",
]  # fmt: skip
SUBJECTS = [
    "ferry timetable changes after dredging overruns",
    "council approves a new flood wall",
    "library reopens with a maritime archive",
    "storm closes the causeway overnight",
    "fishing cooperative signs a cannery contract",
    "school roof repairs delayed by a supplier dispute",
    "hospital opens a night clinic for dock workers",
]
WORDINGS = [
    "{subject} in {place}: officials said {number} households near {other} are affected.",
    "In {place}, {subject}; {number} households close to {other} were told on Tuesday.",
    "{place} residents learn that {subject}. Around {number} homes by {other} will notice.",
]


@dataclass
class Corpus:
    """What the server publishes: every outlet's reports up to ``generation``."""

    generation: int = 0
    served: set[tuple[str, str]] = field(default_factory=set)

    def feed(self, outlet: int) -> bytes:
        group = outlet % GROUPS
        items = []
        for k in range(max(0, self.generation - KEEP + 1), self.generation + 1):
            guid = f"o{outlet}-{k}"
            self.served.add((f"outlet{outlet}", guid))
            place, other = PLACES[k % len(PLACES)], PLACES[(k * 7 + 3) % len(PLACES)]
            subject = SUBJECTS[k % len(SUBJECTS)]
            text = WORDINGS[group].format(
                subject=subject, place=place, other=other, number=100 + 13 * k
            )
            title = f"{place}: {subject} (report {k})"
            items.append(
                f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>"
                f"<link>https://outlet{outlet}.example/{k}</link><description>{text}</description>"
                f"<pubDate>Tue, 03 Nov 2026 {8 + k // 60:02d}:{k % 60:02d}:00 GMT</pubDate></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Outlet {outlet}</title>{''.join(items)}</channel></rss>"
        ).encode()


def run_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "feedsvc", "-q", "--config", str(config), "run", "--all"]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def complete_run(config: Path) -> dict[str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [*run_cmd(config), "--timings"], env=env(), capture_output=True, text=True, timeout=120
    )
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-2000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("timings: "))
    timings = {k: float(v) for k, v in (c.split("=") for c in line.split()[1:])}
    return {**timings, "wall": wall}


# --------------------------------------------------------------------------- checks


def db_connect(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "data" / "feedsvc.sqlite3", timeout=30)


def article_keys(tmp_path: Path) -> set[tuple[str, str]]:
    with db_connect(tmp_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return set(db.execute("SELECT source, id FROM articles").fetchall())


def check_output_whole(output: Path) -> list[str]:
    """Every visible output file parses completely; temporary files are listed."""
    temporary = []
    for path in output.rglob("*"):
        if not path.is_file():
            continue
        if path.name.startswith("."):
            temporary.append(path.name)
            continue
        data = path.read_bytes()
        if path.suffix in {".rss", ".atom", ".opml"}:
            ET.fromstring(data)  # raises on a truncated file
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".html":
            assert data.rstrip().endswith(b"</html>"), path
    return temporary


def check_stories(tmp_path: Path) -> None:
    with db_connect(tmp_path) as db:
        q = db.execute
        articles = q("SELECT COUNT(*) FROM articles").fetchone()[0]
        members = q("SELECT COUNT(*) FROM story_members").fetchone()[0]
        assert members == articles, "every article in exactly one story"
        orphans = q(
            "SELECT COUNT(*) FROM articles a LEFT JOIN story_members m"
            " ON m.source = a.source AND m.article_id = a.id WHERE m.story_id IS NULL"
        ).fetchone()[0]
        assert orphans == 0
        dangling = q(
            "SELECT COUNT(*) FROM story_members m LEFT JOIN stories s ON s.id = m.story_id"
            " WHERE s.id IS NULL"
        ).fetchone()[0]
        assert dangling == 0, "a member of a story that does not exist"
        sizes = q(
            "SELECT s.id, s.members, COUNT(m.article_id) FROM stories s"
            " LEFT JOIN story_members m ON m.story_id = s.id GROUP BY s.id"
        ).fetchall()
        wrong = [row for row in sizes if row[1] != row[2]]
        assert wrong == [], f"stories whose size disagrees with their members: {wrong[:5]}"
        reps = q(
            "SELECT COUNT(*) FROM stories s LEFT JOIN story_members m ON m.story_id = s.id"
            " AND m.source = s.rep_source AND m.article_id = s.rep_article_id"
            " WHERE m.story_id IS NULL"
        ).fetchone()[0]
        assert reps == 0, "a representative that is not a member"
        half = q(
            "SELECT COUNT(*) FROM story_aliases a JOIN story_members m ON m.story_id = a.alias"
        ).fetchone()[0]
        assert half == 0, "a merged-away story still has members"
        lost = q(
            "SELECT COUNT(*) FROM story_aliases a LEFT JOIN stories s ON s.id = a.story_id"
            " LEFT JOIN story_aliases b ON b.alias = a.story_id"
            " WHERE s.id IS NULL AND b.alias IS NULL"
        ).fetchone()[0]
        assert lost == 0, "an alias that leads nowhere"
        assert q("SELECT COUNT(*) FROM publish_marks").fetchone()[0] == 0


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(
        p.relative_to(tmp_path).as_posix()
        for d in ("output", "data")
        for p in (tmp_path / d).rglob(".*")
        if p.is_file() and p.name.endswith(".tmp")
    )


# --------------------------------------------------------------------------- the test


@pytest.mark.slow
def test_kill_minus_nine_at_random_moments_in_every_stage(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("FEEDSVC_KILL_SEED", "20261127")))
    corpus = Corpus()

    def answer(info: RequestInfo) -> Response:
        outlet = int(info.path.rsplit("/", 1)[1].removesuffix(".xml").removeprefix("o"))
        return Response(body=corpus.feed(outlet), headers={"Content-Type": "application/rss+xml"})

    with LoopbackServer() as server:
        sources = []
        for i in range(OUTLETS):
            server.handler(f"/o{i}.xml", answer)
            tags = [f"desk{i % GROUPS}", "all-desks"]
            sources.append(feed_source(f"outlet{i}", server.url(f"/o{i}.xml"), tags=tags))
        config = write_config(tmp_path, sources, fetch={"per_host": 8, "concurrency": 16})

        timings = complete_run(config)  # also measures the stage windows
        stored = article_keys(tmp_path)
        kills: Counter[str] = Counter()
        orphans: set[int] = set()
        seen_temporary: set[str] = set()
        findings: list[str] = []
        started = time.monotonic()
        n = 0
        while killed(kills) < KILLS:  # a run that ends before its moment is not a kill
            assert n < 2 * KILLS, f"runs keep ending before the kill: {kills}"
            corpus.generation += 1
            stage = STAGES[n % len(STAGES)]
            delay = kill_delay(stage, timings, rng)
            outcome = kill_after(config, delay, orphans)
            kills[f"{stage}:{outcome}"] += 1
            now_stored = article_keys(tmp_path)
            assert stored <= now_stored, f"articles lost after kill {n}: {stored - now_stored}"
            stored = now_stored
            temporary = set(check_output_whole(tmp_path / "output"))
            if temporary - seen_temporary:
                findings.append(f"kill {n} ({stage}): {len(temporary - seen_temporary)} new")
            seen_temporary = temporary
            if (n + 1) % COMPLETE_EVERY == 0:
                timings = complete_run(config)
                check_after_completed_run(tmp_path, corpus)
                stored = article_keys(tmp_path)
            n += 1
        timings = complete_run(config)
        check_after_completed_run(tmp_path, corpus)
        elapsed = time.monotonic() - started
        deadline = time.monotonic() + 20
        while still_running(orphans) and time.monotonic() < deadline:
            time.sleep(0.2)
    print(
        f"kill -9: {killed(kills)} kills in {n} runs, {elapsed:.0f}s: {dict(sorted(kills.items()))}"
    )
    print("temporary files left in output/ by kills (removed by the next publish):")
    print(*findings, sep="\n  ")
    assert killed(kills) == KILLS
    assert still_running(orphans) == set(), "processes of killed runs still running"
    assert all(kills[f"{s}:killed"] > 0 for s in STAGES), kills


def killed(kills: Counter[str]) -> int:
    return sum(count for key, count in kills.items() if key.endswith(":killed"))


def check_after_completed_run(tmp_path: Path, corpus: Corpus) -> None:
    assert check_output_whole(tmp_path / "output") == []
    assert leftovers(tmp_path) == []
    check_stories(tmp_path)
    keys = article_keys(tmp_path)
    missing = corpus.served - keys
    assert not missing, f"served but never stored: {sorted(missing)[:5]}"
    assert len(keys) == len(corpus.served)


def kill_delay(stage: str, timings: dict[str, float], rng: random.Random) -> float:
    """A moment inside ``stage`` of a run like the last complete one (seconds after start)."""
    cycle = timings["fetch"] + timings["store"]
    # Before the cycle: interpreter start-up, opening the store, starting the worker pool.
    before = timings["total"] - cycle - timings["stories"] - timings["publish"]
    startup = max(0.2, timings["wall"] - timings["total"] + max(0.0, before))
    windows = {
        "start-up": (0.0, startup),
        "cycle": (startup, startup + cycle),
        "stories": (startup + cycle, startup + cycle + timings["stories"]),
        "publish": (startup + cycle + timings["stories"], startup + timings["total"]),
    }
    low, high = windows[stage]
    return rng.uniform(low, max(high, low + 0.05))


def kill_after(config: Path, delay: float, orphans: set[int]) -> str:
    """Run, SIGKILL the run after ``delay`` unless it ended; note the processes it had started."""
    proc = subprocess.Popen(
        run_cmd(config), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=delay)
        return "finished"
    except subprocess.TimeoutExpired:
        orphans.update(descendants(proc.pid))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return "killed"


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (worker pools, forkserver, resource tracker)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def still_running(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive
