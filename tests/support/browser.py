"""A real headless Chromium for tests, driven over the DevTools protocol on a pipe.

``find_chromium`` locates Debian's ``chromium`` (``make test`` installs it with
``tests/support/install-chromium.sh`` when it is missing). ``Chromium`` starts
it headless with a fresh profile and the flags that keep it off the network
(no component updates, sync, background networking or QUIC: on a closed
network those make it hang on Google hosts), and speaks the DevTools protocol
over ``--remote-debugging-pipe`` (JSON messages ended by NUL on fds 3 and 4),
so no WebSocket library is needed. A ``Tab`` loads a page and waits for its
load event, records console messages, uncaught exceptions, log entries (CSP
violations and failed loads land there) and every request made, evaluates
expressions, emulates a phone or dark mode and takes screenshots.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--disable-extensions",
    "--no-default-browser-check",
    "--hide-scrollbars",
    "--window-size=1280,900",
)
TIMEOUT = 60.0


def find_chromium() -> str | None:
    """The path of a Chromium executable, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser failed, answered with an error, or did not answer in time."""


@dataclass
class Tab:
    """One page target attached with a flat session."""

    browser: Chromium
    session: str
    problems: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command to this page and return its result."""
        return self.browser.call(method, params, session=self.session)

    def load(self, url: str) -> None:
        """Navigate to ``url`` and wait for its load event (and a quiet moment after)."""
        self.problems.clear()
        self.requests.clear()
        answer = self.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise BrowserError(f"navigating to {url}: {answer['errorText']}")
        self.browser.wait_for("Page.loadEventFired", self.session)
        self.browser.drain(0.3)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (tests only; pages have no scripts)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression!r}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path) -> bytes:
        """Capture the whole page as PNG into ``path`` and return the bytes."""
        answer = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        data = base64.b64decode(answer["data"])
        path.write_bytes(data)
        return data

    def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Emulate a screen of ``width`` x ``height`` CSS pixels (a phone with ``mobile``)."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )

    def colour_scheme(self, scheme: str) -> None:
        """Emulate ``prefers-color-scheme: scheme`` (``light`` or ``dark``)."""
        features = [{"name": "prefers-color-scheme", "value": scheme}]
        self.call("Emulation.setEmulatedMedia", features=features)


class Chromium:
    """A headless Chromium process and its DevTools pipe."""

    def __init__(self, executable: str, profile: Path) -> None:
        commands_read, self._commands = os.pipe()
        self._answers, answers_write = os.pipe()

        def wire() -> None:  # in the child: the protocol wants fds 3 (in) and 4 (out)
            os.dup2(commands_read, 3)
            os.dup2(answers_write, 4)

        args = [executable, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        self.log = profile.with_name(profile.name + ".log")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(3, 4),
                preexec_fn=wire,
            )
        os.close(commands_read)
        os.close(answers_write)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.tabs: dict[str, Tab] = {}

    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._commands, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._answers], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited: {self._stderr_tail()}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def _dispatch(self, event: dict[str, Any]) -> None:
        """Record what matters to tests: problems the page reports and the requests it makes."""
        tab = self.tabs.get(event.get("sessionId", ""))
        method, params = event.get("method", ""), event.get("params", {})
        if tab is not None:
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]
                )
                tab.problems.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                tab.problems.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                entry = params["entry"]
                tab.problems.append(f"log {entry['level']} ({entry['source']}): {entry['text']}")
            elif method == "Network.requestWillBeSent":
                tab.requests.append(params["request"]["url"])
        self._events.append(event)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send a command and wait for its answer, recording the events that come meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + TIMEOUT
        while True:
            answer = self._receive(deadline)
            if answer is None:
                raise BrowserError(f"no answer to {method} in {TIMEOUT} s")
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._dispatch(answer)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """Wait for the event ``method`` of ``session`` (events seen before included)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for position, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session:
                    del self._events[position]
                    return event
            event = self._receive(deadline)
            if event is None:
                raise BrowserError(f"no {method} in {TIMEOUT} s")
            self._dispatch(event)

    def drain(self, seconds: float) -> None:
        """Record the events that arrive in the next ``seconds``."""
        deadline = time.monotonic() + seconds
        while (event := self._receive(deadline)) is not None:
            self._dispatch(event)

    def new_tab(self) -> Tab:
        """A blank page with everything tests look at enabled."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        tab = Tab(self, attached["sessionId"])
        self.tabs[tab.session] = tab
        for domain in ("Page", "Runtime", "Log", "Network"):
            tab.call(f"{domain}.enable")
        return tab

    def close(self) -> None:
        """Ask the browser to close, then make sure it is gone."""
        with contextlib.suppress(BrowserError, OSError):
            self._send({"id": 0, "method": "Browser.close", "params": {}})
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        for fd in (self._commands, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _stderr_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


@contextlib.contextmanager
def chromium(executable: str, profile: Path) -> Iterator[Chromium]:
    """A running headless Chromium with a fresh profile in ``profile``, closed afterwards."""
    browser = Chromium(executable, profile)
    try:
        browser.call("Browser.getVersion")
        yield browser
    finally:
        browser.close()
