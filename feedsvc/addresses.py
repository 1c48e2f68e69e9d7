"""Which network addresses and URLs feedsvc may fetch from: pure decisions, no I/O.

A source URL comes from a shared sources.yaml or an OPML import, so by default
feedsvc only connects to public (globally routable unicast) addresses: not
loopback, private, link-local, multicast, reserved, unspecified, carrier-grade
NAT, documentation or benchmarking ranges, in IPv4 or IPv6, including IPv4
addresses wrapped in IPv6 (mapped ``::ffff:a.b.c.d``, compatible, 6to4,
Teredo, NAT64). ``AddressPolicy.allow_private`` (the setting
``settings.fetch.allow_private_addresses``) lifts that, for internal feeds;
``AddressPolicy.allowed`` lists networks allowed even when the rest of the
private space is not (tests use it). ``refusal`` says why one address is
refused; ``scheme_refusal`` why a URL (a redirect target) is not fetched.

This module decides only. The connection guard in ``feedsvc.connect`` resolves
names, asks ``refusal`` about every address, and connects to a checked one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

FETCHED_SCHEMES = frozenset({"http", "https"})
SETTING = "settings.fetch.allow_private_addresses"

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")

# (name, test) in the order the first that matches names the refusal.
_KINDS_V4: tuple[tuple[str, ipaddress.IPv4Network], ...] = tuple(
    (name, ipaddress.IPv4Network(net))
    for name, net in (
        ("unspecified", "0.0.0.0/8"),
        ("loopback", "127.0.0.0/8"),
        ("private", "10.0.0.0/8"),
        ("private", "172.16.0.0/12"),
        ("private", "192.168.0.0/16"),
        ("link-local", "169.254.0.0/16"),
        ("shared (carrier-grade NAT)", "100.64.0.0/10"),
        ("IETF protocol assignment", "192.0.0.0/24"),
        ("documentation", "192.0.2.0/24"),
        ("documentation", "198.51.100.0/24"),
        ("documentation", "203.0.113.0/24"),
        ("benchmarking", "198.18.0.0/15"),
        ("multicast", "224.0.0.0/4"),
        ("reserved", "240.0.0.0/4"),
    )
)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Where fetching may connect: public addresses, plus private ones when allowed."""

    allow_private: bool = False
    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str]) -> AddressPolicy:
        """A policy that refuses non-public addresses except those in ``networks``."""
        return cls(allowed=tuple(ipaddress.ip_network(n, strict=False) for n in networks))


def classify(address: IPAddress) -> str | None:
    """The kind of non-public address this is ("loopback", "private", ...), None if public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        return _classify_v6(address) if embedded is None else classify(embedded)
    for name, network in _KINDS_V4:
        if address in network:
            return name
    return None if address.is_global else "reserved"


def _classify_v6(address: ipaddress.IPv6Address) -> str | None:
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("site-local", address.is_site_local),
        ("multicast", address.is_multicast),
        ("private (unique local)", address in ipaddress.IPv6Network("fc00::/7")),
        ("documentation", address in ipaddress.IPv6Network("2001:db8::/32")),
    )
    for name, matched in checks:
        if matched:
            return name
    return None if address.is_global else "reserved"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, compatible, 6to4, Teredo, NAT64)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    packed = int(address)
    if packed >> 32 == 0 and packed > 1:  # IPv4-compatible ::a.b.c.d (deprecated)
        return ipaddress.IPv4Address(packed)
    return None


def refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why ``policy`` refuses a connection to ``address``, or None when it is allowed."""
    if any(address in network for network in policy.allowed if network.version == address.version):
        return None
    kind = classify(address)
    if kind is None or policy.allow_private:
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    wrapped = f" (it wraps IPv4 {embedded})" if embedded is not None else ""
    return f"{address} is {article} {kind} address{wrapped} (set {SETTING}: true to fetch from it)"


def scheme_refusal(url: str) -> str | None:
    """Why ``url`` is not fetched over the network (not http or https), or None.

    An unparsable URL is not refused here: the HTTP client says what is wrong with it.
    """
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme in FETCHED_SCHEMES:
        return None
    shown = url if len(url) <= 200 else url[:200] + "..."
    return f"{shown}: only http and https URLs are fetched"
