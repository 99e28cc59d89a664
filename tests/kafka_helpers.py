"""Helpers for tests against a real broker: topics per prefix, an independent producer, and a
consumer that reads a topic from the beginning until a condition holds.

All clients are plain aiokafka built from `client_kwargs`, so they never share code paths
(or bugs) with the Faust app under test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka.admin import CreateTopicsReport, admin_client, create_topics, probe_broker
from streams.kafka.clients import client_kwargs
from streams.kafka.partitioning import partition_for
from streams.settings import Settings

Key = str | bytes | None


def kafka_settings(bootstrap: str, prefix: str = "", **overrides: Any) -> Settings:
    """Settings for a test: the broker, a topic prefix, an app id under the same prefix (so
    Faust's changelog topics share it) and any other field."""
    values: dict[str, Any] = {"kafka_bootstrap": bootstrap, "topic_prefix": prefix}
    values["app_id"] = f"{prefix}leadscore"
    values.update(overrides)
    return Settings(**values)


def neighbour(key: str, partitions: int, tag: str = "sentinel") -> str:
    """Another key that murmur2 puts on `key`'s partition: a sentinel. Sent after the
    messages under test, once its output is seen everything before it on that partition
    has been handled (what a negative check waits for, instead of a fixed sleep)."""
    want = partition_for(key, partitions)
    keys = (f"{tag}-{key}-{n}" for n in itertools.count())
    return next(k for k in keys if partition_for(k, partitions) == want)


async def broker_answers(bootstrap: str, timeout: float = 5.0) -> bool:
    """True when a broker at `bootstrap` answers a metadata request."""
    return await probe_broker(kafka_settings(bootstrap), timeout=timeout) is not None


async def create_contract_topics(
    bootstrap: str, prefix: str, partitions: int | None = None
) -> CreateTopicsReport:
    """Every contract topic under `prefix` (what `leadscore topics create` makes)."""
    return await create_topics(kafka_settings(bootstrap, prefix), partitions)


async def create_topic(
    bootstrap: str, name: str, partitions: int = 1, configs: dict[str, str] | None = None
) -> bool:
    """One ad-hoc topic; False when it already existed."""
    async with admin_client(kafka_settings(bootstrap)) as admin:
        response = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs)])
    _name, code, *_ = response.topic_errors[0]
    if code not in (0, TopicAlreadyExistsError.errno):
        raise AssertionError(f"creating {name} failed: {response.topic_errors[0]}")
    return bool(code == 0)


async def delete_topics_with_prefixes(bootstrap: str, prefixes: Iterable[str]) -> list[str]:
    """Delete every topic whose name starts with one of `prefixes`; the names deleted."""
    starts = tuple(prefixes)
    if not starts:
        return []
    async with admin_client(kafka_settings(bootstrap)) as admin:
        doomed = [t for t in await admin.list_topics() if t.startswith(starts)]
        if doomed:
            await admin.delete_topics(doomed)
    return doomed


@dataclass(frozen=True)
class Record:
    """A record to produce. `value`: bytes as they are, None for a tombstone, anything else
    as JSON. `partition` None lets the producer's murmur2 partitioner place it by key."""

    key: Key
    value: Any
    partition: int | None = None


def _bytes(value: Any) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


async def produce(
    bootstrap: str, topic: str, records: Iterable[Record | tuple[Key, Any]]
) -> list[tuple[int, int]]:
    """Send records with a fresh producer (acks=all); (partition, offset) of each, in order."""
    producer = AIOKafkaProducer(**client_kwargs(kafka_settings(bootstrap)), acks="all")
    await producer.start()
    try:
        placed = []
        for item in records:
            rec = item if isinstance(item, Record) else Record(*item)
            fut = await producer.send(
                topic, _bytes(rec.value), key=_bytes(rec.key), partition=rec.partition
            )
            placed.append(fut)
        metadata = await asyncio.gather(*placed)
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in metadata]


