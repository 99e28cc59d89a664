"""The console in a real browser (Debian's Chromium, headless, driven by Playwright) against a
live worker on the real broker: log in with an API token, watch the leaderboard fill as
simulated traffic is scored, open a lead and see both charts, then the alerts, accounts
and model pages. Screenshots are kept under var/test-artifacts/browser/."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr

from streams.api_tokens import new_token
from streams.core.model import ScoringModel
from streams.settings import Settings
from streams.tools.calibrate.history import write_csv
from streams.tools.console import run_console
from streams.tools.demo import parse_counts
from streams.tools.simulate.faults import Faults
from streams.tools.simulate.generator import generate
from streams.tools.simulate.output import send_to_kafka
from streams.tools.worker_process import free_port
from tests.browser import BrowserPage, screenshot
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka

VIEWER, VIEWER_ENTRY = new_token("viewer", ["read:leads", "read:accounts"])
METRICS, METRICS_ENTRY = new_token("prometheus", ["read:metrics"])
CONSOLE, CONSOLE_ENTRY = new_token("console", ["read:leads"])
LEADS, EVENTS = 40, 800  # a few seconds of traffic: alerts and accounts appear


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    tokens = [VIEWER_ENTRY, CONSOLE_ENTRY, METRICS_ENTRY]
    with module_worker(kafka_bootstrap, tmp_path_factory, "console", api_tokens=tokens) as proc:
        yield proc


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A calibration report and a model diff, made by the commands people run."""
    out = tmp_path_factory.mktemp("reports")
    paths = {"calibration": out / "report.json", "diff": out / "diff.json"}
    history, model, events = out / "history.csv", out / "model.yaml", out / "events.jsonl"
    with history.open("w", encoding="utf-8", newline="") as csv:
        write_csv(csv, 3000, seed=7)
    events.write_bytes(b"".join(e.value + b"\n" for e in generate(7, LEADS, EVENTS)))
    leadscore("calibrate", history, "--out", model, "--report", paths["calibration"])
    paths["diff"].write_text(leadscore("model", "diff", model, events, "--json"))
    return paths


def leadscore(*args: object) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *map(str, args)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, f"leadscore {args}: {done.stderr}"
    return done.stdout


@pytest.fixture
async def console(
    worker: WorkerProcess, reports: dict[str, Path]
) -> AsyncIterator[tuple[str, Settings]]:
    """The console (in this process) beside the worker; its URL and settings."""
    settings = worker.settings.model_copy(
        update={
            "console_port": free_port(),
            "console_api_token": SecretStr(CONSOLE),
            "console_calibration_report": reports["calibration"],
            "console_model_diff": reports["diff"],
        }
    )
    stop, ready = asyncio.Event(), asyncio.Future[str]()
    task = asyncio.create_task(run_console(settings, stop, ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 30)
        yield url, settings
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def log_in(page: Page, url: str) -> None:
    await page.goto(url)
    form = page.locator("form#login")
    await expect(form).to_be_visible()
    await form.locator("input[name=token]").fill(VIEWER)
    await form.locator("button, input[type=submit]").first.click()
    await expect(page.locator("#leaderboard")).to_be_visible()


async def scores(page: Page) -> list[int]:
    cells = page.locator("#leaderboard tbody tr[data-lead-id]")
    texts = await cells.evaluate_all(
        "rows => rows.map(r => r.querySelector('td:nth-child(3)').textContent)"
    )
    return [int(re.search(r"\d+", t).group()) for t in texts]  # type: ignore[union-attr]


async def all_processed(worker: WorkerProcess, timeout: float = 60) -> None:
    """Wait until the worker has handled every message sent (its /metrics says)."""
    deadline = time.monotonic() + timeout
    processed = 0
    while time.monotonic() < deadline:
        status, body = worker.get("/metrics", METRICS)
        assert status == 200, body[:200]
        processed = parse_counts(body.decode()).processed
        if processed >= EVENTS:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"the worker processed {processed} of {EVENTS} messages in {timeout} s")


async def test_the_leaderboard_fills_live_and_a_lead_shows_why_it_scored(
    console: tuple[str, Settings], worker: WorkerProcess, browser_page: BrowserPage
) -> None:
    url, settings = console
    page = browser_page.page
    await log_in(page, url)  # before any traffic: the board fills while we watch
    assert await page.locator("#leaderboard tbody tr[data-lead-id]").count() == 0

    traffic = generate(7, LEADS, EVENTS, faults=Faults())
    sent = await send_to_kafka(settings, traffic, rate=0.0)
    assert sent.sent == EVENTS
    rows = page.locator("#leaderboard tbody tr[data-lead-id]")
    await expect(rows.first).to_be_visible(timeout=60_000)  # pushed by SSE ticks
    await expect(page.locator("#status")).to_contain_text("live")
    await all_processed(worker)
    await asyncio.sleep(2)  # the last scores reach the console, and a tick the page
    await expect(page.locator("#status")).not_to_contain_text("catching up")
    got = await scores(page)
    assert got == sorted(got, reverse=True), got
    await screenshot(page, "console-leaderboard")

    first = rows.first
    lead_id = await first.get_attribute("data-lead-id")
    assert lead_id
    await first.locator("a.lead-link").click()
    await expect(page.locator("#lead-title")).to_have_text(lead_id)
    # The lead's score now (forwarded views may still have moved it since the board's tick).
    status, body = worker.get(f"/leads/{lead_id}", VIEWER)
    assert status == 200, body
    await expect(page.locator("#lead-score")).to_have_text(str(orjson.loads(body)["score"]))
    bars = page.locator("svg#factors-chart rect.bar")
    points = page.locator("svg#history-chart circle.point")
    await expect(bars.first).to_be_attached()
    await expect(points.first).to_be_attached()
    assert await page.locator("#history-table tbody tr").count() == await points.count()
    assert await page.locator("#worker-error").is_hidden()
    await screenshot(page, "console-lead")

    await page.goto(f"{url}alerts")
    await expect(page.locator("#alerts-feed li").first).to_be_visible()
    assert "@" not in await page.locator("#alerts-feed").inner_text()  # no email shown
    await screenshot(page, "console-alerts")

    await page.goto(f"{url}accounts")
    await expect(page.locator("#accounts tbody tr[data-account-id]").first).to_be_visible()
    await screenshot(page, "console-accounts")

    await page.goto(f"{url}model")
    await expect(page.locator("#model-version")).to_contain_text(ScoringModel.load().model_version)
    assert await page.locator("table#activities tbody tr").count() > 3
    await expect(page.locator("svg#lift-chart rect")).to_have_count(10)  # one bar a tenth
    await expect(page.locator("section#model-diff")).to_contain_text("calibrated")
    await screenshot(page, "console-model")
    assert browser_page.errors == []


async def test_filters_narrow_the_leaderboard(
    console: tuple[str, Settings], browser_page: BrowserPage
) -> None:
    url, _ = console
    page = browser_page.page
    await log_in(page, url)
    rows = page.locator("#leaderboard tbody tr[data-lead-id]")
    await expect(rows.first).to_be_visible(timeout=60_000)  # the first test's traffic
    await page.select_option("#filter-bot", "flagged")
    await expect(
        page.locator("#leaderboard tbody tr[data-lead-id] span.flag").first
    ).to_be_visible()
    flagged = await rows.evaluate_all(
        "rows => rows.map(r => r.querySelectorAll('span.flag').length)"
    )
    assert flagged and all(n > 0 for n in flagged), flagged
    await screenshot(page, "console-filtered")
    assert browser_page.errors == []
