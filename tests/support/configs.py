"""Write sources.yaml files for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def write_config(
    directory: Path,
    sources: list[dict[str, Any]],
    *,
    fetch: dict[str, Any] | None = None,
    **settings: Any,
) -> Path:
    """Write a sources.yaml under ``directory`` whose data and output stay inside it.

    Fetching from private addresses is allowed (the test servers are on
    loopback) unless ``fetch`` says otherwise.
    """
    merged: dict[str, Any] = {
        "data_dir": "data",
        "output_dir": "output",
        "base_url": "http://feeds.test/",
        "contact": "mailto:tests@feedsvc.test",
        **settings,
    }
    # Test servers listen on loopback, which feedsvc refuses by default.
    merged["fetch"] = {"allow_private_addresses": True, **(fetch or {})}
    path = directory / "sources.yaml"
    path.write_text(yaml.safe_dump({"settings": merged, "sources": sources}, sort_keys=False))
    return path


def feed_source(name: str, url: str, **extra: Any) -> dict[str, Any]:
    """A ``kind: feed`` source entry."""
    return {"name": name, "kind": "feed", "url": url, **extra}
