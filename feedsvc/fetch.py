"""Fetch documents over HTTP(S) or from the local file system.

This is the module that sends requests with httpx (``feedsvc.responses`` reads
what comes back). Given ``FetchRequest`` records it
returns ``Fetched``, ``NotModified`` or ``FetchFailed`` (feedsvc.types): bytes
plus metadata, never parsed. It does conditional GET, follows redirects up to a
limit, enforces a connect timeout and a total deadline per request, caps the
decoded body size while streaming, bounds concurrency overall and per host,
spaces the starts of requests to one host by ``host_interval``, and records
every redirect hop it followed. (``feedsvc.websub`` pings a WebSub hub.)
A per-source problem (timeout, refused connection, HTTP error, missing file)
becomes a ``FetchFailed`` value; bugs propagate as exceptions.

Hostile servers. Every connection (``websub``'s hub pings too) goes through the
address guard of ``feedsvc.connect`` (the ``AddressPolicy`` of
``feedsvc.addresses``): nothing non-public is connected to unless
``allow_private_addresses`` is set. A redirect to anything but http(s) is
refused before it is followed, and so is a ``file:`` URL given as a source URL
(``file`` sources are read by ``feedsvc.localfiles`` from their configured
path). The body is read raw and decoded in bounded pieces (``responses``),
so a compression bomb is cut off at the size limit without ever being held whole.

It does not parse feeds or HTML, decide when to fetch next, or touch the store.
httpx exceptions are translated into words in exactly one place,
``_describe_http_error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from functools import partial
from http import HTTPStatus
from types import TracebackType

import httpx
import idna

from feedsvc import __version__
from feedsvc.addresses import AddressPolicy, scheme_refusal
from feedsvc.config_types import FetchConfig
from feedsvc.connect import AddressRefused, guarded_transport
from feedsvc.decoding import DecodingError
from feedsvc.errors import BodyTooLarge, FetchError
from feedsvc.localfiles import fetch_files
from feedsvc.politeness import StartQueue, host_interval
from feedsvc.responses import (
    lower_headers,
    media_type,
    read_capped,
    redirect_chain,
    status_error,
)
from feedsvc.types import (
    Document,
    Fetched,
    FetchFailed,
    FetchOutcome,
    FetchRequest,
    NotModified,
    Redirect,
)

log = logging.getLogger("feedsvc.fetch")

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"
# Fetches started at once, for each connection of the run (``FetchConfig.concurrency``):
# enough that hosts waiting for their turn leave others to go ahead, and a bound.
STARTED_PER_SLOT = 16
# A 304 to a request that sent no validators says nothing (RFC 9110 15.4.5); taken as
# "not modified", a server or cache that always answers so left its source empty for ever.
UNASKED_304 = "304 Not Modified to a request with no If-None-Match or If-Modified-Since"


class RedirectRefused(FetchError):
    """A redirect pointed somewhere feedsvc does not fetch from (not http or https)."""


def address_policy(config: FetchConfig) -> AddressPolicy:
    """The address policy that ``config`` asks for."""
    return AddressPolicy(allow_private=config.allow_private_addresses)


def user_agent(contact: str) -> str:
    """The User-Agent feedsvc sends: ``feedsvc/<version> (+<contact>)``."""
    return f"feedsvc/{__version__} (+{contact})"


class Fetcher:
    """Fetches many sources concurrently through one httpx.AsyncClient."""

    def __init__(
        self,
        config: FetchConfig,
        user_agent: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        bodies: int | None = None,
    ) -> None:
        """``bodies``: at most that many bodies read and not yet ``done_with``, see ``fetch``."""
        self._config = config
        self._bodies = asyncio.Semaphore(bodies) if bodies is not None else None
        self._holding: set[str] = set()
        self._user_agent = user_agent
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._overall = asyncio.Semaphore(config.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._pacing: dict[str, asyncio.Lock] = {}
        self._last_start: dict[str, float] = {}

    async def __aenter__(self) -> Fetcher:
        self._client = self._make_client()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def fetch(self, request: FetchRequest) -> FetchOutcome:
        """Fetch one source; a per-source problem is returned as ``FetchFailed``.

        With a bound on ``bodies``, a body is read only while fewer than that
        many are in the caller's hands (read, and not yet ``done_with``): bodies
        stop piling up in memory when they arrive faster than they are
        processed. Only reading a body waits; a 304, an error or a request
        waiting for a paced host holds no slot.
        """
        started = time.monotonic()
        if request.path is not None:
            async with self._overall:
                await self._hold(request.source)
                outcome = await fetch_files(request, request.path, self._config.max_body_bytes)
        elif request.url is not None:
            outcome = await self._fetch_http(request, request.url)
        else:
            raise ValueError(f"FetchRequest for {request.source!r} has neither url nor path")
        _log_outcome(outcome, time.monotonic() - started)
        return outcome

    async def fetch_each(self, requests: Sequence[FetchRequest]) -> AsyncIterator[FetchOutcome]:
        """Fetch all concurrently, yielding each outcome as soon as it completes.

        Fetches start as ``StartQueue`` lets them (``feedsvc.politeness``): at
        most ``per_host`` of a host at once, and its next not before its
        ``host_interval``; ``STARTED_PER_SLOT`` times the run's connections in
        all; the others wait as plain requests.
        A finished fetch is held only until it is yielded: a finished task holds
        its outcome (and its body), and a list of them all (or
        ``asyncio.as_completed``, which keeps what it is given) kept every body
        of a run in memory until the run ended.
        """
        config, loop = self._config, asyncio.get_running_loop()
        waiting = StartQueue(
            ((_host_key(r), r) for r in requests),
            config.per_host,
            STARTED_PER_SLOT * config.concurrency,
            partial(host_interval, config),
        )
        running: set[asyncio.Task[FetchOutcome]] = set()
        finished: asyncio.Queue[asyncio.Task[FetchOutcome]] = asyncio.Queue()
        closing = False  # once the caller lets go: nothing more starts
        timer: asyncio.TimerHandle | None = None  # a host's interval to wait out

        def ended(host: str | None, _: asyncio.Task[FetchOutcome]) -> None:
            waiting.finished(host)
            start()

        def woken() -> None:
            nonlocal timer
            timer = None
            start()

        def start() -> None:
            nonlocal timer
            if closing:
                return
            for host, request in waiting.ready(loop.time()):
                task = asyncio.create_task(self.fetch(request))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(partial(ended, host))
                task.add_done_callback(finished.put_nowait)
            due = waiting.next_due()
            if due is not None and (timer is None or due < timer.when()):
                if timer is not None:
                    timer.cancel()
                timer = loop.call_at(due, woken)

        start()
        try:
            for _ in range(len(requests)):
                yield (await finished.get()).result()
        finally:
            closing = True
            if timer is not None:
                timer.cancel()
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    def _make_client(self) -> httpx.AsyncClient:
        config = self._config
        limits = httpx.Limits(
            max_connections=config.concurrency, max_keepalive_connections=config.concurrency
        )
        transport = self._transport or guarded_transport(address_policy(config), limits)
        return httpx.AsyncClient(
            transport=transport,
            event_hooks={"response": [_refuse_odd_redirects]},
            follow_redirects=True,
            max_redirects=config.max_redirects,
            timeout=httpx.Timeout(config.total_timeout, connect=config.connect_timeout),
            limits=limits,
            headers={
                "User-Agent": self._user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
        )

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("Fetcher must be used as an async context manager")
        return self._client

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        # The host slot first, so a request waiting for its host holds no overall slot;
        # the pace last, once a connection is held, so that its mark is when the
        # request goes (marked before waiting for a connection, two requests to a
        # host that waited unequally could go together). The run hands a host's
        # next request out once its interval has passed (``StartQueue``), so a
        # connection held here waits little, if at all.
        per_host = self._hosts.get(host)
        if per_host is None:
            per_host = self._hosts[host] = asyncio.Semaphore(self._config.per_host)
        async with per_host, self._overall:
            await self._pace(host)
            yield

    async def _hold(self, source: str) -> None:
        """Take a body slot (when bounded) for the body of ``source`` about to be read."""
        if self._bodies is not None and source not in self._holding:
            await self._bodies.acquire()
            self._holding.add(source)

    def done_with(self, source: str) -> None:
        """Give back the body slot of ``source``'s outcome, if it took one (once)."""
        if self._bodies is not None and source in self._holding:
            self._holding.remove(source)
            self._bodies.release()

    async def _pace(self, host: str) -> None:
        """Wait until ``host_interval`` has passed since the last request to ``host`` started.

        Requests to one host pace in turn, each measured from when the one
        before it actually went (a sleep can end late on a busy machine; a
        schedule reserved in advance would then let the next one go early).
        """
        turn = self._pacing.setdefault(host, asyncio.Lock())
        async with turn:
            last = self._last_start.get(host)
            if last is not None:
                wait = last + host_interval(self._config, host) - time.monotonic()
                if wait > 0:
                    log.debug("pacing host=%s wait=%.2fs", host, wait)
                    await asyncio.sleep(wait)
            self._last_start[host] = time.monotonic()

    async def _fetch_http(self, request: FetchRequest, url: str) -> FetchOutcome:
        client = self._require_client()
        deadline = self._config.total_timeout
        refused = scheme_refusal(url)
        if refused is not None:
            hint = _FILE_HINT if _is_file(url) else ""
            return _failed(request, f"unsupported URL: {refused}{hint}")
        try:
            target = httpx.URL(url)
            async with self._slot(_host_of(target)):
                async with asyncio.timeout(deadline):
                    conditional = _conditional_headers(request)
                    async with client.stream("GET", target, headers=conditional) as response:
                        return await self._outcome(request, response)
        except TimeoutError:
            return _failed(request, f"timed out after {deadline}s")
        except (AddressRefused, RedirectRefused) as exc:
            return _failed(request, str(exc))
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return _failed(request, _describe_http_error(exc, self._config))
        except idna.IDNAError as exc:  # a host name IDNA refuses, in the URL or a redirect's
            return _failed(request, f"invalid URL: host name: {exc}")

    async def _outcome(self, request: FetchRequest, response: httpx.Response) -> FetchOutcome:
        headers = lower_headers(response.headers)
        source, url, status = request.source, request.url or "", response.status_code
        hops = redirect_chain(response)
        _log_redirects(request, hops)
        if status == HTTPStatus.NOT_MODIFIED:
            # A 304 has no body; reading its end lets the connection go back to the
            # pool (closed unread, it would be dropped and the next request reconnect).
            await response.aread()
            if not _conditional_headers(request):  # nothing was asked to compare with
                return FetchFailed(source, url, UNASKED_304, status, headers, hops)
            return NotModified(source=source, url=url, headers=headers, redirects=hops)
        if not response.is_success:
            error = status_error(response)
            return FetchFailed(source, url, error, status, headers, hops)
        await self._hold(source)
        try:
            body = await read_capped(response, self._config.max_body_bytes)
        except (BodyTooLarge, DecodingError) as exc:
            return FetchFailed(source, url, str(exc), status, headers, hops)
        final_url = str(response.url)
        document = Document(final_url, body, media_type(headers), headers)
        return Fetched(
            source=source,
            url=url,
            final_url=final_url,
            status=status,
            documents=(document,),
            etag=headers.get("etag"),
            last_modified=headers.get("last-modified"),
            headers=headers,
            redirects=hops,
        )


