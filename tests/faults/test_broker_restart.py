"""Restart the broker under a working worker: it must reconnect by itself and lose nothing."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.harness import (
    FaultSetup,
    Outcome,
    Produced,
    SeededStream,
    kill_point,
    produce_all,
    wait_for_scores,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

DOWN_FOR = 5.0  # seconds the broker stays away


async def test_broker_restart_mid_stream(setup: FaultSetup, stream: SeededStream) -> None:
    fault_broker = setup.broker
    settings = setup.settings()
    proc = await setup.start(settings)
    half = len(stream.messages) // 2
    produced = Produced()
    try:
        await produce_all(settings, stream.messages[:half], produced)
        # SIGTERM while the worker is busy with the first half, then the same data dir again.
        seen = await wait_for_scores(settings, stream.score_messages // 8)
        kill = await kill_point(settings, "broker restart at 1/8 of the scores", seen)
        down = await asyncio.to_thread(fault_broker.restart, DOWN_FOR)
        await produce_all(settings, stream.messages[half:], produced)
        began = time.monotonic()
        # After the restart the worker runs at a fraction of its pace (an open question,
        # README: fault report); the bound is for a worker that stopped, not a slow one.
        outcome = await Outcome.collect(settings, stream, timeout=300, workers=[proc])
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
    report.kills = [kill]
    report.assert_clean()
