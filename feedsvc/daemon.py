"""``feedsvc daemon``: the pipeline run continuously by APScheduler, with signals and serving.

One scheduler job, ``cycle``, runs every ``tick``: it takes whatever sources
are due (scheduling is data: each source's ``next_fetch_after``, computed by
``feedsvc.schedule``), fetches and stores them under the run lock (so a cron
``feedsvc run`` and the daemon never overlap), then publishes once if anything
arrived and pings the WebSub hub. There is no job per source to reconcile.

Job defaults are explicit: ``coalesce`` (a backlog of missed ticks runs once),
``max_instances=1`` (never two cycles at once) and ``misfire_grace_time=None``
(APScheduler 3's default of one second silently drops a tick that starts late,
e.g. after a long cycle or a suspended machine; None runs it however late).

Signals only set events; the main thread acts on them. SIGTERM and SIGINT stop:
no source starts after that, fetches in flight are cancelled, a write under
way finishes (one transaction per source), the process exits 0 within seconds.
SIGHUP reloads the config file: when it is invalid every problem is logged and
the old config stays; otherwise the next cycle (started at once) syncs the
store, so added sources start, removed ones stop and changed ones use their new
settings. With ``serve`` the HTTP server (``feedsvc.serve``) runs in the same
process, its /healthz fed by ``health()`` and /metrics by ``feedsvc.metrics``.

This module does not fetch, parse, store or publish itself: ``Service`` does.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from feedsvc.config import load_config, reloaded_config
from feedsvc.config_types import Config
from feedsvc.errors import LockedError, PublishError, StoreError
from feedsvc.metrics import Metrics, store_metrics
from feedsvc.serve import Health, Server, cache_seconds_for, create_app
from feedsvc.service import Service, utc_now
from feedsvc.store import Store
from feedsvc.types import RunResult, SourceState
from feedsvc.waiting import wait_for

log = logging.getLogger("feedsvc.daemon")

JOB_ID = "cycle"
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
DEFAULT_TICK = timedelta(seconds=30)
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SCHEDULER_LOG = logging.getLogger("apscheduler.scheduler")


class _SkippedTickFilter(logging.Filter):
    """Drops APScheduler's warning about a tick skipped while a cycle runs (by design)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the "maximum number of running instances reached" warning."""
        return "maximum number of running instances" not in record.getMessage()


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where ``daemon --serve`` listens."""

    host: str = "127.0.0.1"
    port: int = 8080


class Daemon:
    """The long-running process: a scheduler, its one cycle job, signals, optional serving."""

    def __init__(
        self,
        config_path: Path,
        *,
        tick: timedelta = DEFAULT_TICK,
        workers: int | None = None,
        serve: ServeOptions | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._path = config_path
        self._config = load_config(config_path)
        self._tick = tick
        self._workers = workers
        self._serve = serve
        self._clock = clock
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._reload = threading.Event()
        self._publish_pending = True
        self._started = clock()
        self._last_cycle_end: datetime | None = None
        self._scheduler = BackgroundScheduler(job_defaults=JOB_DEFAULTS, timezone=UTC)
        self._metrics = Metrics()
        self._reader: Store | None = None
        self._skipped_ticks = _SkippedTickFilter()

    @property
    def config(self) -> Config:
        """The configuration in force (replaced whole by a successful reload)."""
        with self._lock:
            return self._config

    # ------------------------------------------------------------------ lifecycle

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; return the exit code (0 after a clean stop)."""
        Service(self.config).sources()  # open, migrate and sync now: fail before starting
        previous = self._install_signals()
        server = self._start_server()
        try:
            self._start_scheduler()
            self._main_loop()
        finally:
            self._shutdown(server)
            _restore_signals(previous)
        log.info("daemon stopped")
        return 0

    def stop(self) -> None:
        """Ask the daemon to stop (what SIGTERM does)."""
        self._stop.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Ask the daemon to reload its config file (what SIGHUP does)."""
        self._reload.set()
        self._wake.set()

    def health(self) -> Health:
        """Is the scheduler running, when did the last cycle end (for /healthz)."""
        running = bool(self._scheduler.running) and not self._stop.is_set()
        return Health(running, self._last_cycle_end, self._started)

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition of this process (for /metrics)."""
        return store_metrics(self._metrics, self._read_states)()

    def _start_scheduler(self) -> None:
        trigger = IntervalTrigger(seconds=max(1, int(self._tick.total_seconds())), timezone=UTC)
        self._scheduler.add_job(
            self.run_cycle, trigger, id=JOB_ID, name="feedsvc cycle", next_run_time=self._clock()
        )
        SCHEDULER_LOG.addFilter(self._skipped_ticks)
        self._scheduler.start()
        log.info(
            "daemon started config=%s tick=%ss sources=%d",
            self._path,
            int(self._tick.total_seconds()),
            len(self.config.sources),
        )

    def _main_loop(self) -> None:
        while not self._stop.is_set():
            wait_for(self._wake)  # in slices: a signal may land on another thread
            self._wake.clear()
            if self._reload.is_set() and not self._stop.is_set():
                self._reload.clear()
                self.reload()

    def _shutdown(self, server: Server | None) -> None:
        log.info("daemon stopping")
        self._stop.set()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        SCHEDULER_LOG.removeFilter(self._skipped_ticks)
        if server is not None:
            server.stop()
        if self._reader is not None:
            self._reader.close()

    # ------------------------------------------------------------------ the job

    def run_cycle(self) -> RunResult | None:
        """The scheduler job: one cycle over what is due (None when skipped or failed)."""
        if self._stop.is_set():
            return None
        service = Service(self.config, clock=self._clock)
        publish, self._publish_pending = self._publish_pending, False
        try:
            result = service.daemon_cycle(
                self._stop, publish=publish, workers=self._workers, rng=self._rng
            )
        except LockedError:
            log.info("another feedsvc run holds the lock; skipping this tick")
            self._publish_pending |= publish
            return None
        except (StoreError, PublishError) as exc:  # the database or output: its words suffice
            log.error("cycle failed; trying again next tick: %s", " ".join(str(exc).split()))
            self._publish_pending |= publish
            return None
        except Exception:  # a program error: with its traceback; try again next tick
            log.exception("cycle failed; trying again next tick")
            self._publish_pending |= publish
            return None
        self._observe(result)
        return result

    def _observe(self, result: RunResult) -> None:
        self._last_cycle_end = result.finished
        self._metrics.observe_cycle(result)
        busy = bool(result.sources) or result.published is not None
        log.log(
            logging.INFO if busy else logging.DEBUG,
            "cycle done sources=%d failed=%d new=%d updated=%d published=%s",
            len(result.sources),
            len(result.failed),
            sum(s.new for s in result.sources),
            sum(s.updated for s in result.sources),
            "no" if result.published is None else len(result.published.written),
        )

    # ------------------------------------------------------------------ reload

    def reload(self) -> bool:
        """Reload the config file; keep the old config (and log why) when it is invalid."""
        new = reloaded_config(self._path)
        if new is None:
            return False
        with self._lock:
            old, self._config = self._config, new
        _log_changes(old, new, serving=self._serve is not None)
        self._publish_pending = True
        if self._scheduler.running:
            self._scheduler.modify_job(JOB_ID, next_run_time=self._clock())
        return True

    # ------------------------------------------------------------------ signals, serving

    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for signum in SHUTDOWN_SIGNALS:
            previous[signum] = signal.signal(signum, self._on_stop_signal)
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, self._on_hup)
        return previous

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("signal received signal=%s; stopping", signal.Signals(signum).name)
        self.stop()

    def _on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        log.info("signal received signal=SIGHUP; reloading config=%s", self._path)
        self.request_reload()

    def _start_server(self) -> Server | None:
        if self._serve is None:
            return None
        config = self.config
        app = create_app(
            config.settings.output_dir,
            cache_seconds=cache_seconds_for(config.sources),
            health=self.health,
            metrics=self.metrics,
        )
        server = Server(app, self._serve.host, self._serve.port)
        server.start()
        return server

    def _read_states(self) -> list[SourceState]:
        if self._reader is None:
            self._reader = Store.open(self.config.settings.database_url)
        return self._reader.source_states()


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _log_changes(old: Config, new: Config, *, serving: bool) -> None:
    before = {s.name: s for s in old.sources}
    after = {s.name: s for s in new.sources}
    added = sorted(after.keys() - before.keys())
    removed = sorted(before.keys() - after.keys())
    changed = sorted(n for n in after.keys() & before.keys() if after[n] != before[n])
    log.info(
        "config reloaded added=%s removed=%s changed=%s",
        ",".join(added) or "-",
        ",".join(removed) or "-",
        ",".join(changed) or "-",
    )
    if serving and new.settings.output_dir != old.settings.output_dir:
        log.warning("settings.output_dir changed; the HTTP server keeps the old one until restart")


def run_daemon(
    config_path: Path,
    *,
    tick: timedelta = DEFAULT_TICK,
    workers: int | None = None,
    serve: ServeOptions | None = None,
) -> int:
    """Build the daemon for ``config_path`` (raises ConfigError) and run it until stopped."""
    return Daemon(config_path, tick=tick, workers=workers, serve=serve).run()
