"""The fingerprint of what shapes the published output besides the stored data.

Settings and sources that change the published files (paths, titles, links,
tags, feed size, hub, the feed sets and formats), the tag vocabulary and its
rules, the feedsvc version and an output-format number, hashed.
The publisher stores it with each publish and renders everything when it
changes; the idle check compares it without rendering anything. Pure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from feedsvc import __version__
from feedsvc.config_types import Config

# Bump when the rendering of unchanged data changes without a version change.
OUTPUT_FORMAT = 7
FINGERPRINT_KEY = "output_fingerprint"


def output_fingerprint(config: Config) -> str:
    """A hash of everything besides the stored data that shapes the published files."""
    settings = config.settings
    shape = {
        "feedsvc": __version__,
        "format": OUTPUT_FORMAT,
        "output_dir": str(settings.output_dir),
        "base_url": settings.base_url,
        "feed_size": settings.feed_size,
        "websub_hub": settings.websub_hub,
        "sources": [[s.name, s.title, s.kind, s.location, list(s.tags)] for s in config.sources],
        "feeds": asdict(settings.feeds),
        "tags": asdict(config.tags),
    }
    encoded = json.dumps(shape, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()
