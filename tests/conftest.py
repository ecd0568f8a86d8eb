"""Shared test set-up.

Tests marked `postgres` need the real PostgreSQL server (row locks, concurrency);
tests marked `browser` need Debian's headless Chromium. On a laptop without them
they skip with a reason; CI sets REQUIRE_POSTGRES=1 / REQUIRE_BROWSER=1, which
turns such a skip into a failure.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connection

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def _required(flag: str) -> bool:
    return os.environ.get(flag, "").strip() in {"1", "true", "yes"}


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        message = f"needs PostgreSQL (DATABASE_URL points at {connection.vendor})"
        if _required("REQUIRE_POSTGRES"):
            pytest.fail(f"REQUIRE_POSTGRES=1 but this test {message}")
        pytest.skip(message)
    if item.get_closest_marker("browser") and not shutil.which(CHROMIUM):
        message = f"needs headless Chromium at {CHROMIUM}"
        if _required("REQUIRE_BROWSER"):
            pytest.fail(f"REQUIRE_BROWSER=1 but this test {message}")
        pytest.skip(message)
