"""The one exception tree of feedsvc.

Third-party exceptions (httpx, feedparser, SQLAlchemy, YAML) are translated into
these at exactly one boundary each, with ``raise X from exc``. Inside a batch a
source's failure is a value (``FetchFailed``, ``SourceResult.error``); these
exceptions are for the edges.

::

    FeedsvcError
    ├── ConfigError          sources.yaml is unreadable or invalid (file, line, key)
    ├── FetchError           a document could not be fetched (used inside fetch only)
    │   └── BodyTooLarge     the body exceeded the configured maximum
    ├── ExtractError         a fetched document holds nothing usable
    ├── StoreError           the database could not be opened or migrated
    ├── PublishError         an output file could not be written
    ├── LockedError          another run holds the run lock
    └── NotFoundError        a named article or story does not exist
"""

from __future__ import annotations

from dataclasses import dataclass


class FeedsvcError(Exception):
    """Base class of every error feedsvc raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a config file: where it is and what was expected."""

    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(FeedsvcError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems))


class FetchError(FeedsvcError):
    """A document could not be fetched."""


class BodyTooLarge(FetchError):
    """The response body exceeded the configured maximum size."""


class ExtractError(FeedsvcError):
    """A fetched document contains nothing usable."""


class StoreError(FeedsvcError):
    """The database could not be opened, migrated or written."""


class PublishError(FeedsvcError):
    """An output file could not be written."""


class LockedError(FeedsvcError):
    """Another feedsvc run holds the run lock."""


class NotFoundError(FeedsvcError):
    """A named article or story does not exist."""
