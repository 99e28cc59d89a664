"""Restart the broker under a working worker: nothing is lost. at_least_once rides it out;
with exactly_once a commit that meets the broker away stops the worker, and its restart
(by a supervisor, as in production) recovers the committed state."""

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
from tests.worker_proc import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

DOWN_FOR = 5.0  # seconds the broker stays away


async def supervise(proc: WorkerProcess, restarts: list[float]) -> None:
    """Start the worker again whenever it has exited, as Kubernetes or compose would."""
    while True:
        await asyncio.sleep(0.5)
        if not proc.alive():
            began = time.monotonic()
            try:
                await asyncio.to_thread(proc.start)
            except Exception:  # the broker is still away: the worker refuses to start
                continue
            restarts.append(time.monotonic() - began)


async def test_broker_restart_mid_stream(setup: FaultSetup, small_stream: SeededStream) -> None:
    """at_least_once rides the outage out; with exactly_once a transaction commit that
    meets the broker away stops the worker (its tables hold uncommitted events), and a
    restart by its supervisor recovers the committed state."""
    fault_broker = setup.broker
    stream = small_stream
    settings = setup.settings()
    exactly_once = settings.processing_guarantee == "exactly_once"
    proc = await setup.start(settings)
    half = len(stream.messages) // 2
    produced = Produced()
    restarts: list[float] = []
    supervisor = asyncio.create_task(supervise(proc, restarts)) if exactly_once else None
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
        if supervisor is not None:
            supervisor.cancel()
        proc.stop()
    report = outcome.check(stream, produced)
    own = "without a restart of its own"
    if exactly_once:
        own = f"restarted by its supervisor {len(restarts)} time(s)"
    report.faults = [
        f"broker SIGTERM + restart on the same data dir: unavailable {down:.1f} s "
        f"(down {DOWN_FOR:g} s + start), worker caught up {time.monotonic() - began:.1f} s "
        f"after the second half was sent, {own}"
    ]
    report.kills = [kill]
    report.assert_clean()
