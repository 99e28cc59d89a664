"""Where simulated traffic goes: Kafka (each message to its contract topic, keyed by lead id)
or a JSONL file, paced to a rate, bounded by a duration, with an optional progress bar."""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from streams.kafka.clients import client_kwargs
from streams.settings import Settings
from streams.tools.simulate.faults import SimEvent

FLUSH_EVERY = 1000  # await delivery reports this often: errors surface, memory stays bounded


@dataclass
class SendStats:
    """What was sent; `rate` is messages per second of sending time."""

    sent: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    lead_ids: set[str] = field(default_factory=set)
    elapsed: float = 0.0

    def add(self, event: SimEvent) -> None:
        self.sent += 1
        self.by_topic[event.topic] += 1
        self.by_fault[event.fault or "clean"] += 1
        if event.lead_id is not None:  # a crawler's view is no lead's
            self.lead_ids.add(event.lead_id)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        faults = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(self.by_fault.items()))
        return (
            f"sent {self.sent} messages ({faults or 'none'}) for {len(self.lead_ids)} leads "
            f"in {self.elapsed:.1f} s: {self.rate:,.0f} msg/s"
        )


class Pacer:
    """Spaces messages `rate` per second (0: no pacing) and says when `duration` is over."""

    def __init__(self, rate: float, duration: float | None) -> None:
        self.rate, self.duration = rate, duration
        self.started = time.monotonic()

    def wait_before(self, n: int) -> float:
        """Seconds to wait before sending message number `n` (0-based)."""
        if self.rate <= 0:
            return 0.0
        return self.started + n / self.rate - time.monotonic()

    def over(self) -> bool:
        return self.duration is not None and time.monotonic() - self.started >= self.duration

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def progress_bar(total: int | None, quiet: bool, desc: str = "simulate") -> tqdm[Any]:
    """A stderr bar with rate and ETA; off with --quiet or when stderr is not a terminal."""
    disable = quiet or not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="msg", file=sys.stderr, disable=disable,
                mininterval=0.5, dynamic_ncols=True, unit_scale=True)  # fmt: skip


async def send_to_kafka(
    settings: Settings,
    events: Iterable[SimEvent],
    *,
    rate: float = 0.0,
    duration: float | None = None,
    on_sent: Callable[[SimEvent], None] | None = None,
    stop: asyncio.Event | None = None,
) -> SendStats:
    """Produce each event to `settings.topic(event.topic)`, keyed by lead id.

    aiokafka's default partitioner is murmur2, the contract's. Stops at the end of `events`,
    after `duration` seconds, or when `stop` is set; every sent message is acknowledged.
    """
    producer = AIOKafkaProducer(**client_kwargs(settings), linger_ms=5, acks=1)
    await producer.start()
    stats, pacer = SendStats(), Pacer(rate, duration)
    pending: list[Awaitable[Any]] = []
    try:
        for event in events:
            if pacer.over() or (stop is not None and stop.is_set()):
                break
            wait = pacer.wait_before(stats.sent)
            if wait > 0:
                await asyncio.sleep(wait)
            topic = settings.topic(event.topic)
            pending.append(await producer.send(topic, event.value, key=event.key))
            stats.add(event)
            if on_sent is not None:
                on_sent(event)
            if len(pending) >= FLUSH_EVERY:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()  # flushes what is still buffered
    stats.elapsed = pacer.elapsed()
    return stats


def write_jsonl(
    out: IO[bytes],
    events: Iterable[SimEvent],
    *,
    rate: float = 0.0,
    duration: float | None = None,
    on_sent: Callable[[SimEvent], None] | None = None,
) -> SendStats:
    """One message value per line: the input format of `leadscore score`."""
    stats, pacer = SendStats(), Pacer(rate, duration)
    for event in events:
        if pacer.over():
            break
        wait = pacer.wait_before(stats.sent)
        if wait > 0:
            time.sleep(wait)
        out.write(event.value + b"\n")
        stats.add(event)
        if on_sent is not None:
            on_sent(event)
    out.flush()
    stats.elapsed = pacer.elapsed()
    return stats
