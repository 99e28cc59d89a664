"""Restart the broker under a working worker: it must reconnect by itself and lose nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.broker import FaultBroker
from tests.faults.harness import (
    Outcome,
    Produced,
    SeededStream,
    fault_settings,
    produce_all,
    wait_for_scores,
    worker,
)
from tests.kafka_helpers import create_contract_topics
from tests.worker_proc import free_port

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

DOWN_FOR = 5.0  # seconds the broker stays away


async def test_broker_restart_mid_stream(
    fault_broker: FaultBroker, stream: SeededStream, prefix: str, tmp_path: Path
) -> None:
    settings = fault_settings(
        fault_broker.bootstrap, prefix, data_dir=tmp_path / "data", web_port=free_port()
    )
    await create_contract_topics(fault_broker.bootstrap, prefix)
    proc = await asyncio.to_thread(worker(settings, tmp_path / "worker.log").start)
    half = len(stream.messages) // 2
    produced = Produced()
    try:
        await produce_all(settings, stream.messages[:half], produced)
        # SIGTERM while the worker is busy with the first half, then the same data dir again.
        await wait_for_scores(settings, half // 4)
        down = await asyncio.to_thread(fault_broker.restart, DOWN_FOR)
        await produce_all(settings, stream.messages[half:], produced)
        began = time.monotonic()
        outcome = await Outcome.collect(settings, stream, timeout=150, workers=[proc])
        assert proc.alive(), f"the worker died with the broker:\n{proc.tail()}"
        assert proc.get("/readyz")[0] == 200, "converged, but /readyz does not say ready"
    finally:
        proc.stop()
    report = outcome.check(stream, produced)
    report.faults = [
        f"broker SIGTERM + restart on the same data dir: unavailable {down:.1f} s "
        f"(down {DOWN_FOR:g} s + start), worker caught up {time.monotonic() - began:.1f} s "
        "after the second half was sent, without a restart of its own"
    ]
    report.assert_clean()
