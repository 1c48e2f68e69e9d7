"""Run a piece of Python in a fresh interpreter and read its peak resident memory.

The code runs with this repository on ``sys.path``; it calls ``report(**facts)``
once at the end, which prints the facts and the process's peak RSS (``VmHWM``)
as one JSON line. Measuring in a subprocess keeps the test runner's own memory
(and other tests') out of the figure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

PRELUDE = """
import json as _json

def report(**facts):
    # VmHWM: the peak RSS of this process image. (ru_maxrss would also count the
    # memory of the test runner that forked us, before exec.)
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmHWM:"))
    peak = int(line.split()[1]) / 1024
    print(_json.dumps({**facts, "peak_rss_mb": round(peak, 1)}), flush=True)
"""


def run_measured(code: str, *args: str, timeout: float = 240.0) -> dict[str, Any]:
    """Run ``code`` with ``args`` as ``sys.argv[1:]``; return its report, with peak_rss_mb."""
    script = PRELUDE + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=REPO,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise AssertionError(f"measured run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    print("measured:", result)  # shown with -s, and in the report of a failure
    return result


def baseline_rss_mb() -> float:
    """Peak RSS of an interpreter that imported feedsvc's fetching and parsing stack."""
    code = """
    import feedsvc.fetch, feedsvc.extract, feedsvc.normalise
    report()
    """
    return float(run_measured(code)["peak_rss_mb"])
