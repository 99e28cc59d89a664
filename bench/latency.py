"""Event-to-score latency at a fixed offered load, from Kafka record timestamps.

A paced producer sends new events (new leads, so each applied event publishes a score) at
`rate` events/s to a worker that has caught up. Latency = CreateTime of the score message
whose `cause_event_id` is the event - CreateTime of the input message. Both timestamps are
set by clients on this machine (one clock), in milliseconds.
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
from aiokafka import AIOKafkaProducer

from bench.kafkaio import Offsets, end_offsets, read_range, wait_committed
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
    """Send `events` at `rate`/s with no producer linger; event_id -> CreateTime (ms)."""
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=0, acks=1)
    await producer.start()
    stamps: dict[str, int] = {}
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
                    stamps[orjson.loads(event.value)["event_id"]] = ts
                sent += 1
            await asyncio.sleep(TICK)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return stamps, time.monotonic() - started


async def measure(
    settings: Settings,
    group: str,
    events: Sequence[SimEvent],
    rate: float,
    timeout: float = 300.0,
) -> LatencyRun:
    """Offer `events` at `rate` to the running worker of `group`; latency percentiles."""
    inputs = [settings.topic(t) for t in INPUTS]
    scores_topic = settings.topic(SCORES)
    before = await end_offsets(settings, [scores_topic])
    stamps, elapsed = await paced_send(settings, events, rate)
    ends: Offsets = await end_offsets(settings, inputs)
    await wait_committed(settings, group, ends, timeout)
    after = await end_offsets(settings, [scores_topic])
    latencies: list[float] = []
    for rec in await read_range(settings, before, after):
        if rec.value is None:
            continue
        cause = orjson.loads(rec.value).get("cause_event_id")
        if cause in stamps:
            latencies.append(float(rec.timestamp - stamps.pop(cause)))
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
