"""Plain aiokafka helpers for the benchmark: topics under a run prefix, fast preloading,
end and committed offsets, and reading a range of a topic back with its timestamps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka.admin import admin_client
from streams.kafka.clients import client_kwargs
from streams.kafka.ends import after_last_records
from streams.settings import Settings
from streams.tools.simulate import SimEvent

Offsets = dict[TopicPartition, int]


@dataclass(frozen=True, slots=True)
class Rec:
    """A record read back: where it is, its CreateTime (ms) and its bytes."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


async def create_topic(settings: Settings, name: str, partitions: int) -> None:
    async with admin_client(settings) as admin:
        response = await admin.create_topics([NewTopic(name, partitions, 1)])
    _name, code, *_ = response.topic_errors[0]
    if code not in (0, TopicAlreadyExistsError.errno):
        raise RuntimeError(f"creating {name} failed: {response.topic_errors[0]}")


async def delete_prefix(settings: Settings, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix` (the run's own topics only)."""
    if not prefix or not prefix.removeprefix("changelog__").startswith("bench-"):
        raise ValueError(f"refusing to delete topics under {prefix!r}")
    async with admin_client(settings) as admin:
        doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    return doomed


async def produce_events(
    settings: Settings, events: Sequence[SimEvent], *, linger_ms: int = 10
) -> dict[str, int]:
    """Send each simulated event to its (prefixed) contract topic, keyed by lead id, with
    aiokafka's murmur2 partitioner; every message is acknowledged. Counts per topic."""
    producer = AIOKafkaProducer(
        **client_kwargs(settings), linger_ms=linger_ms, max_batch_size=256 * 1024, acks=1
    )
    await producer.start()
    counts: dict[str, int] = {}
    try:
        pending: list[Any] = []
        for event in events:
            topic = settings.topic(event.topic)
            pending.append(await producer.send(topic, event.value, key=event.key))
            counts[topic] = counts.get(topic, 0) + 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return counts


def _reader(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",  # committed outputs only, as consumers of exactly_once
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        max_poll_records=20_000,
    )


async def partitions_of(settings: Settings, topics: Iterable[str]) -> list[TopicPartition]:
    async with admin_client(settings) as admin:
        described = {t["topic"]: t for t in await admin.describe_topics()}
    tps = []
    for topic in topics:
        for p in described[topic]["partitions"]:
            tps.append(TopicPartition(topic, p["partition"]))
    return sorted(tps)


async def end_offsets(settings: Settings, topics: Iterable[str]) -> Offsets:
    tps = await partitions_of(settings, topics)
    consumer = _reader(settings)
    await consumer.start()
    try:
        ends: Offsets = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return dict(ends)


async def data_ends(settings: Settings, topics: Iterable[str]) -> Offsets:
    """Per partition, the offset after its last data record. A topic written in
    transactions ends with a commit marker that no consumer reads or commits past, so a
    group done with it commits this offset, not the end offset."""
    tps = await partitions_of(settings, topics)
    consumer = _reader(settings)
    await consumer.start()
    try:
        return await after_last_records(consumer, await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def committed(settings: Settings, group: str, tps: Iterable[TopicPartition]) -> Offsets:
    """The group's committed offsets (0 for partitions without a commit)."""
    async with admin_client(settings) as admin:
        found = await admin.list_consumer_group_offsets(group)
    got = {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}
    return {tp: got.get(tp, 0) for tp in tps}


async def wait_committed(
    settings: Settings, group: str, ends: Offsets, timeout: float, alive: Any = None
) -> float:
    """Wait until `group` has committed every partition up to `ends`; the time it did."""
    deadline = time.monotonic() + timeout
    while True:
        now = await committed(settings, group, ends)
        if all(now[tp] >= end for tp, end in ends.items()):
            return time.time()
        if alive is not None and not alive():
            raise RuntimeError(f"group {group}: the process exited before committing the end")
        if time.monotonic() > deadline:
            behind = sum(end - now[tp] for tp, end in ends.items())
            raise TimeoutError(f"group {group}: {behind} messages not committed in {timeout} s")
        await asyncio.sleep(0.5)


async def read_range(settings: Settings, start: Offsets, end: Offsets) -> list[Rec]:
    """Every record between `start` and `end` (exclusive) of the given partitions."""
    todo = {tp: e for tp, e in end.items() if e > start.get(tp, 0)}
    out: list[Rec] = []
    if not todo:
        return out
    consumer = _reader(settings)
    await consumer.start()
    try:
        consumer.assign(list(todo))
        for tp in todo:
            consumer.seek(tp, start.get(tp, 0))
        while todo:
            batches = await consumer.getmany(*todo, timeout_ms=500)
            for tp, msgs in batches.items():
                stop = todo.get(tp)
                if stop is None:
                    continue
                for m in msgs:
                    if m.offset < stop:
                        out.append(Rec(m.topic, m.partition, m.offset, m.timestamp, m.key, m.value))
            for tp in list(todo):
                # The position, not the last record: a topic written in transactions ends
                # with a commit marker that is never returned as a record.
                if await consumer.position(tp) >= todo[tp]:
                    del todo[tp]
    finally:
        await consumer.stop()
    return out


def count(offsets: Offsets, since: Offsets | None = None) -> int:
    since = since or {}
    return sum(end - since.get(tp, 0) for tp, end in offsets.items())


async def group_members(settings: Settings, group: str, topic: str) -> list[set[int]]:
    """Partitions of `topic` assigned to each member of `group`, from the broker."""
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

    async with admin_client(settings) as admin:
        responses = await admin.describe_consumer_groups([group])
    owned: list[set[int]] = []
    for response in responses:
        for described in response.groups:
            members = next(x for x in described if isinstance(x, list))
            for member in members:
                raw = next(x for x in reversed(member) if isinstance(x, bytes))
                assignment = ConsumerProtocolMemberAssignment.decode(raw)
                parts: set[int] = set()
                for name, partitions in assignment.assignment:
                    if name == topic:
                        parts.update(partitions)
                owned.append(parts)
    return owned
