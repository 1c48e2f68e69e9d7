"""What a response says: its headers, its status in words, its redirect hops, its body.

``feedsvc.fetch`` sends the requests and decides what each answer means;
this module reads an httpx response for it (and ``status_error`` for
``feedsvc.websub``). The body is read raw and decoded here in bounded pieces
(``feedsvc.decoding``), so a compression bomb is cut off at the size limit
without ever being held whole.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from http import HTTPStatus

import httpx

from feedsvc.decoding import BodyDecoder
from feedsvc.errors import BodyTooLarge
from feedsvc.types import Redirect


def lower_headers(headers: httpx.Headers) -> dict[str, str]:
    """The headers as a dict, names in lower case."""
    return {key.lower(): value for key, value in headers.items()}


def media_type(headers: Mapping[str, str]) -> str | None:
    """The media type of ``content-type`` (lower case, no parameters), or None."""
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type or None


def status_error(response: httpx.Response) -> str:
    """A response's status in words: ``HTTP 404 Not Found``."""
    status = response.status_code
    reason = response.reason_phrase
    if not reason:
        with contextlib.suppress(ValueError):
            reason = HTTPStatus(status).phrase
    return f"HTTP {status} {reason}".rstrip()


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"response body exceeds {limit} bytes; cut off")


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """Read and decode the body, stopping as soon as either grows past ``limit`` bytes.

    The raw bytes are decoded here, in bounded pieces (``feedsvc.decoding``),
    not by httpx, which would expand a whole chunk of a compression bomb at once.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    decoder = BodyDecoder(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = raw_size = 0
    async for raw in response.aiter_raw():
        raw_size += len(raw)
        if raw_size > limit:
            raise _too_large(limit)
        for piece in decoder.feed(raw):
            size = _keep(chunks, piece, size, limit)
    for piece in decoder.finish():
        size = _keep(chunks, piece, size, limit)
    return b"".join(chunks)


def _keep(chunks: list[bytes], piece: bytes, size: int, limit: int) -> int:
    size += len(piece)
    if size > limit:
        raise _too_large(limit)
    chunks.append(piece)
    return size


def redirect_chain(response: httpx.Response) -> tuple[Redirect, ...]:
    """Every redirect hop that led to ``response``: who answered, with what, pointing where."""
    answered = [*response.history, response]
    return tuple(
        Redirect(str(hop.url), hop.status_code, str(after.url))
        for hop, after in itertools.pairwise(answered)
    )
