"""Event-to-visible-score latency at a fixed offered load.

A paced producer sends new events (new leads, so each applied event publishes a score) at
`rate` events/s to a worker that has caught up, while a read_committed consumer tails the
scores topic. Latency = when that consumer read the score message whose `cause_event_id`
is the event - CreateTime of the input message (for a page view held until its visitor is
linked, of the link's: `released_at`). Both clocks are this machine's, in
milliseconds; with exactly_once it includes the wait for the worker's transaction commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.kafkaio import Offsets, end_offsets, wait_committed
from schemas.topics import INPUTS, SCORES
from streams.kafka.clients import client_kwargs
from streams.settings import Settings
from streams.tools.simulate import SimEvent

TICK = 0.005  # the pacer sends what is due every 5 ms


@dataclass
class LatencyRun:
    rate: float  # offered, events/s
    achieved_rate: float
    sent: int
    matched: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of sorted or unsorted values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return float(ordered[rank - 1])


async def paced_send(
    settings: Settings, events: Sequence[SimEvent], rate: float
) -> tuple[dict[str, int], float]:
    """Send `events` at `rate`/s with no producer linger; event_id -> the CreateTime (ms)
    its score can be measured from (`released_at`)."""
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=0, acks=1)
    await producer.start()
    stamps: dict[str, int] = {}
    held: dict[str, str] = {}  # an anonymous page view's event id -> its visitor
    linked: dict[str, int] = {}  # a visitor -> CreateTime of its first link
    pending: list[Any] = []
    started = time.monotonic()
    try:
        sent = 0
        while sent < len(events):
            due = min(len(events), int((time.monotonic() - started) * rate) + 1)
            while sent < due:
                event = events[sent]
                ts = int(time.time() * 1000)
                topic = settings.topic(event.topic)
                fut = await producer.send(topic, event.value, key=event.key, timestamp_ms=ts)
                pending.append(fut)
                # A malformed message is dead-lettered: no score to match.
                with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                    note_sent(orjson.loads(event.value), ts, stamps, held, linked)
                sent += 1
            await asyncio.sleep(TICK)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return released_at(stamps, held, linked), time.monotonic() - started


def note_sent(
    payload: dict[str, Any],
    ts: int,
    stamps: dict[str, int],
    held: dict[str, str],
    linked: dict[str, int],
) -> None:
    event_id = payload["event_id"]
    stamps[event_id] = ts
    visitor = payload.get("anonymous_id")
    if visitor is None:
        return
    if payload.get("type") == "identity.linked":
        linked.setdefault(visitor, ts)
    elif payload.get("lead_id") is None:
        held[event_id] = visitor


def released_at(
    stamps: dict[str, int], held: dict[str, str], linked: dict[str, int]
) -> dict[str, int]:
    """When each event's score could first be published: its own CreateTime, or for a view
    of a visitor not linked yet, its visitor's link's. Such a view is held until the link
    (docs/visitors.md) and scores then: timed from its own send, the bench measured the
    simulator's wait between a view and its link (seconds), not the worker."""
    return {
        event_id: max(ts, linked.get(held[event_id], ts)) if event_id in held else ts
        for event_id, ts in stamps.items()
    }


async def measure(
    settings: Settings,
    group: str,
    events: Sequence[SimEvent],
    rate: float,
    timeout: float = 300.0,
) -> LatencyRun:
    """Offer `events` at `rate` to the running worker of `group`; percentiles of the time
    from an event's CreateTime to its score being visible to a read_committed consumer
    (with exactly_once, that is when the worker's transaction commits)."""
    inputs = [settings.topic(t) for t in INPUTS]
    scores_topic = settings.topic(SCORES)
    before = await end_offsets(settings, [scores_topic])
    stamps: dict[str, int] = {}
    seen: dict[str, int] = {}  # cause event id -> wall-clock ms its score was read
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(settings, before, seen, stop))
    try:
        stamps, elapsed = await paced_send(settings, events, rate)
        ends: Offsets = await end_offsets(settings, inputs)
        await wait_committed(settings, group, ends, timeout)
        deadline = time.monotonic() + 10.0  # the last transaction commits, the reader reads
        while time.monotonic() < deadline and not stamps.keys() <= seen.keys():
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await watcher
    latencies = [float(seen[k] - ts) for k, ts in stamps.items() if k in seen]
    return LatencyRun(
        rate=rate,
        achieved_rate=len(events) / elapsed if elapsed > 0 else 0.0,
        sent=len(events),
        matched=len(latencies),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies, default=float("nan")),
        mean_ms=statistics.fmean(latencies) if latencies else float("nan"),
    )


async def _watch(
    settings: Settings, start: Offsets, seen: dict[str, int], stop: asyncio.Event
) -> None:
    """Tail the scores topic as a read_committed consumer; note when each cause is seen."""
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=50)
            now_ms = int(time.time() * 1000)
            for records in batches.values():
                for rec in records:
                    if rec.value is None:
                        continue
                    cause = orjson.loads(rec.value).get("cause_event_id")
                    if cause is not None and cause not in seen:
                        seen[cause] = now_ms
    finally:
        await consumer.stop()
