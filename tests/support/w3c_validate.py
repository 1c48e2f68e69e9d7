"""Run the W3C feed validator (the ``feedvalidator`` project) over published files.

Usage: ``python tests/support/w3c_validate.py OUTPUT_DIR BASE_URL`` with the
validator's ``src/`` directory on ``PYTHONPATH`` (and html5lib and rdflib
installed where that Python runs). Every ``.rss``, ``.atom`` and ``.opml`` file
under OUTPUT_DIR is validated as if served at BASE_URL + its relative path
with its media type; one JSON object per file is printed:
``{"file": ..., "feed_type": ..., "errors": [...], "warnings": [...]}``.

The validator is not on PyPI, so this runs only where a checkout of it is at
hand (``tests/test_w3c.py`` is skipped otherwise); the rules it enforces that
feedsvc relies on are also checked by the regular tests.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

MEDIA_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
}


def validate_file(path: Path, url: str) -> dict[str, Any]:
    """The validator's errors and warnings (as plain-text messages) for one file."""
    import feedvalidator  # type: ignore[import-not-found]
    from feedvalidator.formatter.text_plain import Formatter  # type: ignore[import-not-found]
    from feedvalidator.logging import Error, Warning  # type: ignore[import-not-found]

    try:
        result = feedvalidator.validateStream(
            io.BytesIO(path.read_bytes()),
            firstOccurrenceOnly=1,
            contentType=MEDIA_TYPES[path.suffix],
            base=url,
        )
        events, feed_type = result["loggedEvents"], result.get("feedType")
    except feedvalidator.logging.ValidationFailure as failure:
        events, feed_type = [failure.event], None
    errors = [e for e in events if isinstance(e, Error)]
    warnings = [e for e in events if isinstance(e, Warning)]
    return {
        "file": str(path),
        "feed_type": feed_type,
        "errors": list(Formatter(errors)),
        "warnings": list(Formatter(warnings)),
    }


def main(argv: list[str]) -> int:
    """Validate every feed and OPML file under ``argv[0]``; exit 1 when any has an error."""
    root, base = Path(argv[0]), argv[1].rstrip("/") + "/"
    failed = False
    for path in sorted(p for p in root.rglob("*") if p.suffix in MEDIA_TYPES):
        report = validate_file(path, base + path.relative_to(root).as_posix())
        failed = failed or bool(report["errors"])
        print(json.dumps(report, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
