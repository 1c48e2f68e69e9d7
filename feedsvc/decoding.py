"""Content-Encoding decoding that never holds more than a small piece at a time.

httpx decodes a whole network chunk in one call, so a chunk of a compression
bomb (and far worse, a body encoded twice, ``Content-Encoding: gzip, gzip``)
becomes megabytes or gigabytes at once, before any size limit can look at it.
Fetching reads the raw bytes instead and decodes them here: every layer yields
pieces of at most ``PIECE`` bytes, lazily, so the caller's size cap stops a
bomb after reading just past the limit, with memory bounded by the pieces in
flight. gzip (several members too), deflate (zlib or raw) and identity are
decoded; br when the ``brotli`` package is installed. Anything else, or more
than ``MAX_LAYERS`` encodings, raises ``DecodingError``.

Pure: bytes in, bytes out, no I/O.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any, Protocol

from feedsvc.errors import FetchError

try:  # brotli is optional, as it is for httpx
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the installation
    _brotli = None

PIECE = 64 * 1024
MAX_LAYERS = 3
IDENTITY = frozenset({"", "identity", "none"})
KNOWN_UNSUPPORTED = frozenset(
    {"compress", "x-compress", "zstd", "dcb", "dcz", "exi", "pack200-gzip"}
)


class DecodingError(FetchError):
    """The body's Content-Encoding is unsupported or its bytes do not decode."""


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


def supported_encodings() -> tuple[str, ...]:
    """The content codings this installation decodes, for ``Accept-Encoding``."""
    return ("gzip", "deflate", "br") if _brotli is not None else ("gzip", "deflate")


class BodyDecoder:
    """Decodes a body encoded with the codings of a ``Content-Encoding`` header, in pieces."""

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c not in IDENTITY]
        if len(codings) > MAX_LAYERS:
            raise DecodingError(f"too many content encodings ({len(codings)}): {content_encoding}")
        # Applied in the order listed, so undone in reverse.
        self._layers: list[_Layer] = [_layer(c) for c in reversed(codings)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces (each at most ``PIECE`` bytes) that ``data`` completes."""
        return self._through(0, iter((data,)), final=False)

    def finish(self) -> Iterator[bytes]:
        """The last decoded pieces, once the raw body has ended."""
        return self._through(0, iter(()), final=True)

    def _through(self, index: int, pieces: Iterator[bytes], *, final: bool) -> Iterator[bytes]:
        if index == len(self._layers):
            yield from pieces
            return
        layer = self._layers[index]
        yield from self._through(index + 1, _feed_all(layer, pieces, final), final=final)


def _feed_all(layer: _Layer, pieces: Iterator[bytes], final: bool) -> Iterator[bytes]:
    for piece in pieces:
        yield from layer.feed(piece)
    if final:
        yield from layer.finish()


def _layer(coding: str) -> _Layer:
    if coding in ("gzip", "x-gzip"):
        return _Zlib(16 + zlib.MAX_WBITS, "gzip")
    if coding == "deflate":
        return _Deflate()
    if coding == "br" and _brotli is not None:
        return _Brotli(_brotli)
    raise DecodingError(f"unsupported content encoding {coding!r}")


class _Zlib:
    """gzip or zlib data, several concatenated gzip members included."""

    def __init__(self, wbits: int, name: str) -> None:
        self._wbits = wbits
        self._name = name
        self._engine = zlib.decompressobj(wbits)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._engine.decompress(data, PIECE)
            except zlib.error as exc:
                raise DecodingError(f"invalid {self._name} data: {exc}") from exc
            if out:
                yield out
            if self._engine.eof:
                data = self._engine.unused_data
                if data.strip(b"\0"):  # another gzip member follows
                    self._engine = zlib.decompressobj(self._wbits)
                else:
                    return
            else:
                data = self._engine.unconsumed_tail

    def finish(self) -> Iterator[bytes]:
        while True:
            out = self._engine.decompress(b"", PIECE)
            if not out:
                return
            yield out


class _Deflate:
    """HTTP "deflate": zlib-wrapped as the standard says, or raw as some servers send it."""

    def __init__(self) -> None:
        self._inner: _Zlib | None = None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._inner is None:
            raw = not _looks_zlib(data)
            self._inner = _Zlib(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS, "deflate")
        return self._inner.feed(data)

    def finish(self) -> Iterator[bytes]:
        return self._inner.finish() if self._inner is not None else iter(())


def _looks_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._module = module
        self._engine = module.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        # brotli stops growing its output past the limit, within one internal block.
        out = self._process(data)
        while out:  # drain what this input holds, a piece at a time
            yield from _sliced(out)
            out = self._process(b"")

    def _process(self, data: bytes) -> bytes:
        try:
            out: bytes = self._engine.process(data, output_buffer_limit=PIECE)
        except self._module.error as exc:
            raise DecodingError(f"invalid br data: {exc}") from exc
        return out

    def finish(self) -> Iterator[bytes]:
        return iter(())


def _sliced(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]
