"""Shared harness of the browser tests: Debian's Chromium driven by Playwright,
screenshots for people to look at, and axe-core accessibility checks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
AXE = Path(django_settings.BASE_DIR) / ".ci-node" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop registered in this thread; the test's ORM
    # calls stay plain synchronous calls, so Django's async-safety guard does not apply.
    mp = pytest.MonkeyPatch()
    mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    mp.undo()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_accessible(page, label: str) -> None:
    """axe-core in the page: WCAG 2.x A/AA rules; no serious or critical violation allowed."""
    if not AXE.exists():
        message = f"axe-core missing at {AXE} (npm install --prefix .ci-node axe-core)"
        if os.environ.get("REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """async () => await axe.run(document, {runOnly: {type: 'tag', values:
            ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"""
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["html"][:120] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{label}: " + json.dumps(bad, indent=1)
