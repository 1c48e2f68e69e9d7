"""The two contenders, each step a separate whole process timed from start to exit.

* ``reader`` 3.26 in its own venv (``python -m venv`` + ``pip install``), driven by
  ``reader_driver.py``: first update, all-304 update, update after a tenth of the
  feeds changed, scheduled update (nothing due).
* ``feedsvc`` from this checkout's venv: ``run --all`` three times, then ``run``, plus
  ``--version`` for the process start-up cost. ``--timings`` is passed when
  ``feedsvc run --help`` offers it; its ``timings:`` line is parsed generically.
"""

from __future__ import annotations

import compileall
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
import venv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from speedlib.procstat import Measurement, run_measured
from speedlib.server import RequestCounts, Server

READER_REQUIREMENTS = ("reader==3.26", "sgmllib3k")
READER_VERSION = "3.26"
DRIVER = Path(__file__).with_name("reader_driver.py")
STEPS = ("first", "again", "changed", "due")
STEP_TITLES = {
    "first": "first full update",
    "again": "all-304 update",
    "changed": "a tenth changed",
    "due": "nothing due",
}
STEP_TITLES |= {f"version-{n}": f"--version #{n}" for n in range(1, 100)}
STEP_TITLES |= {f"floor-{n}": f"run {n}" for n in range(1, 100)}
SUMMARY = re.compile(r"(\d+) files written, (\d+) unchanged")

Timings = dict[str, float | int]


@dataclass(frozen=True, slots=True)
class StepRun:
    """One measured step of one tool."""

    tool: str
    step: str
    measurement: Measurement
    requests: RequestCounts
    server_cpu: float
    stdout: str
    timings: Timings = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Bench:
    """Where and against what the steps of one corpus run."""

    server: Server
    directory: Path
    timeout: float

    def measure(self, tool: str, step: str, command: list[str]) -> StepRun:
        """Run ``command`` as one measured step; print a progress line."""
        print(f"  {tool:<8} {STEP_TITLES.get(step, step)} ...", end="", flush=True)
        offset, server_cpu = self.server.log_offset(), self.server.cpu()
        prefix = self.directory / f"{tool}-{step}"
        m = run_measured(command, log_prefix=prefix, exclude=self.server.pids, timeout=self.timeout)
        requests = self.server.requests_since(offset)
        stdout = prefix.with_suffix(".out").read_text(errors="replace")
        server_cpu = self.server.cpu() - server_cpu
        run = StepRun(tool, step, m, requests, server_cpu, stdout, parse_timings(stdout))
        status = "" if m.returncode == 0 else f"  EXIT {m.returncode} (see {prefix}.err)"
        status = f"  TIMED OUT after {self.timeout:.0f} s" if m.timed_out else status
        print(f" {m.wall:.1f} s, {m.peak_rss / 2**20:.0f} MB, {requests.describe()}{status}")
        return run

    def interleave(
        self, plans: list[Plan], before: Callable[[str], None] = lambda step: None
    ) -> dict[str, list[StepRun]]:
        """Each step for every tool in turn (tools side by side in time); a timeout ends a tool.

        ``before(step)`` runs once ahead of each step, e.g. to change the served files.
        """
        runs: dict[str, list[StepRun]] = {plan.tool: [] for plan in plans}
        stopped: set[str] = set()
        for step in STEPS:
            before(step)
            for plan in plans:
                if plan.tool in stopped:
                    continue
                run = self.measure(plan.tool, step, plan.commands[step])
                runs[plan.tool].append(run)
                if run.measurement.timed_out:
                    print(
                        f"  {plan.tool:<8} later steps skipped: the {STEP_TITLES[step]} timed out"
                    )
                    stopped.add(plan.tool)
        return runs


@dataclass(frozen=True, slots=True)
class Plan:
    """One tool's command per step on one corpus, and how to count what it stored."""

    tool: str
    commands: dict[str, list[str]]
    counts: Callable[[], dict[str, int]]


def parse_timings(stdout: str) -> Timings:
    """The ``key=value`` pairs of the last ``timings:`` line (ints stay ints)."""
    lines = [line for line in stdout.splitlines() if line.startswith("timings:")]
    found: Timings = {}
    for token in lines[-1].removeprefix("timings:").split() if lines else ():
        key, _, value = token.partition("=")
        try:
            found[key] = int(value) if value.lstrip("-").isdigit() else float(value.rstrip("s"))
        except ValueError:
            continue
    return found


def files_summary(stdout: str) -> tuple[int, int] | None:
    """(written, unchanged) from feedsvc's summary line, if it has one."""
    match = SUMMARY.search(stdout)
    return (int(match[1]), int(match[2])) if match else None


