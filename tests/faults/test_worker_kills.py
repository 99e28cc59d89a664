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
    produce_all,
    wait_for_scores,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

CHUNKS = 3
# The moments of the kills; set it to explore others (the failure message names it).
KILL_SEED = int(os.environ.get("LEADSCORE_FAULT_SEED", SEED))


async def test_sigkill_worker_repeatedly(setup: FaultSetup, stream: SeededStream) -> None:
    """Three kills while it works through a freshly sent third of the stream (the first
    one soon after start, often in table recovery), one near the end of the stream, when
    the leads' last events are in flight: that is when lost outputs stay lost."""
    settings = setup.settings()
    proc = await setup.start(settings)
    rng = random.Random(KILL_SEED)
    produced = Produced()
    faults = []

    async def kill_and_restart(what: str) -> None:
        proc.kill()
        faults.append(f"SIGKILL {len(faults) + 1} {what}")
        await asyncio.to_thread(proc.start)

    try:
        for n in range(CHUNKS):  # each chunk spans all leads and the whole event time
            await produce_all(settings, stream.messages[n::CHUNKS], produced)
            delay = rng.uniform(0.2, 1.0) if n == 0 else rng.uniform(0.5, 4.0)
            await asyncio.sleep(delay)
            await kill_and_restart(f"{delay:.1f} s after sending chunk {n + 1}/{CHUNKS}")
        share = rng.uniform(0.95, 0.99)
        await wait_for_scores(settings, int(share * stream.outcomes["applied"]))
        await kill_and_restart(f"at {share:.0%} of the score messages")
        outcome = await Outcome.collect(settings, stream, timeout=150, workers=[proc])
    finally:
        proc.stop()
    report = outcome.check(stream, produced)
    report.faults = [f"kill moments from LEADSCORE_FAULT_SEED={KILL_SEED}", *faults]
    report.assert_clean()
