"""SIGKILL the worker at random moments while it works through the stream, restart it, and
compare what it published with the offline scorer (guarantees 1, 2 and 4)."""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from tests.faults.harness import (
    SEED,
    FaultSetup,
    Outcome,
    Produced,
    SeededStream,
    kill_point,
    produce_all,
    wait_for_scores,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

CHUNKS = 3
# The moments of the kills; set it to explore others (the failure message names it).
KILL_SEED = int(os.environ.get("LEADSCORE_FAULT_SEED", SEED))


async def test_sigkill_worker_repeatedly(setup: FaultSetup, stream: SeededStream) -> None:
    """Four kills, each at a point of progress drawn from the seed (a share of the score
    messages the stream publishes), each asserted to land while input is pending: three
    while the worker works through a freshly sent third of the stream (the first one early
    in it, often in table recovery), one near the end, when the leads' last events are in
    flight: that is when lost outputs stay lost."""
    settings = setup.settings()
    proc = await setup.start(settings)
    rng = random.Random(KILL_SEED)
    produced = Produced()
    kills = []
    total = stream.score_messages
    try:
        for n in range(CHUNKS):  # each chunk spans all leads and the whole event time
            await produce_all(settings, stream.messages[n::CHUNKS], produced)
            share = rng.uniform(0.05, 0.2) if n == 0 else rng.uniform(0.2, 0.8)
            target = int(total * (n + share) / CHUNKS)
            seen = await wait_for_scores(settings, target)
            proc.kill()
            what = f"SIGKILL at {share:.0%} of chunk {n + 1}/{CHUNKS}'s score messages"
            kills.append(await kill_point(settings, what, seen))
            await asyncio.to_thread(proc.start)
        share = rng.uniform(0.9, 0.97)
        seen = await wait_for_scores(settings, int(share * total))
        proc.kill()
        kills.append(await kill_point(settings, f"SIGKILL at {share:.0%} of the stream", seen))
        await asyncio.to_thread(proc.start)
        outcome = await Outcome.collect(settings, stream, timeout=150, workers=[proc])
    finally:
        proc.stop()
    report = outcome.check(stream, produced)
    report.faults = [f"kill moments from LEADSCORE_FAULT_SEED={KILL_SEED}"]
    report.kills = kills
    report.assert_clean()
