"""The files of output/ over HTTP: which paths are served, and how, as an ASGI app.

Files. Only GET and HEAD (405 otherwise). A request path is checked before it
touches the disk: every segment must be a plain name (letters, digits, ``._~-``,
not starting with a dot), so ``..``, hidden and temporary files, empty segments
and absolute paths are refused with 404, a NUL byte with 400; only the
extensions of the output layout are served, with their feed content types. The
file is opened once, one directory at a time below output/ with
``O_NOFOLLOW``, so no symlink inside output/ is followed (race-free), and the
headers come from ``fstat`` of that handle: the body streamed from it is always
the complete file the publisher renamed into place, never half of the next one.

Validators. ``ETag`` is ``"<size>-<mtime_ns>-<inode>"`` (hex), so an atomic
replace always changes it; ``Last-Modified`` is the mtime. The gzip
representation gets its own strong tag, the identity tag plus ``-gzip``;
``If-None-Match`` is compared weakly with the tag of the representation being
chosen, and wins over ``If-Modified-Since``. Files carry
``Cache-Control: public, max-age=<cache_seconds>`` and ``Vary: Accept-Encoding``.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
import zlib
from dataclasses import dataclass
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

log = logging.getLogger("feedsvc.serve")

CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
}
INDEX = "index.html"
MAX_PATH = 1024
MAX_DEPTH = 8
CHUNK = 64 * 1024
GZIP_MIN_SIZE = 512
GZIP_LEVEL = 6

_SEGMENT_RE = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,254}")
_MISSING = {errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EISDIR, errno.EACCES, errno.ENXIO}


@dataclass(frozen=True, slots=True)
class _Opened:
    """An open output file and the facts its headers are made of."""

    fd: int
    size: int
    mtime: float
    etag: str
    content_type: str


def request_parts(path: str) -> tuple[str, ...] | None:
    """The safe segments below output/ that ``path`` names, or None when it names none."""
    if len(path) > MAX_PATH or not path.startswith("/"):
        return None
    relative = path[1:]
    if relative == "" or relative.endswith("/"):
        relative += INDEX
    parts = tuple(relative.split("/"))
    if len(parts) > MAX_DEPTH or not all(_SEGMENT_RE.fullmatch(p) for p in parts):
        return None
    return parts if Path(parts[-1]).suffix in CONTENT_TYPES else None


def _open_below(root: Path, parts: tuple[str, ...]) -> _Opened | None:
    """Open ``root/parts`` following no symlink below root; None when it is not a file."""
    try:
        fd = _walk(root, parts)
    except OSError as exc:
        if exc.errno in _MISSING:
            return None
        raise
    try:
        return _describe(fd, parts[-1])
    except BaseException:
        os.close(fd)
        raise


def _walk(root: Path, parts: tuple[str, ...]) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for part in parts[:-1]:
        try:
            child = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
        finally:
            os.close(fd)
        fd = child
    try:
        return os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _describe(fd: int, name: str) -> _Opened | None:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        return None
    etag = f'"{info.st_size:x}-{info.st_mtime_ns:x}-{info.st_ino:x}"'
    content_type = CONTENT_TYPES[Path(name).suffix]
    return _Opened(fd, info.st_size, info.st_mtime, etag, content_type)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value accepts gzip (q > 0, named or by ``*``)."""
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        weights[coding.strip()] = _quality(params)
    if "gzip" in weights or "x-gzip" in weights:
        return max(weights.get("gzip", 0.0), weights.get("x-gzip", 0.0)) > 0
    return weights.get("*", 0.0) > 0


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison of ``etag`` with an ``If-None-Match`` list (``*`` matches any)."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


def not_modified_since(if_modified_since: str, mtime: float) -> bool:
    """Whether a file last modified at ``mtime`` is unchanged since the given HTTP date."""
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(mtime) <= since.timestamp()


class OutputFiles:
    """The ASGI app that answers GET/HEAD for files below output/."""

    def __init__(self, root: Path, cache_seconds: int) -> None:
        self._root = root
        self._cache_control = f"public, max-age={cache_seconds}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request for a file below output/."""
        path: str = scope["path"]
        if "\x00" in path:
            await PlainTextResponse("bad request\n", 400)(scope, receive, send)
            return
        parts = request_parts(path)
        opened = await anyio.to_thread.run_sync(_open_below, self._root, parts) if parts else None
        if opened is None:
            log.debug("not served path=%r", path[:200])
            await PlainTextResponse("not found\n", 404)(scope, receive, send)
            return
        try:
            await self._answer(opened, scope, send)
        finally:
            os.close(opened.fd)

    async def _answer(self, opened: _Opened, scope: Scope, send: Send) -> None:
        request = Request(scope)
        gzip = opened.size >= GZIP_MIN_SIZE and accepts_gzip(
            request.headers.get("accept-encoding", "")
        )
        etag = opened.etag[:-1] + '-gzip"' if gzip else opened.etag
        headers = self._headers(opened, etag)
        if _is_not_modified(request, etag, opened.mtime):
            await _send_start(send, 304, headers)
            await send({"type": "http.response.body", "body": b""})
            return
        headers["Content-Type"] = opened.content_type
        headers["X-Content-Type-Options"] = "nosniff"
        if gzip:
            headers["Content-Encoding"] = "gzip"
        else:
            headers["Content-Length"] = str(opened.size)
        await _send_start(send, 200, headers)
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
        else:
            await _stream(opened, send, gzip)

    def _headers(self, opened: _Opened, etag: str) -> dict[str, str]:
        return {
            "ETag": etag,
            "Last-Modified": formatdate(opened.mtime, usegmt=True),
            "Cache-Control": self._cache_control,
            "Vary": "Accept-Encoding",
        }


def _is_not_modified(request: Request, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return etag_matches(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    return if_modified_since is not None and not_modified_since(if_modified_since, mtime)


async def _send_start(send: Send, status: int, headers: dict[str, str]) -> None:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})


async def _stream(opened: _Opened, send: Send, gzip: bool) -> None:
    """Send the open file, gzipped or not, reading only from its handle."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None
    remaining = opened.size
    while remaining > 0:
        chunk = await anyio.to_thread.run_sync(os.read, opened.fd, min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        body = compressor.compress(chunk) if compressor else chunk
        if body:
            await send({"type": "http.response.body", "body": body, "more_body": True})
    tail = compressor.flush() if compressor else b""
    await send({"type": "http.response.body", "body": tail, "more_body": False})
