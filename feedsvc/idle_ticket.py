"""What the idle check needs from a config file, kept so the next run need not parse it.

Deciding that a cron run has nothing to do takes a handful of values from
sources.yaml (the database URL, the output and data directories, a digest of
the sources as they are stored, the output fingerprint), but parsing and validating the
file costs several times a bare interpreter start. A full run writes those
values to a *ticket*; the next run reads the ticket instead of the config when
the ticket's key still matches: a hash of feedsvc's version, the config file's
absolute path, its bytes and the environment variables that change how it is
read. Any change to any of them, an unreadable or malformed ticket, or a
missing cache directory means "no ticket", and the run loads the config as
before. A ticket only ever lets a run *skip work that the idle check proves
unnecessary*; it never changes what a run does.

Tickets live in the user's cache directory (``$XDG_CACHE_HOME/feedsvc`` or
``~/.cache/feedsvc``), one per config path, written atomically. This module
imports nothing heavy (no config parser, no feedsvc types at run time).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedsvc import __version__
from feedsvc.store.idle import SourceRow, sources_digest
from feedsvc.tempfiles import temp_prefix

if TYPE_CHECKING:
    from feedsvc.config_types import Config

# Environment variables that change what a config file means (config.py reads them).
CONFIG_ENVIRONMENT = ("FEEDSVC_DATABASE_URL",)
_FORMAT = 2


@dataclass(frozen=True, slots=True)
class IdleTicket:
    """The values of one config file that the idle check needs."""

    database_url: str
    output_dir: Path
    data_dir: Path
    fingerprint: str
    sources: str  # the sources_digest of the configured sources


def source_rows(config: Config) -> tuple[SourceRow, ...]:
    """The configured sources as the idle check compares them with the stored ones."""
    return tuple((s.name, s.title, s.kind, s.location, s.enabled) for s in config.sources)


def ticket_for(config: Config) -> IdleTicket:
    """The ticket of a loaded config."""
    from feedsvc.fingerprint import output_fingerprint

    settings = config.settings
    return IdleTicket(
        settings.database_url,
        settings.output_dir,
        settings.data_dir,
        output_fingerprint(config),
        sources_digest(source_rows(config)),
    )


def ticket_path(config_path: Path) -> Path | None:
    """Where the ticket of the config file at ``config_path`` is kept (None: nowhere to keep it)."""
    home = os.environ.get("HOME")
    cache = os.environ.get("XDG_CACHE_HOME") or (str(Path(home, ".cache")) if home else "")
    if not cache or not Path(cache).is_absolute():
        return None
    name = hashlib.sha256(os.fsencode(config_path.absolute())).hexdigest()[:32]
    return Path(cache, "feedsvc", f"idle-{name}.json")


def config_key(config_path: Path, text: bytes) -> str:
    """The key a ticket must carry to stand for the config file with these bytes."""
    digest = hashlib.sha256()
    parts = [__version__, str(_FORMAT), str(config_path.absolute())]
    parts += [f"{name}={os.environ.get(name, '')}" for name in CONFIG_ENVIRONMENT]
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    digest.update(text)
    return digest.hexdigest()


def read_ticket(config_path: Path) -> IdleTicket | None:
    """The ticket that stands for the config file as it is now, or None."""
    where = ticket_path(config_path)
    if where is None:
        return None
    try:
        text = config_path.read_bytes()
        stored = json.loads(where.read_bytes())
        if stored.get("key") != config_key(config_path, text):
            return None
        return _decode(stored)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def write_ticket(config_path: Path, text: bytes, ticket: IdleTicket) -> None:
    """Keep ``ticket``, parsed from ``text``, for the config file at ``config_path`` (best effort).

    Written atomically; ``text`` is the bytes the config was parsed from, so a
    file changed since then does not match the ticket.
    """
    where = ticket_path(config_path)
    if where is None:
        return
    try:
        key = config_key(config_path, text)
        body = json.dumps({"key": key, **_encode(ticket)}, ensure_ascii=False).encode("utf-8")
        if where.is_file() and where.read_bytes() == body:
            return  # kept already: a full run that changed nothing writes nothing here
        where.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=temp_prefix(where), suffix=".tmp", dir=where.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            Path(name).replace(where)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
    except OSError:
        return  # a cache: a run without it only costs the parse


def _encode(ticket: IdleTicket) -> dict[str, Any]:
    return {
        "database_url": ticket.database_url,
        "output_dir": str(ticket.output_dir),
        "data_dir": str(ticket.data_dir),
        "fingerprint": ticket.fingerprint,
        "sources": ticket.sources,
    }


def _decode(stored: dict[str, Any]) -> IdleTicket:
    digest = stored["sources"]
    if not isinstance(digest, str):
        raise TypeError("a ticket's sources are their digest")
    return IdleTicket(
        str(stored["database_url"]),
        Path(stored["output_dir"]),
        Path(stored["data_dir"]),
        str(stored["fingerprint"]),
        digest,
    )
