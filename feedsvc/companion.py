"""A process of its own that serves one task over a pipe, and ends with its parent.

The story round's engine works in a ``Companion``: a new interpreter, not a
child of multiprocessing, so neither the forkserver nor the resource tracker
need stay beside it (``workers.end_idle_helpers``), and it imports only what
its task needs (not the pool's machinery, about 1 MB resident). Every
process feedsvc starts to work for it, companion or pool worker, exits when
its parent dies, even by SIGKILL (``start_worker``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from feedsvc.tempfiles import process_alive


class Companion:
    """A process of its own (a new interpreter) that serves one task over a pipe.

    ``target(connection, *args)`` runs there; it ends when its end of the pipe
    closes (``close``) or its parent dies, as a pool's worker does. For a
    stage that holds state from one request to the next (the story round):
    its memory goes back to the system when it ends. The target may return
    what it holds: the process then exits without freeing it object by object
    (a story window is about a million objects, 0.2 s to free; the system takes
    the pages back at once).

    It is not started by multiprocessing: it needs neither the forkserver nor
    the resource tracker, so those can end while it works (``RenewingPool.rest``).
    The target and its arguments are pickled to it, after the parent's
    ``sys.path``, so it imports the target's module as the parent did.
    """

    def __init__(self, target: Callable[..., object], *args: Any) -> None:
        mine, theirs = socket.socketpair()
        with mine, theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _COMPANION_BOOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
            self._connection = Connection(mine.detach())
        self._connection.send(list(sys.path))
        self._connection.send((os.getpid(), target, args))

    @property
    def pid(self) -> int | None:
        """The companion's process id."""
        return self._process.pid

    @property
    def exitcode(self) -> int | None:
        """The companion's exit code once it has ended (None while it runs)."""
        return self._process.poll()

    def send(self, message: object) -> None:
        """Send ``message`` to the companion (pickled)."""
        self._connection.send(message)

    def receive(self) -> object:
        """Wait for the companion's next message; EOFError once it has ended."""
        return self._connection.recv()

    def send_bytes(self, message: bytes) -> None:
        """Send a message pickled beforehand (``send`` pickles it here)."""
        self._connection.send_bytes(message)

    def receive_bytes(self) -> bytes:
        """Wait for the companion's next message and return it still pickled."""
        return self._connection.recv_bytes()

    def close(self) -> None:
        """Close the pipe, so the companion's task ends, and wait for the process."""
        self._connection.close()
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# What a companion's interpreter runs: the parent's sys.path first, then its task.
_COMPANION_BOOT = (
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "connection = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = connection.recv()\n"
    "from feedsvc.companion import serve_companion\n"
    "serve_companion(connection)\n"
)


def serve_companion(connection: Connection) -> None:
    """Run the task a ``Companion`` sends over ``connection`` (in the companion's process)."""
    parent, target, args = connection.recv()
    _companion(parent, target, connection, *args)


def _companion(parent: int, target: Callable[..., object], *args: Any) -> None:
    start_worker(parent)
    held = target(*args)
    if held is not None:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        os._exit(0)  # while ``held`` is alive: nothing of it is freed one by one


def start_worker(parent: int) -> None:
    """Ignore Ctrl-C (the parent stops the run) and exit when ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="feedsvc-orphan", daemon=True).start()


def _exit_with(parent: int) -> None:
    """Wait for ``parent`` to end (a pidfd where there is one, else polling), then exit."""
    try:
        handle = os.pidfd_open(parent)
    except (AttributeError, OSError):  # no pidfd here, or the parent is already gone
        while process_alive(parent):
            time.sleep(1.0)
    else:
        with contextlib.suppress(OSError):
            select.select([handle], [], [])
    os._exit(1)
