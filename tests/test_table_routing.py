"""Two workers of one group on one machine, each advertising its own address: GET /leads/{id}
answers the same from either, the worker that does not own a lead forwarding to the owner
(Faust table routing to the owner's LEADSCORE_ADVERTISED_URL)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from tests.kafka_helpers import Record, create_contract_topics, kafka_settings, produce
from tests.worker_proc import WorkerProcess, free_port

pytestmark = pytest.mark.kafka

LEADS = 48  # over the 6 partitions (checked below), so each worker owns some
TIMEOUT = 90.0


def worker_settings(bootstrap: str, prefix: str, data_dir: Path) -> Settings:
    """One worker's settings: the shared topics and app id (same prefix), its own data dir,
    port and advertised URL."""
    port = free_port()
    return kafka_settings(
        bootstrap,
        prefix,
        data_dir=data_dir,
        web_port=port,
        advertised_url=f"http://127.0.0.1:{port}",
        sweep_interval_seconds=0,
        # A joining worker makes the other rejoin at its next heartbeat: keep that quick.
        heartbeat_interval_seconds=1,
        session_timeout_seconds=10,
    )


def applied(worker: WorkerProcess) -> float:
    """leadscore_events_total{outcome="applied"} summed over topics on the worker."""
    status, body = worker.get("/metrics")
    assert status == 200, f"{worker.url}/metrics answered {status}"
    return sum(
        sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == "leadscore_events_total" and sample.labels["outcome"] == "applied"
    )


def answer(worker: WorkerProcess, lead: str) -> tuple[int, Any]:
    """(status, score message without `updated_at`, which is the time of the request, and
    the scores of its history)."""
    status, body = worker.get(f"/leads/{lead}")
    if status != 200:
        return status, body.decode(errors="replace")[:200]
    doc = orjson.loads(body)
    doc.pop("updated_at", None)
    status, body = worker.get(f"/leads/{lead}/history")  # routed to the owner too
    if status != 200:
        return status, body.decode(errors="replace")[:200]
    doc["history"] = [c["score"] for c in orjson.loads(body)["changes"]]
    return status, doc


def disagreements(workers: list[WorkerProcess], leads: list[str]) -> list[str]:
    """What keeps the cluster from answering every lead the same from every worker."""
    problems = [
        f"{w.url}/readyz answered {status}"
        for w in workers
        if (status := w.get("/readyz")[0]) != 200
    ]
    if problems:
        return problems
    for lead in leads:
        answers = [answer(w, lead) for w in workers]
        if any(status != 200 for status, _ in answers) or answers[0] != answers[1]:
            problems.append(
                f"{lead} (partition {partition_for(lead, workers[0].settings.partitions)}): "
                + "; ".join(
                    f"{w.url} -> {a[0]} {a[1]}" for w, a in zip(workers, answers, strict=True)
                )
            )
    return problems


def test_every_lead_answers_the_same_from_either_worker(
    kafka_bootstrap: str, unique: str, tmp_path: Path
) -> None:
    asyncio.run(create_contract_topics(kafka_bootstrap, unique))
    workers = [
        WorkerProcess(
            worker_settings(kafka_bootstrap, unique, tmp_path / name), tmp_path / f"{name}.log"
        )
        for name in ("a", "b")
    ]
    settings = workers[0].settings
    assert settings.app_id == workers[1].settings.app_id
    leads = [f"route-{i}" for i in range(LEADS)]
    spread = {partition_for(lead, settings.partitions) for lead in leads}
    assert spread == set(range(settings.partitions)), f"leads cover only partitions {spread}"
    try:
        for w in workers:
            w.launch()
        for w in workers:
            w.wait_ready(TIMEOUT)  # both in the group: the partitions are split between them
        events = [
            Record(lead, {"event_id": f"r{i}", "lead_id": lead, "type": "email.clicked",
                          "occurred_at": "2026-11-20T10:00:00Z"})
            for i, lead in enumerate(leads)
        ]  # fmt: skip
        asyncio.run(produce(kafka_bootstrap, settings.topic("leads.email-clicks"), events))

        # Until both are ready and agree on every lead (a rebalance may still be settling).
        deadline = time.monotonic() + TIMEOUT
        problems = disagreements(workers, leads)
        while problems and time.monotonic() < deadline:
            time.sleep(0.5)
            problems = disagreements(workers, leads)
        logs = "\n".join(f"--- {w.url} log:\n{w.tail(20)}" for w in workers)
        assert not problems, (
            f"{len(problems)} problem(s) {TIMEOUT:g} s after the events were sent:\n"
            + "\n".join(problems[:12])
            + f"\n{logs}"
        )
        body = answer(workers[0], leads[0])[1]
        assert body["lead_id"] == leads[0] and body["events_counted"] == 1, body
        # Each worker applied the events of its own partitions, so each forwarded the others'.
        counts = [applied(w) for w in workers]
        assert all(c > 0 for c in counts) and sum(counts) == LEADS, (
            f"events applied per worker: {counts} (want both > 0, {LEADS} in all)\n{logs}"
        )
        for w in workers:
            assert w.get("/leads/route-unknown")[0] == 404
    finally:
        for w in workers:
            w.stop()
