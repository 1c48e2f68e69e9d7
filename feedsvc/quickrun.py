"""A run with nothing to do, finished before the rest of feedsvc is loaded.

``feedsvc run`` from cron mostly finds nothing due. The idle check decides that
under the run lock, from the standard-library look at the database in
``store.idle`` and the output's own state (``index.html`` present, the output
fingerprint of the last publish), and ends the run; it fetches, stores and
renders nothing. It needs a few values of the config, which come from the
config's ticket (``idle_ticket``: kept by the last full run, valid while the
file and feedsvc are unchanged) so that such a run does not even parse
sources.yaml (``quick_idle_run``), or from the loaded config (``idle_run``).
When the answer is not a sure "nothing", both return None and the caller runs
the full cycle (``Service.run_once``, which asks again under its own lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from feedsvc.idle_ticket import IdleTicket, read_ticket, ticket_for
from feedsvc.lock import run_lock
from feedsvc.store.idle import is_idle

if TYPE_CHECKING:
    from feedsvc.config_types import Config
    from feedsvc.types import RunResult

INDEX_FILE = "index.html"  # the front page every publish writes (publish.text.INDEX_FILE)
# The summary of a run that found nothing due and published nothing (progress.summary's words).
IDLE_SUMMARY = (
    "nothing due: 0 sources fetched: 0 ok, 0 not modified, 0 failed;"
    " 0 new and 0 updated articles; 0 files written, 0 unchanged"
)


def lock_path(config: Config) -> Path:
    """The file whose lock keeps two runs from overlapping."""
    return lock_file(config.settings.data_dir)


def lock_file(data_dir: Path) -> Path:
    """The run lock's file in the data directory ``data_dir``."""
    return data_dir / "feedsvc.lock"


def ticket_is_idle(ticket: IdleTicket, now: datetime) -> bool:
    """Whether a run at ``now`` with the config of ``ticket`` would find nothing to do."""
    if not (ticket.output_dir / INDEX_FILE).is_file():
        return False
    return is_idle(ticket.database_url, ticket.sources, now, ticket.fingerprint)


def nothing_to_do(config: Config, now: datetime) -> bool:
    """Whether a run at ``now`` would find nothing due and nothing to publish (sure answers)."""
    return ticket_is_idle(ticket_for(config), now)


def _idle_seconds(ticket: IdleTicket, clock: Callable[[], datetime]) -> float | None:
    started = time.perf_counter()
    with run_lock(lock_file(ticket.data_dir)):
        if not ticket_is_idle(ticket, clock()):
            return None
    return time.perf_counter() - started


def quick_idle_run(config_path: Path, clock: Callable[[], datetime]) -> IdleTicket | None:
    """The config's ticket if a run now has nothing to do (decided without parsing), else None."""
    ticket = read_ticket(config_path)
    if ticket is None or _idle_seconds(ticket, clock) is None:
        return None
    return ticket


def idle_run(config: Config, clock: Callable[[], datetime]) -> RunResult | None:
    """The result of a run with nothing to do, or None when there may be something."""
    from feedsvc.types import PublishResult, RunResult

    now = clock()
    seconds = _idle_seconds(ticket_for(config), lambda: now)
    if seconds is None:
        return None
    return RunResult(now, now, (), PublishResult(), {"total": seconds})