async def produce_one(
    bootstrap: str, topic: str, key: Key, value: Any, partition: int | None = None
) -> tuple[int, int]:
    """One record (see `Record`); its (partition, offset)."""
    return (await produce(bootstrap, topic, [Record(key, value, partition)]))[0]


@dataclass(frozen=True)
class Consumed:
    """A record read back. `key_text` / `json()` decode; `value` None is a tombstone."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int

    @property
    def key_text(self) -> str | None:
        return None if self.key is None else self.key.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return None if self.value is None else json.loads(self.value)

    def brief(self, width: int = 160) -> str:
        value = "<tombstone>" if self.value is None else self.value.decode(errors="replace")
        text = f"p{self.partition}@{self.offset} key={self.key_text!r} {value}"
        return text if len(text) <= width else text[: width - 3] + "..."


Predicate = Callable[[Sequence[Consumed]], bool]


async def consume_until(
    bootstrap: str,
    topic: str,
    predicate: Predicate,
    *,
    timeout: float = 30.0,
    what: str = "",
) -> list[Consumed]:
    """Read `topic` from the beginning (all partitions, no group) until `predicate(records so
    far)` holds; return the records. Fails with an AssertionError listing what was seen when
    `timeout` seconds pass first. `what` describes the condition in that message.

    Create the topic first: subscribing to a missing one makes a broker with
    auto.create.topics.enable (the local one) create it with a single partition."""
    seen: list[Consumed] = []
    consumer = _consumer(bootstrap, topic)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while not predicate(seen):
            if time.monotonic() > deadline:
                raise AssertionError(_not_met(topic, what or "condition", timeout, seen))
            batches = await consumer.getmany(timeout_ms=200)
            seen.extend(_consumed(m) for batch in batches.values() for m in batch)
    finally:
        await consumer.stop()
    return seen


async def read_all(
    bootstrap: str, topic: str, *, settle: float = 1.0, timeout: float = 30.0
) -> list[Consumed]:
    """Everything in `topic` now: reads up to the end of every partition as the broker
    reports it at the start (a slow first fetch does not pass for an empty topic), then
    until nothing new arrives for `settle` seconds."""
    seen: list[Consumed] = []
    consumer = _consumer(bootstrap, topic)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while not consumer.assignment():  # no group: assigned once metadata arrives
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: no partitions within {timeout:g} s")
            await asyncio.sleep(0.05)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            if time.monotonic() > deadline:
                raise AssertionError(_not_met(topic, "the end offsets", timeout, seen))
            batches = await consumer.getmany(timeout_ms=100)
            seen.extend(_consumed(m) for batch in batches.values() for m in batch)
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            batches = await consumer.getmany(timeout_ms=100)
            fresh = [_consumed(m) for batch in batches.values() for m in batch]
            if fresh:
                seen.extend(fresh)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return seen


def _consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    # No group: aiokafka assigns every partition; a short metadata age picks up a topic
    # (or partitions) created after the consumer started. read_committed, as a consumer of
    # an exactly_once worker must read (the same as read_uncommitted without transactions).
    return AIOKafkaConsumer(
        topic,
        **client_kwargs(kafka_settings(bootstrap)),
        isolation_level="read_committed",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=1000,
    )


def _consumed(message: Any) -> Consumed:
    return Consumed(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        message.timestamp,
    )


def _not_met(topic: str, what: str, timeout: float, seen: Sequence[Consumed]) -> str:
    lines = [f"{what} not met on {topic} within {timeout:g} s; saw {len(seen)} record(s)"]
    shown = seen[-30:]
    if len(seen) > len(shown):
        lines.append(f"(last {len(shown)})")
    lines += [f"  {record.brief()}" for record in shown]
    return "\n".join(lines)


def short_name(text: str, limit: int = 24) -> str:
    """A topic-safe fragment of a test name."""
    safe = "".join(c if c.isalnum() else "-" for c in text.removeprefix("test_"))
    return "-".join(part for part in safe.split("-") if part)[:limit].strip("-") or "t"
