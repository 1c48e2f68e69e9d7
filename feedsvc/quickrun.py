"""A run with nothing to do, finished before the rest of feedsvc is loaded.

``feedsvc run`` from cron mostly finds nothing due. ``idle_run`` decides that
under the run lock, from the standard-library look at the database in
``store.idle`` and the output's own state (``index.html`` present, the output
fingerprint of the last publish), and returns an empty result; it needs only
the config, the lock and the records, so such a run costs little more than
reading sources.yaml. When the answer is not a sure "nothing", it returns None
and the caller runs the full cycle (``Service.run_once``, which asks again under
its own lock). It fetches, stores and renders nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from feedsvc.fingerprint import output_fingerprint
from feedsvc.lock import run_lock
from feedsvc.publish.text import INDEX_FILE
from feedsvc.store.idle import is_idle
from feedsvc.types import Config, PublishResult, RunResult


def lock_path(config: Config) -> Path:
    """The file whose lock keeps two runs from overlapping."""
    return config.settings.data_dir / "feedsvc.lock"


def nothing_to_do(config: Config, now: datetime) -> bool:
    """Whether a run at ``now`` would find nothing due and nothing to publish (sure answers)."""
    settings = config.settings
    if not (settings.output_dir / INDEX_FILE).is_file():
        return False
    return is_idle(settings.database_url, config.sources, now, output_fingerprint(config))


def idle_run(config: Config, clock: Callable[[], datetime]) -> RunResult | None:
    """The result of a run with nothing to do, or None when there may be something."""
    started = time.perf_counter()
    with run_lock(lock_path(config)):
        now = clock()
        if not nothing_to_do(config, now):
            return None
    return RunResult(now, now, (), PublishResult(), {"total": time.perf_counter() - started})
