"""/readyz logic: ready only once joined (an assignment), recovered, and not rebalancing;
the leadscore_ready gauge says the same, kept current by the worker itself."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.app import metrics
from streams.app.worker import is_ready, report_readiness, update_ready
from tests.kafka_helpers import create_contract_topics, kafka_settings
from tests.worker_proc import WorkerProcess, free_port


def fake_app(*, started: bool, recovered: bool, rebalancing: bool) -> Any:
    completed = asyncio.Event()
    if recovered:
        completed.set()
    return SimpleNamespace(
        producer=SimpleNamespace(started=started),
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)),
        rebalancing=rebalancing,
    )


@pytest.mark.parametrize(
    ("started", "recovered", "rebalancing", "ready"),
    [
        (False, False, False, False),  # still starting
        (True, False, True, False),  # joining the group
        (True, False, False, False),  # assigned, recovering tables
        (True, True, True, False),  # a new rebalance started
        (True, True, False, True),  # joined and recovered
    ],
)
def test_ready_only_after_join_and_recovery(
    started: bool, recovered: bool, rebalancing: bool, ready: bool
) -> None:
    app = fake_app(started=started, recovered=recovered, rebalancing=rebalancing)
    assert is_ready(app) is ready


def gauge(value: Any) -> float:
    return float(value._value.get())


def test_update_ready_sets_the_gauge() -> None:
    app = fake_app(started=True, recovered=True, rebalancing=False)
    assert update_ready(app) is True and gauge(metrics.READY) == 1
    app.rebalancing = True
    assert update_ready(app) is False and gauge(metrics.READY) == 0


async def test_the_gauge_follows_readiness_without_a_probe() -> None:
    app = fake_app(started=True, recovered=False, rebalancing=False)
    metrics.READY.set(1)  # stale
    task = asyncio.create_task(report_readiness(app, interval=0.01))
    try:
        await asyncio.sleep(0.05)
        assert gauge(metrics.READY) == 0
        app.tables.recovery.completed.set()
        await asyncio.sleep(0.05)
        assert gauge(metrics.READY) == 1
        app.rebalancing = True
        await asyncio.sleep(0.05)
        assert gauge(metrics.READY) == 0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def scraped(body: bytes, name: str) -> float | None:
    """The value of an unlabelled series in a /metrics body, None when absent."""
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return float(sample.value)
    return None


@pytest.mark.kafka
def test_worker_reports_ready_on_metrics_unprobed(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    # Launched, not start()ed: start() waits on /readyz, which would set the gauge itself.
    settings = kafka_settings(
        kafka_bootstrap,
        unique,
        data_dir=tmp_path / "worker",
        web_port=free_port(),
        sweep_interval_seconds=0,
    )
    asyncio.run(create_contract_topics(kafka_bootstrap, unique))
    worker = WorkerProcess(settings, tmp_path / "worker.log")
    worker.launch()
    try:
        deadline = time.monotonic() + 90
        last: float | None = None
        while time.monotonic() < deadline:
            assert worker.alive(), f"worker exited:\n{worker.tail()}"
            status, body = worker.get("/metrics")
            last = scraped(body, "leadscore_ready") if status == 200 else None
            if last == 1:
                break
            time.sleep(0.3)
        assert last == 1, (
            f"leadscore_ready is {last} on /metrics 90 s after launch (never probed):\n"
            f"{worker.tail()}"
        )
        assert worker.get("/readyz")[0] == 200  # and the probe agrees
    finally:
        worker.stop()