class Reader:
    """``reader`` in the benchmark's own venv."""

    def __init__(self, scratch: Path) -> None:
        self.venv = scratch / "reader-venv"
        self.python = self.venv / "bin" / "python"

    def ensure(self) -> None:
        """Create the venv and install reader unless it is there already."""
        check = [
            str(self.python),
            "-c",
            f"import reader; assert reader.__version__ == '{READER_VERSION}'",
        ]
        if self.python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
            return
        print(f"[reader] installing {' '.join(READER_REQUIREMENTS)} into {self.venv}", flush=True)
        venv.create(self.venv, with_pip=True, clear=True)
        pip = [str(self.python), "-m", "pip", "install", "--quiet", *READER_REQUIREMENTS]
        subprocess.run(pip, check=True)

    def plan(self, bench: Bench, urls: Path) -> Plan:
        """Every step on a fresh database."""
        db = bench.directory / "reader.sqlite"
        for stale in bench.directory.glob("reader.sqlite*"):
            stale.unlink()
        commands = {step: self._command(step, db, urls) for step in STEPS}
        return Plan("reader", commands, lambda: self._counts(db, urls))

    def _counts(self, db: Path, urls: Path) -> dict[str, int]:
        out = subprocess.run(self._command("count", db, urls), capture_output=True, text=True)
        counts: dict[str, int] = json.loads(out.stdout) if out.returncode == 0 else {}
        return counts

    def _command(self, step: str, db: Path, urls: Path) -> list[str]:
        return [str(self.python), str(DRIVER), step, str(db), str(urls)]


class Feedsvc:
    """``feedsvc`` from the venv that runs this benchmark."""

    def __init__(self, scratch: Path) -> None:
        script = Path(sys.executable).with_name("feedsvc")
        self.base = [str(script)] if script.exists() else [sys.executable, "-m", "feedsvc"]
        self.compiled = compile_package()
        self.timings = "--timings" in self._output("run", "--help")
        self.allow_private = self._accepts_allow_private(scratch)

    def _output(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True)
        return done.stdout + done.stderr

    def _accepts_allow_private(self, scratch: Path) -> bool:
        """Whether ``settings.fetch.allow_private_addresses`` is a known key (probed once)."""
        probe = scratch / "probe"
        probe.mkdir(parents=True, exist_ok=True)
        config = probe / "sources.yaml"
        config.write_text(
            "settings:\n  fetch:\n    allow_private_addresses: true\nsources: []\n",
            encoding="utf-8",
        )
        done = subprocess.run([*self.base, "--config", str(config), "check"], capture_output=True)
        return done.returncode == 0

    def version(self) -> str:
        """What ``feedsvc --version`` says."""
        return self._output("--version").strip()

    def write_config(self, directory: Path, urls: list[str]) -> Path:
        """A sources.yaml listing every URL as a feed source, fetched hourly."""
        lines = ["settings:", "  data_dir: data", "  output_dir: output", "  feed_size: 50"]
        if self.allow_private:
            lines += ["  fetch:", "    allow_private_addresses: true"]
        lines.append("sources:")
        for index, url in enumerate(urls):
            lines += [f"  - name: f{index:05d}", "    kind: feed", f"    url: {url}"]
            lines.append("    interval: 1h")
        config = directory / "sources.yaml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return config

    def plan(self, bench: Bench, urls: list[str]) -> Plan:
        """Every step on a fresh data and output dir."""
        directory = bench.directory / "feedsvc"
        _clear(directory)
        config = self.write_config(directory, urls)
        timings = ["--timings"] if self.timings else []
        commands = {
            "first": ["--config", str(config), "run", "--all", *timings],
            "again": ["--config", str(config), "run", "--all", *timings],
            "changed": ["--config", str(config), "run", "--all", *timings],
            "due": ["--config", str(config), "run", *timings],
        }
        full = {step: [*self.base, *args] for step, args in commands.items()}
        return Plan("feedsvc", full, lambda: self._counts(config))

    def _counts(self, config: Path) -> dict[str, int]:
        out = self._output("--config", str(config), "sources", "--json")
        try:
            states = json.loads(out)
        except json.JSONDecodeError:
            return {}
        counts = {"feeds": len(states), "entries": sum(s["articles"] or 0 for s in states)}
        counts["broken"] = sum(1 for s in states if s["status"] == "error")
        return counts

    def startup(self, bench: Bench, repeat: int) -> float:
        """Median wall time of ``feedsvc --version`` over ``repeat`` processes."""
        walls = [
            bench.measure("feedsvc", f"version-{n + 1}", [*self.base, "--version"]).measurement.wall
            for n in range(repeat)
        ]
        return statistics.median(walls)


def compile_package() -> int:
    """Compile feedsvc's modules to bytecode beforehand, as ``pip install`` does; how many.

    This checkout is installed in editable mode, whose modules are compiled
    when first imported and the bytecode cached beside them, unless the
    environment says not to (``PYTHONDONTWRITEBYTECODE``, set on some
    machines): then every process, workers included, compiles every module it
    imports again, about 0.1 s a process here. reader's modules were compiled
    by pip when its venv was made; this makes the two start alike.
    """
    spec = importlib.util.find_spec("feedsvc")
    if spec is None or spec.origin is None:
        raise SystemExit("feedsvc is not installed in the venv that runs this benchmark")
    package = Path(spec.origin).parent
    compileall.compile_dir(package, quiet=1)
    return sum(1 for _ in package.rglob("*.py"))


def _clear(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
