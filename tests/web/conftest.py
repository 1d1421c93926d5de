"""Fixtures of the browser tests: one Chromium per test module (beside that module's `site`),
and a fresh tab per test whose console must stay free of errors (tests/support/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from tests.support.browser import CHROMIUM, WIDE, Console, browser_or_skip


@pytest.fixture(scope="module")
def browser(site: SimpleNamespace) -> Iterator[Any]:
    sync_playwright = browser_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, site: SimpleNamespace) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.console_log = Console(tab)
    yield tab
    errors = tab.console_log.errors
    context.close()
    assert errors == [], "JavaScript or console errors:\n" + "\n".join(errors)


