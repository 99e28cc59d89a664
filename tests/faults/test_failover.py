"""Two workers share the partitions; one is SIGKILLed and the other takes over its partitions
and their table state (from the changelog, or from its standby copy)."""

from __future__ import annotations

import asyncio
import time

import pytest

from streams.settings import Settings
from tests.faults.harness import (
    FAST_FAILOVER_ENV,
    FaultSetup,
    Outcome,
    Produced,
    SeededStream,
    kill_point,
    produce_all,
    wait_for_scores,
)
from tests.kafka_helpers import read_all
from tests.worker_proc import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.kafka]


def takeover_seconds(survivor: WorkerProcess, since: float, timeout: float = 60.0) -> float:
    """Seconds from `since` (the kill) until the survivor is ready again after the
    rebalance that gives it the dead worker's partitions (/readyz: 503, then 200)."""
    rebalanced = False
    while time.monotonic() - since < timeout:
        ready = survivor.get("/readyz")[0] == 200
        if rebalanced and ready:
            return time.monotonic() - since
        rebalanced = rebalanced or not ready
        time.sleep(0.1)
    raise AssertionError(f"no takeover within {timeout:g} s:\n{survivor.tail()}")


async def check_routing(settings: Settings, stream: SeededStream, *workers: WorkerProcess) -> None:
    """GET /leads/{id} answers on every worker for every lead, the other worker's included
    (Faust's table_route proxies to the owner; its /router pages are off)."""
    scores = await read_all(settings.kafka_bootstrap, settings.topic("leads.scores"), settle=0.3)
    scored = sorted({r.key_text for r in scores if r.key_text} - stream.erased)[:40]
    assert len(scored) >= 20, f"only {len(scored)} leads scored so far"
    for worker_ in workers:
        answers = {lead: worker_.get(f"/leads/{lead}") for lead in scored}
        wrong = {k: v for k, v in answers.items() if v[0] != 200 or k.encode() not in v[1]}
        assert not wrong, f"{worker_.url}: {len(wrong)} of {len(scored)} lookups failed: {wrong}"


@pytest.mark.parametrize("standby", [0, 1], ids=["standby0", "standby1"])
async def test_survivor_takes_over_partitions_and_state(
    setup: FaultSetup,
    small_stream: SeededStream,
    standby: int,
) -> None:
    stream = small_stream
    # One prefix, so one app id: both workers are in one consumer group.
    settings = setup.settings("a", standby_replicas=standby)
    a = await setup.start(settings, "a")
    b = await setup.start(setup.settings("b", standby_replicas=standby), "b")
    produced = Produced()
    try:
        half = len(stream.messages) // 2
        await produce_all(settings, stream.messages[:half], produced)
        await wait_for_scores(settings, stream.score_messages // 4)
        await check_routing(settings, stream, a, b)
        # The kill comes while both work through the second half: at 5/8 of the scores.
        await produce_all(settings, stream.messages[half:], produced)
        seen = await wait_for_scores(settings, stream.score_messages * 5 // 8)
        a.kill()
        killed = time.monotonic()
        kill = await kill_point(settings, "SIGKILL of one worker at 5/8 of the scores", seen)
        took = asyncio.create_task(asyncio.to_thread(takeover_seconds, b, killed))
        outcome = await Outcome.collect(settings, stream, timeout=120, workers=[a, b])
        converged = time.monotonic() - killed
        assert b.alive(), f"the survivor died:\n{b.tail()}"
        takeover = await took
    finally:
        a.kill()
        b.stop()
    report = outcome.check(stream, produced)
    session = FAST_FAILOVER_ENV["LEADSCORE_SESSION_TIMEOUT_SECONDS"]
    report.faults = [
        f"2 workers, standby replicas {standby}: SIGKILL of one at 5/8 of the stream; "
        f"the survivor took its partitions over {takeover:.1f} s later (session timeout "
        f"{session} s) and converged {converged:.1f} s after the kill"
    ]
    report.kills = [kill]
    report.assert_clean()
