"""How a run is polite to hosts: which fetches start next, and how far apart a host's go.

``host_interval`` is the least time between two request starts to one host.

A fetch that has started waits for its host's turn (``per_host`` in flight,
``host_interval`` between starts) and then for one of the run's connections,
in ``feedsvc.fetch``. Starting every fetch of a run at once let those limits
order them, but each waiting fetch holds a task, its coroutines and their
frames: about 3.6 KB, 36 MB for 10,000 sources, in the process that goes on
to hold the story round's texts (and, freed, scattered through the
interpreter's memory pools, which then cannot give it back).

``StartQueue`` hands out the fetches to start instead: in the order given,
never more than ``per_host`` of one host at once (more would only wait for
that host's turn), and never more than ``limit`` in all. A host's fetches
wait here, holding nothing, while another host's go ahead, and so does a
host's next request until its ``host_interval`` has passed. Pure: no I/O and
no clock; the fetcher says what time it is and when a fetch ends.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from feedsvc.config_types import FetchConfig

T = TypeVar("T")

DEFAULT_HOST_INTERVAL = 1.0


class StartQueue(Generic[T]):
    """Requests waiting to start, by host; ``ready`` takes the ones that may start now.

    A request's host is a key (``None``: no host to be polite to, such as a
    local file, bound only by ``limit``). A host's next request is not due
    before ``interval(host)`` seconds after its last one was handed out: it
    waits here, not in a started fetch that would sleep on a place of the
    ``limit`` while other hosts' requests could go. Times are the caller's
    clock's (seconds).
    """

    def __init__(
        self,
        requests: Iterable[tuple[str | None, T]],
        per_host: int,
        limit: int,
        interval: Callable[[str], float] = lambda host: 0.0,
    ) -> None:
        if per_host < 1 or limit < 1:
            raise ValueError(f"per_host ({per_host}) and limit ({limit}) must be at least 1")
        self._per_host = per_host
        self._limit = limit
        self._interval = interval
        self._waiting: dict[str | None, deque[tuple[int, T]]] = {}
        for order, (host, request) in enumerate(requests):
            self._waiting.setdefault(host, deque()).append((order, request))
        self._started: dict[str | None, int] = {}
        self._last: dict[str | None, float] = {}
        self._running = 0
        self._hosts = list(self._waiting)
        self._index = {host: index for index, host in enumerate(self._hosts)}
        # A host with requests waiting and fewer than ``per_host`` started is in one of
        # two heaps: its turn, by its next request's place in the order; or later, by
        # when its next request is due.
        self._turns = [(queue[0][0], index) for index, queue in enumerate(self._waiting.values())]
        heapq.heapify(self._turns)
        self._later: list[tuple[float, int]] = []

    def __len__(self) -> int:
        """How many requests have not started yet."""
        return sum(len(queue) for queue in self._waiting.values())

    def ready(self, now: float) -> list[tuple[str | None, T]]:
        """The requests to start at ``now``, each with its host, in order (counted as started)."""
        while self._later and self._later[0][0] <= now:
            index = heapq.heappop(self._later)[1]
            heapq.heappush(self._turns, (self._waiting[self._hosts[index]][0][0], index))
        chosen: list[tuple[str | None, T]] = []
        while self._turns and self._running < self._limit:
            _, index = heapq.heappop(self._turns)
            host = self._hosts[index]
            queue = self._waiting[host]
            chosen.append((host, queue.popleft()[1]))
            self._running += 1
            self._last[host] = now
            started = self._started[host] = self._started.get(host, 0) + 1
            if queue and (host is None or started < self._per_host):
                self._next_turn(host, index)
        return chosen

    def next_due(self) -> float | None:
        """When a host waiting for its interval may start its next request (None: none waits)."""
        return self._later[0][0] if self._later else None

    def finished(self, host: str | None) -> None:
        """One started request of ``host`` ended: its host (and the run) may start another."""
        started = self._started.get(host, 0)
        if started < 1:
            raise ValueError(f"no request of host {host!r} is running")
        self._started[host] = started - 1
        self._running -= 1
        if self._waiting[host] and host is not None and started == self._per_host:
            self._next_turn(host, self._index[host])  # it was at its limit: it had no turn

    def _next_turn(self, host: str | None, index: int) -> None:
        """Give ``host`` its next turn: now, or once its interval has passed."""
        gap = self._interval(host) if host is not None else 0.0
        if gap > 0:
            heapq.heappush(self._later, (self._last[host] + gap, index))
        else:
            heapq.heappush(self._turns, (self._waiting[host][0][0], index))


def host_interval(config: FetchConfig, host: str) -> float:
    """Seconds between request starts to ``host`` ("name:port"): as set, else 1s (0 locally)."""
    if config.host_interval is not None:
        return config.host_interval
    return 0.0 if _is_loopback(host.rpartition(":")[0]) else DEFAULT_HOST_INTERVAL


def _is_loopback(hostname: str) -> bool:
    if hostname.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False
