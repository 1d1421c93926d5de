"""What every browser test of the web app shares (tests/web/): Debian's Chromium driven by
Playwright for Python (its bundled driver, not a browser download), a console that fails the test
on any JavaScript error, screenshots, signing in, and API calls made beside the browser.

The fixtures `browser` and `page` are in tests/web/conftest.py; each test module defines its own
module-scoped `site` (a live `gonk-api serve` with its data)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GONK_CHROMIUM", "/usr/bin/chromium")
RESULTS = ROOT / "test-results" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
TIMEOUT = 30
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 800}


def browser_or_skip() -> Any:
    """Playwright's sync API, or a skip (a failure with GONK_REQUIRE_SERVICES=1) saying why."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright for Python is not installed (pip install -e '.[test]')"
    if reason is None and not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        reason = (f"no Chromium at {CHROMIUM} (apt-get install chromium, or set GONK_CHROMIUM); "
                  ".ci/run installs it")
    if reason is not None:
        if os.environ.get("GONK_REQUIRE_SERVICES") == "1":
            pytest.fail(f"GONK_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return sync_playwright


def expect(target: Any) -> Any:
    """Playwright's assertions, which wait (page.wait_for_function cannot: it evaluates a
    string, which the app's Content-Security-Policy forbids, as it should)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def api(site: SimpleNamespace, method: str, path: str, **kwargs: Any) -> Any:
    response = requests.request(method, f"{site.base}{path}", timeout=TIMEOUT,
                                headers={"x-api-key": site.key}, **kwargs)
    assert response.status_code == 200, (method, path, response.status_code, response.text)
    return response.json()


class Console:
    """Every console error and uncaught exception of a page; `allow(status)` lets through the
    browser's "Failed to load resource" line for a status the test provokes."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.allowed: set[int] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: Any) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        status = re.search(r"Failed to load resource: the server responded with a status of "
                           r"(\d+)", text)
        if status and int(status.group(1)) in self.allowed:
            return
        self.errors.append(f"console.{message.type}: {text} ({message.location})")

    def allow(self, *statuses: int) -> None:
        self.allowed.update(statuses)


def shoot(page: Any, name: str) -> None:
    """A screenshot in test-results/screenshots/, and with GONK_WEB_SCREENSHOTS=docs a copy,
    reduced to at most 900 pixels wide, in docs/screenshots/ for the README."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=False)
    if os.environ.get("GONK_WEB_SCREENSHOTS") == "docs":
        from PIL import Image

        DOCS.mkdir(parents=True, exist_ok=True)
        with Image.open(target) as image:
            image.thumbnail((900, 900))
            out = io.BytesIO()
            image.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(
                out, format="PNG", optimize=True)
        (DOCS / f"{name}.png").write_bytes(out.getvalue())
    assert target.stat().st_size > 0


def sign_in(page: Any, site: SimpleNamespace, hash_: str = "", key: str | None = None) -> None:
    """Open the app at `hash_` and sign in with `key` (default: the site's first user's)."""
    page.goto(f"{site.base}/{hash_}")
    page.fill("#key", key or site.key)
    page.click("button[type=submit]")
    page.wait_for_selector("#signout:not([hidden])")


