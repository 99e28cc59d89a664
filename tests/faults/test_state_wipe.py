"""A worker restarted without its local state (LEADSCORE_DATA_DIR deleted) rebuilds the table
from the changelog: once mid-stream after a SIGKILL, once at the end after a clean stop."""

from __future__ import annotations

import asyncio
import shutil
import time
from typing import Any

import orjson
import pytest

from tests.faults.harness import (
    SCORE_FIELDS,
    FaultSetup,
    Outcome,
    Produced,
    SeededStream,
    fields,
    kill_point,
    produce_all,
    wait_for_scores,
)
from tests.worker_proc import WorkerProcess

pytestmark = [pytest.mark.faults, pytest.mark.kafka]


def table_view(proc: WorkerProcess, leads: list[str]) -> dict[str, dict[str, Any] | None]:
    """Each lead as GET /leads/{id} shows it (the table), None for 404."""
    out: dict[str, dict[str, Any] | None] = {}
    for lead_id in leads:
        status, body = proc.get(f"/leads/{lead_id}")
        assert status in (200, 404), f"GET /leads/{lead_id}: {status} {body[:200]!r}"
        out[lead_id] = fields(orjson.loads(body)) if status == 200 else None
    return out


async def test_wiped_state_is_rebuilt_from_the_changelog(
    setup: FaultSetup, small_stream: SeededStream
) -> None:
    stream = small_stream
    settings = setup.settings()
    data = settings.data_dir
    proc = await setup.start(settings)
    produced = Produced()
    faults = []
    try:
        await produce_all(settings, stream.messages, produced)
        seen = await wait_for_scores(settings, stream.score_messages // 2)
        proc.kill()
        kill = await kill_point(settings, "SIGKILL at half the scores", seen)
        shutil.rmtree(data)
        began = time.monotonic()
        await asyncio.to_thread(proc.start)
        faults.append(
            f"SIGKILL at half the stream, data dir deleted, ready again after "
            f"{time.monotonic() - began:.1f} s (changelog replayed)"
        )
        outcome = await Outcome.collect(settings, stream, timeout=150, workers=[proc])
        # At the end: stop cleanly, wipe again, and the rebuilt table must serve the same.
        leads = sorted(stream.expected)
        before = await asyncio.to_thread(table_view, proc, leads)
        proc.stop()
        shutil.rmtree(data)
        began = time.monotonic()
        await asyncio.to_thread(proc.start)
        after = await asyncio.to_thread(table_view, proc, leads)
        faults.append(
            f"clean stop at the end, data dir deleted, ready after "
            f"{time.monotonic() - began:.1f} s; GET /leads/{{id}} for {len(leads)} leads"
        )
    finally:
        proc.stop()
    want = {k: v for k, v in stream.expected.items()}
    assert before == want, _table_diff(before, want, "before the second wipe")
    assert after == want, _table_diff(after, want, "after the second wipe")
    report = outcome.check(stream, produced)
    report.faults = faults
    report.kills = [kill]
    report.assert_clean()


def _table_diff(
    got: dict[str, dict[str, Any] | None], want: dict[str, dict[str, Any] | None], when: str
) -> str:
    bad = [k for k in want if got.get(k) != want[k]]
    lines = [f"GET /leads/{{id}} {when}: {len(bad)} of {len(want)} leads differ; first ones:"]
    for k in bad[:10]:
        g, w = got.get(k), want[k]
        if g is None or w is None:
            lines.append(f"  {k}: got {g and 'a score'}, want {w and 'a score'}")
        else:
            lines.append(f"  {k}: { ({f: (g[f], w[f]) for f in SCORE_FIELDS if g[f] != w[f]}) }")
    return "\n".join(lines)
