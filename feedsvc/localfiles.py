"""Read a ``file`` source: one local file, or every document in a folder.

Fetching's local half, apart from HTTP: given a ``FetchRequest`` with a path
it returns ``Fetched`` (one ``Document`` per file), ``NotModified`` (a
validator of names, sizes and times says nothing changed) or ``FetchFailed``
(missing, unreadable or too large). It reads only the path the operator
configured (``path:`` or a ``file://`` URL of a ``file`` source in
sources.yaml), never a URL that came from the network. It does not parse.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from feedsvc.errors import BodyTooLarge
from feedsvc.types import Document, Fetched, FetchFailed, FetchOutcome, FetchRequest, NotModified

FILE_TYPES: Mapping[str, str] = {
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
}


@dataclass(frozen=True, slots=True)
class _LocalFile:
    """One file of a file source, as listed before reading."""

    path: Path
    relative: str
    size: int
    mtime_ns: int


async def fetch_files(request: FetchRequest, path: Path, limit: int) -> FetchOutcome:
    """Read a file or a folder of files off the event loop."""
    return await asyncio.to_thread(_read_files, request, path, limit)


def _failed(request: FetchRequest, error: str) -> FetchFailed:
    return FetchFailed(source=request.source, url=str(request.path), error=error)


def _read_files(request: FetchRequest, path: Path, limit: int) -> FetchOutcome:
    location = str(request.path)
    try:
        root = path.expanduser().resolve()
        files = _list_files(root)
        etag = _files_etag(files)
        if request.etag is not None and request.etag == etag:
            return NotModified(source=request.source, url=location)
        documents = tuple(_read_document(f, limit) for f in files)
    except FileNotFoundError as exc:
        return _failed(request, f"no such file or folder: {exc.filename or path}")
    except BodyTooLarge as exc:
        return _failed(request, str(exc))
    except OSError as exc:
        return _failed(request, f"cannot read {exc.filename or path}: {exc.strerror or exc}")
    final_url = root.as_uri()
    return Fetched(request.source, location, final_url, 200, documents, etag=etag)


def _list_files(root: Path) -> list[_LocalFile]:
    """The file itself, or the folder's visible files of known types sorted by relative path."""
    if not root.is_dir():
        return [_stat_file(root, root.name)]
    found = []
    for candidate in root.rglob("*"):
        relative = candidate.relative_to(root)
        if _is_hidden(relative) or candidate.suffix.lower() not in FILE_TYPES:
            continue
        if candidate.is_file():
            found.append(_stat_file(candidate, relative.as_posix()))
    return sorted(found, key=lambda f: f.relative)


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _stat_file(path: Path, relative: str) -> _LocalFile:
    stat = path.stat()
    return _LocalFile(path, relative, stat.st_size, stat.st_mtime_ns)


def _files_etag(files: Sequence[_LocalFile]) -> str:
    """A validator that changes whenever a file is added, removed, resized or touched."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.relative}\0{f.size}\0{f.mtime_ns}\n".encode())
    return f'"files-{digest.hexdigest()[:32]}"'


def _read_document(file: _LocalFile, limit: int) -> Document:
    if file.size > limit:
        raise _file_too_large(file, limit)
    with file.path.open("rb") as handle:
        body = handle.read(limit + 1)
    if len(body) > limit:
        raise _file_too_large(file, limit)
    content_type = FILE_TYPES.get(file.path.suffix.lower())
    return Document(url=file.path.as_uri(), body=body, content_type=content_type)


def _file_too_large(file: _LocalFile, limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"file {file.path} exceeds {limit} bytes")
