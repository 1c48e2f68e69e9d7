"""Connections for fetching, made only to addresses the ``AddressPolicy`` allows.

``guarded_transport`` is an httpx transport whose every TCP connection goes
through ``GuardedBackend``, an httpcore network backend that resolves the host
name itself, asks ``addresses.refusal`` about **every** address the name
resolves to (one refused address refuses the name), and then connects to one
of the addresses it checked, never to the name. So the check is made on the
address actually connected to: a name that resolves to a private address, a
redirect to one, and a DNS answer that changes between check and connect
(rebinding) are all refused before any packet is sent to them. TLS still
verifies the certificate against the host name of the URL (httpcore passes it
as the server name), so connecting by address changes nothing there.

A refusal raises ``AddressRefused`` (a ``FetchError``), which passes through
httpx untouched; a name that does not resolve raises httpcore's
``ConnectError``, which httpx translates as usual. Proxies from the
environment are not used (they would connect on our behalf, unchecked).

The resolver and the backend that really connects can be replaced (tests
resolve made-up names, or record connections instead of making them).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence

import httpcore
import httpx

from feedsvc.addresses import AddressPolicy, IPAddress, refusal
from feedsvc.errors import FetchError

log = logging.getLogger("feedsvc.connect")

Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]
"""Resolves a host name and port to the addresses to connect to."""

SocketOptions = Iterable[
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
]


class AddressRefused(FetchError):
    """The address policy refused every address of a host; nothing was connected to."""


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` with the operating system's resolver (getaddrinfo), in order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, check every address, connect to the first checked one that answers."""
        addresses = await self._resolve(host, port, timeout)
        refused = [reason for a in addresses if (reason := refusal(a, self._policy))]
        if refused:
            log.warning("connection refused host=%s reason=%r", host, refused[0])
            raise AddressRefused(f"refused to connect to {host}: {refused[0]}")
        return await self._connect_any(addresses, port, timeout, local_address, socket_options)

    async def _resolve(self, host: str, port: int, timeout: float | None) -> Sequence[IPAddress]:
        try:
            async with asyncio.timeout(timeout):
                addresses = await self._resolver(host.strip("[]"), port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (OSError, UnicodeError, ValueError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        return addresses

    async def _connect_any(
        self,
        addresses: Sequence[IPAddress],
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: SocketOptions | None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: SocketOptions | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: fetching never goes through a Unix socket."""
        raise AddressRefused(f"refused to connect to the Unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the inner backend does (httpcore uses it between retries)."""
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own HTTP transport, with its connection pool built on a ``GuardedBackend``."""

    def __init__(self, backend: GuardedBackend, limits: httpx.Limits) -> None:
        # one TLS context (loading the CA bundle takes tens of milliseconds), for
        # the pool httpx makes and for the guarded pool that replaces it
        context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=context, limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


def guarded_transport(
    policy: AddressPolicy,
    limits: httpx.Limits,
    *,
    resolver: Resolver = system_resolver,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncBaseTransport:
    """An httpx transport that connects only where ``policy`` allows."""
    return _GuardedTransport(GuardedBackend(policy, resolver=resolver, inner=inner), limits)
