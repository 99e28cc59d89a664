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
    lead_event_ids,
    produce_all,
    wait_for_scores,
)

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

CHUNKS = 3
# The end of the last chunk is sent as a trickle after that chunk's kill, so the last kill
# lands while the leads' last events are still arriving, whatever the worker's speed (with
# exactly_once it commits every 0.2 s: a stream sent at once is all committed in moments).
TAIL = 0.15
TAIL_PACE = 125.0  # messages a second: about 4 s for the 10,000-message stream
# The moments of the kills; set it to explore others (the failure message names it).
KILL_SEED = int(os.environ.get("LEADSCORE_FAULT_SEED", SEED))


async def test_sigkill_worker_repeatedly(setup: FaultSetup, small_stream: SeededStream) -> None:
    """Four kills, each at a point of progress drawn from the seed, each asserted to land
    while input is pending: three while the worker works through a freshly sent third of
    the stream (the first one early in it, often in table recovery), one near the end, when
    the leads' last events are in flight: that is when lost outputs stay lost.

    Progress is the share of a part's lead events that score messages name as their cause.
    Each part is sent after the previous kill, so its count is not lowered by an earlier
    crash: with at_least_once a crash loses the score messages of events whose state
    survived (only each lead's last one is published again), so a count of all score
    messages may never reach a share of the offline run's."""
    stream = small_stream
    settings = setup.settings()
    proc = await setup.start(settings)
    rng = random.Random(KILL_SEED)
    produced = Produced()
    kills = []
    last = stream.messages[CHUNKS - 1 :: CHUNKS]
    tail = last[int(len(last) * (1 - TAIL)) :]
    try:
        for n in range(CHUNKS):  # each chunk spans all leads and the whole event time
            chunk = stream.messages[n::CHUNKS]
            part = chunk[: len(chunk) - len(tail)] if n == CHUNKS - 1 else chunk
            await produce_all(settings, part, produced)
            share = rng.uniform(0.05, 0.2) if n == 0 else rng.uniform(0.2, 0.8)
            events = lead_event_ids(part)
            seen = await wait_for_scores(settings, int(share * len(events)), among=events)
            proc.kill()
            what = f"SIGKILL at {share:.0%} of chunk {n + 1}/{CHUNKS}'s lead events"
            kills.append(await kill_point(settings, what, seen))
            await asyncio.to_thread(proc.start)
        trickle = asyncio.create_task(produce_all(settings, tail, produced, pace=TAIL_PACE))
        share = rng.uniform(0.5, 0.9)
        events = lead_event_ids(tail)
        seen = await wait_for_scores(settings, int(share * len(events)), among=events)
        proc.kill()
        what = f"SIGKILL at {share:.0%} of the last {TAIL:.0%} of chunk {CHUNKS}'s lead events"
        kills.append(await kill_point(settings, what, seen))
        await asyncio.to_thread(proc.start)
        await trickle
        outcome = await Outcome.collect(settings, stream, timeout=150, workers=[proc])
    finally:
        proc.stop()
    report = outcome.check(stream, produced)
    report.faults = [f"kill moments from LEADSCORE_FAULT_SEED={KILL_SEED}"]
    report.kills = kills
    report.assert_clean()
