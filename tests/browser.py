"""Browser tests: Playwright's async API driving Debian's Chromium (`make chromium`), headless.
Playwright's own browser download (`playwright install`) is never used: the browser is
always `CHROMIUM`.

`browser_page` is function-scoped and async because the tests run under pytest-asyncio
(asyncio_mode=auto): Playwright's sync API refuses to run inside a running event loop, and a
session-scoped async browser would be bound to a session loop that the tests' per-function
loops cannot use. A launch costs well under a second."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Error, Page, ViewportSize, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Kept by CI: screenshots of the browser tests, var/ is ignored by git.
ARTIFACTS = Path(__file__).resolve().parent.parent / "var" / "test-artifacts" / "browser"
# No sandbox: CI and containers run as root, where Chromium's sandbox cannot start.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
TIMEOUT_MS = 15_000  # each Playwright action and wait: fail fast rather than at pytest's timeout


@dataclass
class BrowserPage:
    """An open page, and the console errors and uncaught page errors seen on it so far."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"console.error: {message.text}" + (f" ({where})" if where else ""))

    def _on_page_error(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error}")


@pytest.fixture
async def browser_page() -> AsyncIterator[BrowserPage]:
    """A fresh headless Chromium page (viewport 1400x900) that collects its console and page
    errors; browser closed afterwards. Fails, never skips, when the browser is missing."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make chromium`", pytrace=False)
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
            )
        except Error as exc:
            pytest.fail(
                f"could not launch Chromium at {CHROMIUM} (`make chromium` installs it): {exc}",
                pytrace=False,
            )
        try:
            context = await browser.new_context(viewport=VIEWPORT)
            context.set_default_timeout(TIMEOUT_MS)
            page = await context.new_page()
            result = BrowserPage(page)
            page.on("console", result._on_console)
            page.on("pageerror", result._on_page_error)
            yield result
        finally:
            await browser.close()


async def screenshot(page: Page | BrowserPage, name: str) -> Path:
    """Save a full-page PNG as var/test-artifacts/browser/NAME.png; its path."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ValueError(f"screenshot name {name!r}: letters, digits, '.', '_', '-' only")
    if isinstance(page, BrowserPage):
        page = page.page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=path, full_page=True)
    return path
