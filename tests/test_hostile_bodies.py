"""Compression bombs and endless bodies: cut off at the size limit while streaming, memory bounded.

The decoder is tested on its own (``feedsvc.decoding``), then real bombs are
served over loopback and fetched in a subprocess whose peak RSS is measured.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import brotli
import pytest

from feedsvc.decoding import PIECE, BodyDecoder, DecodingError
from feedsvc.fetch import fetch_all_sync
from feedsvc.types import FetchConfig, FetchFailed, FetchRequest
from tests.support.httpserver import LoopbackServer, zeros
from tests.support.memory import run_measured

MB = 1024 * 1024
LIMIT = 10 * MB  # the default max_body_size
TEXT = b"<rss><channel><title>Port Wendel ferry news</title></channel></rss>\n" * 3000


def decode_all(encoding: str, raw: bytes, feed_size: int = 16 * 1024) -> Iterator[bytes]:
    decoder = BodyDecoder(encoding)
    for start in range(0, len(raw), feed_size):
        yield from decoder.feed(raw[start : start + feed_size])
    yield from decoder.finish()


def compressed(data: bytes, wbits: int, level: int = 9) -> bytes:
    engine = zlib.compressobj(level, zlib.DEFLATED, wbits)
    return engine.compress(data) + engine.flush()


def compressed_zeros(size: int, wbits: int) -> bytes:
    engine = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(16 * MB)
    parts = [engine.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + engine.flush()


# --------------------------------------------------------------------------- the decoder


@pytest.mark.parametrize(
    ("encoding", "raw"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        ("deflate", zlib.compress(TEXT)),
        ("deflate", compressed(TEXT, -15)),  # raw deflate, as some servers send it
        ("br", brotli.compress(TEXT)),
        ("gzip, gzip", gzip.compress(gzip.compress(TEXT))),
        ("deflate, br", brotli.compress(zlib.compress(TEXT))),
        ("identity", TEXT),
        ("", TEXT),
        ("GZIP", gzip.compress(TEXT[:1000]) + gzip.compress(TEXT[1000:])),  # two members
    ],
)
def test_every_supported_encoding_decodes_in_bounded_pieces(encoding: str, raw: bytes) -> None:
    pieces = list(decode_all(encoding, raw))
    assert all(len(p) <= PIECE for p in pieces)
    assert b"".join(pieces) == TEXT


def test_a_bomb_yields_small_pieces_lazily() -> None:
    bomb = compressed_zeros(64 * MB, 31)
    decoder = BodyDecoder("gzip")
    produced = 0
    for piece in decoder.feed(bomb):
        assert len(piece) <= PIECE
        produced += len(piece)
        if produced > LIMIT:
            break  # what fetching does: nothing past this point is ever decoded
    assert LIMIT < produced <= LIMIT + PIECE


def test_a_nested_bomb_yields_small_pieces_lazily() -> None:
    inner = compressed_zeros(64 * MB, 31) * 16  # 1 GiB in sixteen gzip members
    bomb = compressed(inner, 31)
    assert len(bomb) < 100_000
    produced = 0
    for piece in BodyDecoder("gzip, gzip").feed(bomb):
        assert len(piece) <= PIECE
        produced += len(piece)
        if produced > LIMIT:
            break
    assert produced <= LIMIT + PIECE


@pytest.mark.parametrize(
    ("encoding", "raw", "message"),
    [
        ("compress", b"\x1f\x9d\x90", "unsupported content encoding 'compress'"),
        ("zstd", b"(\xb5/\xfd", "unsupported content encoding 'zstd'"),
        ("snappy", b"x", "unsupported content encoding 'snappy'"),
        ("gzip", b"this is not gzip at all", "invalid gzip data"),
        ("deflate", b"\xff\xff\xff\xff not deflate", "invalid deflate data"),
        ("br", b"\xff\xff\xff\xff not brotli", "invalid br data"),
        ("gzip, gzip, gzip, gzip", b"", "too many content encodings (4)"),
    ],
)
def test_undecodable_bodies_fail_with_a_clear_error(
    encoding: str, raw: bytes, message: str
) -> None:
    with pytest.raises(DecodingError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        list(decode_all(encoding, raw))


# --------------------------------------------------------------------------- over HTTP, measured

FETCH_ONE = """
import asyncio, sys
from feedsvc.fetch import Fetcher
from feedsvc.types import FetchConfig, FetchRequest

