"""Conditional GETs of every URL and nothing else: the HTTP floor of an all-304 update.

usage: python http_probe.py httpx|requests URLS_FILE VALIDATORS_FILE

Runs as a whole process of its own (under the main venv for ``httpx``, under
reader's venv for ``requests``), so start-up and the client's import count, as
they do in a real update. ``httpx`` sends as feedsvc's fetcher does by default
(one ``AsyncClient``, two requests in flight to the one host); ``requests``
sends as reader does (one ``Session``, one request at a time). Each request
carries the ETag and Last-Modified of ``VALIDATORS_FILE`` (JSON, URL to pair),
so every answer is a 304; the count of each status goes to stdout as JSON.
Nothing is parsed or stored: this is what the answers cost to get, alone.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

IN_FLIGHT = 2  # feedsvc's default per-host limit


def _headers(validators: dict[str, list[str]], url: str) -> dict[str, str]:
    etag, modified = validators[url]
    return {"If-None-Match": etag, "If-Modified-Since": modified}


def with_httpx(urls: list[str], validators: dict[str, list[str]]) -> Counter[int]:
    """Every GET through one httpx.AsyncClient, ``IN_FLIGHT`` at a time."""
    import asyncio

    import httpx

    async def run() -> Counter[int]:
        codes: Counter[int] = Counter()
        pending = iter(urls)
        async with httpx.AsyncClient() as client:

            async def lane() -> None:
                for url in pending:
                    response = await client.get(url, headers=_headers(validators, url))
                    codes[response.status_code] += 1

            await asyncio.gather(*(lane() for _ in range(IN_FLIGHT)))
        return codes

    return asyncio.run(run())


def with_requests(urls: list[str], validators: dict[str, list[str]]) -> Counter[int]:
    """Every GET through one requests.Session, one after another."""
    import requests  # type: ignore[import-untyped]  # reader's venv has no stubs

    codes: Counter[int] = Counter()
    with requests.Session() as session:
        for url in urls:
            codes[session.get(url, headers=_headers(validators, url)).status_code] += 1
    return codes


def main(argv: list[str]) -> int:
    """Send the conditional GETs with the client named in ``argv[0]``; print status counts."""
    client, urls_file, validators_file = argv
    urls = Path(urls_file).read_text(encoding="utf-8").split()
    validators = json.loads(Path(validators_file).read_text(encoding="utf-8"))
    codes = (with_httpx if client == "httpx" else with_requests)(urls, validators)
    print(json.dumps({str(code): count for code, count in sorted(codes.items())}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
