"""Test doubles for the worker's pipeline without Kafka or Faust.

Shipped with the package (as Bytewax ships its testing helpers) so that the unit tests,
the fault tests and the bench drive the very `Pipeline` the worker runs:

    pipe, sent, store = memory_pipeline(model)
    pipe.handle(FakeMessage("leads.forms", partition, 0, b"L1", raw))
    sent[-1].topic, sent[-1].value   # what the worker would have produced
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

from schemas.topics import Topic
from streams.app.pipeline import Pipeline
from streams.core import ScoringModel
from streams.kafka.partitioning import partition_for
from streams.settings import MAX_FUTURE_SKEW_SECONDS

PARTITIONS = 6


@dataclass
class FakeMessage:
    """An input message as the pipeline reads it (Faust's message has these fields)."""

    topic: str  # the full topic name (with the deployment's prefix)
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float = 0.0


class SentMessage(NamedTuple):
    """One message the pipeline produced."""

    topic: str  # the full topic name (with the deployment's prefix)
    key: bytes
    value: bytes | None
    partition: int | None


class MemoryStore(dict[str, bytes]):
    """The lead table in a dict: lead id -> state bytes."""

    def __init__(self, partitions: int = PARTITIONS) -> None:
        super().__init__()
        self.partitions = partitions

    def partition_slice(
        self, partition: int, after: str | None, limit: int
    ) -> list[tuple[str, bytes]]:
        """Up to `limit` leads of `partition` in key order after `after` (as the table)."""
        mine = sorted(
            (k, v) for k, v in self.items() if partition_for(k, self.partitions) == partition
        )
        return [(k, v) for k, v in mine if after is None or k > after][:limit]


class RecordingSender:
    """A pipeline's `send` that keeps every message, with its full topic name."""

    def __init__(self, topic_prefix: str = "") -> None:
        self.topic_prefix = topic_prefix
        self.sent: list[SentMessage] = []

    def __call__(
        self, topic: Topic, key: bytes, value: bytes | None, partition: int | None = None
    ) -> None:
        self.sent.append(SentMessage(f"{self.topic_prefix}{topic.name}", key, value, partition))


def memory_pipeline(
    model: ScoringModel | None = None,
    *,
    topic_prefix: str = "p.",
    partitions: int = PARTITIONS,
    max_message_bytes: int = 65536,
    max_future_skew_seconds: float = MAX_FUTURE_SKEW_SECONDS,
    exactly_once: bool = False,
    flush: Callable[[], Awaitable[None]] | None = None,
) -> tuple[Pipeline, list[SentMessage], MemoryStore]:
    """A pipeline over a memory store that records what it sends (the default model when
    `model` is None); returns the pipeline, the list of sent messages and the store.
    `flush`, as the worker's at_least_once producer flush, makes it hold the states that
    wait for their outputs until `await pipe.settle()`."""
    store = MemoryStore(partitions)
    sender = RecordingSender(topic_prefix)
    pipe = Pipeline(
        topic_prefix=topic_prefix,
        partitions=partitions,
        max_message_bytes=max_message_bytes,
        max_future_skew_seconds=max_future_skew_seconds,
        model=model if model is not None else ScoringModel.load(),
        send=sender,
        store=store,
        visitor_store=MemoryStore(partitions),
        account_store=MemoryStore(partitions),
        history_store=MemoryStore(partitions),
        exactly_once=exactly_once,
        flush=flush,
    )
    return pipe, sender.sent, store


def forward_internal(pipe: Pipeline, sent: list[SentMessage], start: int = 0) -> int:
    """Deliver the messages `pipe` sent to its own internal topics from `sent[start:]`
    (visitors' views and links forwarded to leads, erasures to visitors), and those they
    send in turn, as the broker would; returns how many were delivered."""
    internal = {full for full, topic in pipe.inputs.items() if topic.direction == "internal"}
    delivered = 0
    offset = 1_000_000
    i = start
    while i < len(sent):
        out = sent[i]
        i += 1
        if out.topic not in internal or out.partition is None:
            continue
        offset += 1
        pipe.handle(FakeMessage(out.topic, out.partition, offset, out.key, out.value))
        delivered += 1
    return delivered
