"""Live model changes and the decay sweep, against a running worker on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources

import orjson
import pytest

from streams.settings import Settings
from streams.tools.model import publish_text
from tests.kafka_helpers import (
    Consumed,
    Record,
    consume_until,
    produce,
)
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka

DEFAULT_MODEL = resources.files("streams.core").joinpath("default_model.yaml").read_text()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(kafka_bootstrap, tmp_path_factory, "live", sweep_interval_seconds=2) as proc:
        yield proc


@pytest.fixture(scope="module")
def settings(worker: WorkerProcess) -> Settings:
    return worker.settings


def click(lead_id: str, eid: str, when: datetime) -> bytes:
    return orjson.dumps(
        {
            "event_id": eid,
            "lead_id": lead_id,
            "type": "email.clicked",
            "occurred_at": when.isoformat(),
        }
    )


def for_lead(lead_id: str, seen: list[Consumed]) -> list[dict[str, object]]:
    return [r.json() for r in seen if r.key_text == lead_id and r.value is not None]


async def test_decay_sweep_lowers_quiet_leads(settings: Settings, worker: WorkerProcess) -> None:
    x = f"quiet-{uuid.uuid4().hex[:6]}"
    long_ago = datetime.now(UTC) - timedelta(days=60)
    await produce(
        settings.kafka_bootstrap,
        settings.topic("leads.email-clicks"),
        [Record(x, click(x, f"{x}-c", long_ago))],
    )
    seen = await consume_until(
        settings.kafka_bootstrap,
        settings.topic("leads.scores"),
        lambda s: any(d["cause_event_id"] is None for d in for_lead(x, s)),
        timeout=30,
        what="a sweep update",
    )
    first, swept = for_lead(x, seen)[0], for_lead(x, seen)[-1]
    assert first["cause_event_id"] == f"{x}-c"
    assert swept["engagement"] < first["engagement"]  # 60 days = two half-lives


async def test_new_model_rescoring_and_bad_model_refused(
    settings: Settings, worker: WorkerProcess
) -> None:
    x = f"model-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    await produce(
        settings.kafka_bootstrap,
        settings.topic("leads.email-clicks"),
        [Record(x, click(x, f"{x}-c", now))],
    )
    scores = settings.topic("leads.scores")
    await consume_until(
        settings.kafka_bootstrap,
        scores,
        lambda s: bool(for_lead(x, s)),
        timeout=30,
        what="first score",
    )

    await publish_text(settings, b"model_version: broken\nweights: {fit: 2}\n")
    changed = DEFAULT_MODEL.replace("model_version: default-2026.12.1", "model_version: live-2")
    changed = changed.replace(
        "email.clicked:  {points: 10, cap: 40}", "email.clicked:  {points: 20, cap: 40}"
    )
    await publish_text(settings, changed.encode())
    seen = await consume_until(
        settings.kafka_bootstrap,
        scores,
        lambda s: any(d["model_version"] == "live-2" for d in for_lead(x, s)),
        timeout=30,
        what="a score under model live-2",
    )
    before = for_lead(x, seen)[0]
    after = next(d for d in for_lead(x, seen) if d["model_version"] == "live-2")
    assert after["engagement"] == 2 * before["engagement"]
    status, body = worker.get("/metrics")
    assert status == 200 and b"leadscore_model_rejected_total 1.0" in body
    assert b'leadscore_model_info{model_version="live-2"} 1.0' in body