def _host_of(target: httpx.URL) -> str:
    """The host a request is polite to: "name:port" (the port None when it is the scheme's)."""
    return f"{target.host}:{target.port}"


def _host_key(request: FetchRequest) -> str | None:
    """The host of a request's URL (``_host_of``); None for a file, or a URL that does not parse."""
    if request.path is not None or request.url is None:  # a path is read, as ``fetch`` does
        return None
    try:
        return _host_of(httpx.URL(request.url))
    except (httpx.InvalidURL, idna.IDNAError):  # the fetch says why
        return None


def fetch_all_sync(
    requests: Sequence[FetchRequest], config: FetchConfig, user_agent: str
) -> list[FetchOutcome]:
    """Fetch all requests from code without an event loop; outcomes in request order."""
    return asyncio.run(_fetch_all(requests, config, user_agent))


async def _fetch_all(
    requests: Sequence[FetchRequest], config: FetchConfig, user_agent: str
) -> list[FetchOutcome]:
    async with Fetcher(config, user_agent) as fetcher:
        return list(await asyncio.gather(*(fetcher.fetch(r) for r in requests)))


# --------------------------------------------------------------------------- HTTP helpers


def _conditional_headers(request: FetchRequest) -> dict[str, str]:
    """The validators to send: only those a header can carry (printable ASCII).

    A server that sent a validator with other characters (an ETag in UTF-8)
    gets an unconditional request: sent as it was stored, it could not be
    encoded, and the source would fail on every fetch.
    """
    headers: dict[str, str] = {}
    if request.etag and _sendable(request.etag):
        headers["If-None-Match"] = request.etag
    if request.last_modified and _sendable(request.last_modified):
        headers["If-Modified-Since"] = request.last_modified
    return headers