async def main():
    config = FetchConfig(allow_private_addresses=True, total_timeout=60.0)
    async with Fetcher(config, "feedsvc-tests") as fetcher:
        return await fetcher.fetch(FetchRequest("bomb", url=sys.argv[1]))

outcome = asyncio.run(main())
report(kind=type(outcome).__name__, error=getattr(outcome, "error", None))
"""


@pytest.fixture(scope="module")
def bombs() -> dict[str, tuple[bytes, str]]:
    """Small bodies that decode to far more than the limit, with their Content-Encoding."""
    gzip_member = compressed_zeros(64 * MB, 31)
    return {
        "gzip": (compressed_zeros(512 * MB, 31), "gzip"),
        "deflate": (compressed_zeros(512 * MB, 15), "deflate"),
        "raw-deflate": (compressed_zeros(512 * MB, -15), "deflate"),
        "br": (brotli.compress(bytes(1024 * MB), quality=1), "br"),
        "gzip-members": (gzip_member * 24, "gzip"),  # 1.5 GiB in 24 members
        "gzip-twice": (compressed(gzip_member * 64, 31), "gzip, gzip"),  # 4 GiB, ~2 kB sent
        "gzip-br": (brotli.compress(gzip_member * 64), "gzip, br"),
    }


BOMB_NAMES = ["gzip", "deflate", "raw-deflate", "br", "gzip-members", "gzip-twice", "gzip-br"]


@pytest.mark.slow
@pytest.mark.parametrize("name", BOMB_NAMES)
def test_compression_bombs_are_cut_off_with_memory_bounded(
    loopback_server: LoopbackServer, bombs: dict[str, tuple[bytes, str]], name: str
) -> None:
    body, encoding = bombs[name]
    assert len(body) < 2 * MB
    loopback_server.route("/bomb", body=body, headers={"Content-Encoding": encoding})
    result = run_measured(FETCH_ONE, loopback_server.url("/bomb"))
    assert result["kind"] == "FetchFailed"
    assert result["error"] == f"response body exceeds {LIMIT} bytes; cut off"
    # The interpreter with feedsvc's stack is about 50 MB; the body is capped at 10 MiB.
    assert result["peak_rss_mb"] < 120, result


@pytest.mark.slow
def test_an_endless_body_is_cut_off_with_memory_bounded(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/endless", chunks=lambda: zeros(10**12))
    result = run_measured(FETCH_ONE, loopback_server.url("/endless"))
    assert result["error"] == f"response body exceeds {LIMIT} bytes; cut off"
    assert result["peak_rss_mb"] < 120, result
    assert loopback_server.body_bytes_sent < 200 * MB


@pytest.mark.slow
def test_an_endless_gzip_stream_is_cut_off_with_memory_bounded(
    loopback_server: LoopbackServer,
) -> None:
    loopback_server.route("/endless", chunks=lambda: zeros(10**12), gzip=True)
    result = run_measured(FETCH_ONE, loopback_server.url("/endless"))
    assert result["error"] == f"response body exceeds {LIMIT} bytes; cut off"
    assert result["peak_rss_mb"] < 120, result


def test_an_unsupported_encoding_fails_the_source(loopback_server: LoopbackServer) -> None:
    loopback_server.route("/z", body=b"(\xb5/\xfd...", headers={"Content-Encoding": "zstd"})
    config = FetchConfig(allow_private_addresses=True)
    [outcome] = fetch_all_sync([FetchRequest("z", url=loopback_server.url("/z"))], config, "t")
    assert isinstance(outcome, FetchFailed)
    assert (outcome.error, outcome.status) == ("unsupported content encoding 'zstd'", 200)
