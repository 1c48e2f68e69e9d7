"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only ../shared material; skipped where it is absent, required in CI."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"CI run without ../shared (looked for {SHARED})")
        pytest.skip(f"../shared is not here ({SHARED}); it comes with the development checkout")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The root of this repository."""
    return REPO


from tests.support.httpserver import loopback_server  # noqa: E402,F401  (fixture for every test)
