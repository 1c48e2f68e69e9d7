"""WebSub: telling a hub that published feeds changed, so subscribers fetch them at once.

One ``hub.mode=publish`` POST per changed topic URL, over httpx (with
``feedsvc.fetch`` and ``feedsvc.connect``, the only httpx users) and through
the same address guard as fetching. Failures come back as words, never as
exceptions: a hub that is down must not fail a publish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx

from feedsvc.addresses import AddressPolicy
from feedsvc.connect import AddressRefused, guarded_transport
from feedsvc.responses import status_error

log = logging.getLogger("feedsvc.websub")


def notify_hub(
    hub_url: str,
    topic_urls: Sequence[str],
    user_agent: str,
    *,
    timeout: float = 10.0,
    policy: AddressPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[str, ...]:
    """Tell a WebSub hub that ``topic_urls`` changed; return one error per failed ping.

    Sends one ``hub.mode=publish`` POST per topic, through the same address
    guard as fetching (``policy``; by default public addresses only). Never
    raises for a network or HTTP problem: the caller logs what comes back.
    """
    if not topic_urls:
        return ()
    guard = transport or guarded_transport(policy or AddressPolicy(), httpx.Limits())
    errors = asyncio.run(_notify(hub_url, topic_urls, user_agent, timeout, guard))
    log.info("hub notified hub=%s topics=%d failed=%d", hub_url, len(topic_urls), len(errors))
    return errors


async def _notify(
    hub_url: str,
    topic_urls: Sequence[str],
    user_agent: str,
    timeout: float,
    transport: httpx.AsyncBaseTransport,
) -> tuple[str, ...]:
    errors: list[str] = []
    headers = {"User-Agent": user_agent}
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, headers=headers, follow_redirects=False
    ) as client:
        for topic in topic_urls:
            error = await _ping(client, hub_url, topic)
            if error is not None:
                errors.append(f"{topic}: {error}")
    return tuple(errors)


async def _ping(client: httpx.AsyncClient, hub_url: str, topic: str) -> str | None:
    form = {"hub.mode": "publish", "hub.url": topic}
    try:
        response = await client.post(hub_url, data=form)
    except AddressRefused as exc:
        return f"hub request refused: {exc}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"hub request failed: {exc or type(exc).__name__}"
    return None if response.is_success else f"hub answered {status_error(response)}"
