"""Whole-process measurements on Linux: wall time, CPU time and peak RSS of a process tree.

The benchmark process makes itself a *child subreaper*, so a grandchild left
behind by a measured command (feedsvc's forkserver and its workers) is
re-parented to it rather than to init: it stays in the measured tree while it
lives, and once reaped its CPU time lands in ``RUSAGE_CHILDREN``. The tree is
every descendant of this process except the excluded ones (the feed server).
RSS is sampled every ``SAMPLE_SECONDS`` from ``/proc`` and summed over the tree
(pages shared between forked processes count once per process, as ``ps`` does);
PSS, which splits shared pages between their processes, is sampled every
``PSS_EVERY`` samples (it costs a page-table walk) and reported beside it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.02
PSS_EVERY = 5
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36
REAP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Measurement:
    """What one whole-process run cost."""

    wall: float
    cpu_user: float
    cpu_sys: float
    peak_rss: int
    peak_pss: int
    peak_processes: int
    returncode: int
    timed_out: bool = False
    machine_busy: float = 0.0
    peak_parts: tuple[int, ...] = ()  # each process's RSS at the peak, largest first

    @property
    def cpu(self) -> float:
        """User plus system CPU seconds of the whole tree."""
        return self.cpu_user + self.cpu_sys


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields)
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _stat_fields(pid: int) -> list[bytes] | None:
    """Fields of /proc/PID/stat after the command name (field 3 onwards), or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 once it is gone)."""
    fields = _stat_fields(pid)
    return int(fields[21]) * PAGE_BYTES if fields else 0


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (0 once it is gone or when unreadable)."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in rollup.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one living process."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS if fields else 0.0


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (all its threads)."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def tree(root: int, exclude: frozenset[int] = frozenset()) -> list[int]:
    """``root`` and its descendants, leaving out the subtrees of ``exclude``."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in exclude:
            continue
        found.append(pid)
        stack.extend(children(pid))
    return found


def tree_cpu(root: int) -> float:
    """CPU seconds of the living processes of a tree (for a server we do not wait for)."""
    return sum(cpu_seconds(pid) for pid in tree(root))


class PeakSampler:
    """Samples the summed RSS of this process's descendants in a background thread."""

    def __init__(self, exclude: frozenset[int]) -> None:
        self._exclude = exclude
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rss-sampler", daemon=True)
        self.peak_rss = 0
        self.peak_parts: tuple[int, ...] = ()
        self.peak_pss = 0
        self.peak_processes = 0
        self._samples = 0

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def descendants(self) -> list[int]:
        """Living measured descendants (not this process, not the excluded subtrees)."""
        me = os.getpid()
        return [pid for pid in tree(me, self._exclude) if pid != me]

    def sample(self) -> None:
        """Take one sample."""
        pids = self.descendants()
        parts = [rss_bytes(pid) for pid in pids]
        if sum(parts) > self.peak_rss:
            self.peak_rss, self.peak_parts = sum(parts), tuple(sorted(parts, reverse=True))
        self.peak_processes = max(self.peak_processes, len(pids))
        if self._samples % PSS_EVERY == 0:
            self.peak_pss = max(self.peak_pss, sum(pss_bytes(pid) for pid in pids))
        self._samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_SECONDS)


def run_measured(
    command: Sequence[str],
    *,
    log_prefix: Path,
    exclude: frozenset[int],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float | None = None,
) -> Measurement:
    """Run ``command`` to completion (stdout/stderr to ``log_prefix``.out/.err) and measure it."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy_seconds()
    with (
        log_prefix.with_suffix(".out").open("wb") as out,
        log_prefix.with_suffix(".err").open("wb") as err,
        PeakSampler(exclude) as sampler,
    ):
        start = time.perf_counter()
        proc = subprocess.Popen(
            command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
            start_new_session=True,
        )  # fmt: skip
        returncode, timed_out = _wait(proc, timeout)
        wall = time.perf_counter() - start
        busy = machine_busy_seconds() - busy
        _reap_descendants(sampler)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Measurement(
        wall=wall,
        cpu_user=after.ru_utime - before.ru_utime,
        cpu_sys=after.ru_stime - before.ru_stime,
        peak_rss=sampler.peak_rss,
        peak_parts=sampler.peak_parts,
        peak_pss=sampler.peak_pss,
        peak_processes=sampler.peak_processes,
        returncode=returncode,
        timed_out=timed_out,
        machine_busy=busy,
    )


def _wait(proc: subprocess.Popen[bytes], timeout: float | None) -> tuple[int, bool]:
    """Wait for ``proc`` with ``os.wait4`` (exact end time); kill its group on timeout or ^C."""
    fired = threading.Event()

    def expire() -> None:
        fired.set()
        _kill_group(proc.pid)

    timer = threading.Timer(timeout, expire) if timeout else None
    if timer:
        timer.start()
    try:
        _, status, _ = os.wait4(proc.pid, 0)
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    finally:
        if timer:
            timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, fired.is_set()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def _reap_descendants(sampler: PeakSampler) -> None:
    """Wait for what the command left behind (re-parented to us), killing it after a while."""
    deadline = time.monotonic() + REAP_SECONDS
    while pids := sampler.descendants():
        sampler.sample()
        for pid in pids:
            _reap(pid)
        if time.monotonic() > deadline:
            for pid in pids:
                _kill(pid)
        time.sleep(SAMPLE_SECONDS)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # not our child: its parent will reap it
        os.waitpid(pid, os.WNOHANG)


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
