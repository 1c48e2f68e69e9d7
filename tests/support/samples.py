"""The repository's sample outlets (samples/) as sources: one ferry story told by five of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def sample_sources(
    samples: Path, *, riverside_tags: tuple[str, ...] = (), drop_riverside: bool = False
) -> list[dict[str, Any]]:
    """The five sample outlets as source entries (the Riverside page without tags by default)."""
    sources: list[dict[str, Any]] = [
        {"name": "harbour-gazette", "title": "The Harbour Gazette", "kind": "feed",
         "path": str(samples / "harbour-gazette/feed.xml"), "tags": ["coast"]},
        {"name": "valley-wire", "title": "Valley Wire", "kind": "feed",
         "path": str(samples / "valley-wire/atom.xml"), "tags": ["wire"]},
        {"name": "metro-daily", "title": "Metro Daily", "kind": "feed",
         "path": str(samples / "metro-daily/feed.json")},
        {"name": "lowmere-drops", "title": "Lowmere Drops", "kind": "file",
         "path": str(samples / "drops"), "tags": ["coast"]},
    ]  # fmt: skip
    if not drop_riverside:
        riverside: dict[str, Any] = {
            "name": "riverside", "title": "Riverside Chronicle", "kind": "page",
            "path": str(samples / "pages/riverside-chronicle-ferry.html"),
        }  # fmt: skip
        if riverside_tags:
            riverside["tags"] = list(riverside_tags)
        sources.append(riverside)
    return sources