def _sendable(value: str) -> bool:
    return value.isascii() and value.isprintable()


_FILE_HINT = " (a local file is read by a source with a 'path')"


def _is_file(url: str) -> bool:
    return url[:5].lower() == "file:"


async def _refuse_odd_redirects(response: httpx.Response) -> None:
    """Refuse, before it is followed, a redirect to anything but http or https."""
    if not response.has_redirect_location:
        return
    location = response.headers["location"]
    try:
        target = str(response.url.join(location))
    except (httpx.InvalidURL, ValueError):
        return  # httpx reports the malformed Location itself
    refused = scheme_refusal(target)
    if refused is not None:
        raise RedirectRefused(f"redirect refused: {response.url} pointed to {refused}")


def _describe_http_error(exc: httpx.HTTPError | httpx.InvalidURL, config: FetchConfig) -> str:
    """Say in words what an httpx exception means: the one translation boundary."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.NetworkError) and not str(exc):
        detail = f"the connection was lost ({type(exc).__name__})"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {config.max_redirects})"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"connect timed out after {config.connect_timeout}s"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out after {config.total_timeout}s"
    for kind, prefix in _ERROR_PREFIXES:
        if isinstance(exc, kind):
            return f"{prefix}: {detail}"
    return f"request failed: {detail}"


_ERROR_PREFIXES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.InvalidURL, "invalid URL"),
    (httpx.UnsupportedProtocol, "unsupported URL"),
    (httpx.ConnectError, "could not connect"),
    (httpx.ProxyError, "proxy error"),
    (httpx.ProtocolError, "protocol error"),
    (httpx.NetworkError, "network error"),
    (httpx.DecodingError, "could not decode the response body"),
)


def _failed(request: FetchRequest, error: str) -> FetchFailed:
    return FetchFailed(source=request.source, url=_location(request), error=error)


def _location(request: FetchRequest) -> str:
    if request.url is not None:
        return request.url
    return str(request.path) if request.path is not None else ""


def _log_redirects(request: FetchRequest, hops: Sequence[Redirect]) -> None:
    for hop in hops:
        log.debug(
            "redirected source=%s status=%d from=%s to=%s",
            request.source,
            hop.status,
            hop.url,
            hop.location,
        )


def _log_outcome(outcome: FetchOutcome, elapsed: float) -> None:
    if isinstance(outcome, FetchFailed):
        log.info(
            "fetch failed source=%s url=%s status=%s error=%r elapsed=%.2fs",
            outcome.source,
            outcome.url,
            outcome.status,
            outcome.error,
            elapsed,
        )
    elif isinstance(outcome, NotModified):
        log.debug(
            "not modified source=%s url=%s elapsed=%.2fs", outcome.source, outcome.url, elapsed
        )
    else:
        size = sum(len(d.body) for d in outcome.documents)
        log.debug(
            "fetched source=%s url=%s status=%s documents=%d bytes=%d elapsed=%.2fs",
            outcome.source,
            outcome.final_url,
            outcome.status,
            len(outcome.documents),
            size,
            elapsed,
        )
