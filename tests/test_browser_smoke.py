"""The browser-test setup works: Debian's Chromium, driven by Playwright, runs a page's
script, takes a screenshot, and reports no console or page errors."""

from __future__ import annotations

from aiohttp import web
from playwright.async_api import expect

from streams.tools.worker_process import free_port
from tests.browser import BrowserPage, screenshot

# The empty data: icon keeps Chromium from requesting /favicon.ico (a 404 is a console error).
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>smoke</title><link rel="icon" href="data:,"></head>
<body><h1>leadscore</h1><p id="out">static</p>
<script>document.getElementById("out").textContent = "rendered by script: " + 6 * 7;</script>
</body></html>"""


async def test_chromium_runs_page_script(browser_page: BrowserPage) -> None:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        page = browser_page.page
        await page.goto(f"http://127.0.0.1:{port}/")
        await expect(page.locator("#out")).to_have_text("rendered by script: 42")
        assert await page.title() == "smoke"

        path = await screenshot(page, "smoke")
        assert path.is_file()
        assert path.stat().st_size > 0
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    finally:
        await runner.cleanup()
    assert browser_page.errors == []
