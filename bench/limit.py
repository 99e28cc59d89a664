"""The raw client limit: aiokafka consuming the input topics and producing every
message's bytes to one output topic, or two (an output and a state write), with no
processing at all.

It is what any Python service on this broker could do at best with the worker's client
settings: one consumer in a group over the input topics (Faust's fetch settings), one
producer with Faust's batching settings (linger, batch size, acks, request size,
compression), a key-partitioned send per message as Faust's `send_soon` makes, and
offsets committed like Faust does: every `broker_commit_every` messages or
`broker_commit_interval` seconds, in the background, after the producer has flushed what
was sent for them (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench.kafkaio import Offsets
from streams.app.worker import TUNING
from streams.kafka.clients import client_kwargs
from streams.settings import Settings


def faust_conf() -> Any:
    """The effective Faust settings of the worker (its TUNING and default linger over
    Faust's defaults)."""
    linger = Settings().producer_linger_ms / 1000.0
    return faust.App("bench-settings-probe", **TUNING, producer_linger=linger).conf


def producer_kwargs(conf: Any) -> dict[str, Any]:
    """aiokafka producer kwargs equal to the ones Faust's aiokafka driver builds."""
    acks = conf.producer_acks
    return {
        "acks": "all" if acks == -1 else acks,
        "linger_ms": int((conf.producer_linger or 0.0) * 1000),
        "max_batch_size": conf.producer_max_batch_size,
        "max_request_size": conf.producer_max_request_size,
        "compression_type": conf.producer_compression_type,
        "request_timeout_ms": int(conf.producer_request_timeout * 1000),
        "partitioner": conf.producer_partitioner or DefaultPartitioner(),
    }


def consumer_kwargs(conf: Any) -> dict[str, Any]:
    """aiokafka consumer kwargs equal to the ones Faust's aiokafka driver builds."""
    kwargs: dict[str, Any] = {
        "max_partition_fetch_bytes": conf.consumer_max_fetch_size,
        "fetch_max_wait_ms": 1500,
        "check_crcs": conf.broker_check_crcs,
        "request_timeout_ms": int(conf.broker_request_timeout * 1000),
        "session_timeout_ms": int(conf.broker_session_timeout * 1000),
        "heartbeat_interval_ms": int(conf.broker_heartbeat_interval * 1000),
    }
    if conf.broker_max_poll_records is not None:
        kwargs["max_poll_records"] = conf.broker_max_poll_records
    return kwargs


def client_settings(conf: Any) -> dict[str, Any]:
    """What the limit and the worker share, for the report."""
    return {
        "producer": {
            k: _named(v) for k, v in producer_kwargs(conf).items() if k != "request_timeout_ms"
        },
        "consumer": {
            "max_partition_fetch_bytes": conf.consumer_max_fetch_size,
            "max_poll_records": conf.broker_max_poll_records,
            "fetch_max_wait_ms": 1500,
        },
        "commit_every": conf.broker_commit_every,
        "commit_interval_s": conf.broker_commit_interval,
        "faust_tuning": {k: _named(v) for k, v in TUNING.items()},
    }


def _named(value: Any) -> Any:
    """A setting as the report's JSON shows it: a callable (the partitioner) by name."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return getattr(value, "__qualname__", type(value).__qualname__)


@dataclass
class LimitRun:
    consumed: int
    elapsed_wall: float  # first message received to last commit, as the loop saw it
    commits: int
    cpu_s: float  # CPU time of this process (the loop and aiokafka) for the whole run


async def run_limit(
    settings: Settings,
    inputs: list[str],
    outputs: Sequence[str],
    group: str,
    total: int,
    timeout: float,
) -> LimitRun:
    """Consume `total` messages of `inputs` in `group`, producing each to every topic of
    `outputs` (two: an output and a state write, as a stateful job sends per event)."""
    conf = faust_conf()
    consumer = AIOKafkaConsumer(
        *inputs,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **consumer_kwargs(conf),
        **client_kwargs(settings),
    )
    producer = AIOKafkaProducer(**producer_kwargs(conf), **client_kwargs(settings))
    await producer.start()
    await consumer.start()
    commit_every: int = conf.broker_commit_every
    commit_interval: float = conf.broker_commit_interval
    processed: Offsets = {}
    wake = asyncio.Event()
    commits = 0
    done = False

    async def committer() -> None:
        # Faust's commit: wait for the producer to flush, then commit what was processed.
        nonlocal commits
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), commit_interval)
            wake.clear()
            snapshot = dict(processed)
            if snapshot:
                await producer.flush()
                await consumer.commit(snapshot)
                commits += 1
            if done:
                return

    cpu_started = time.process_time()
    task = asyncio.create_task(committer())
    consumed = since_commit = 0
    started: float | None = None
    deadline = time.monotonic() + timeout
    send = producer.send
    try:
        while consumed < total:
            if time.monotonic() > deadline:
                raise TimeoutError(f"limit: consumed {consumed} of {total} in {timeout} s")
            batches = await consumer.getmany(timeout_ms=200)
            if started is None and batches:
                started = time.monotonic()
            for tp, messages in batches.items():
                for m in messages:
                    for output in outputs:
                        await send(output, m.value, key=m.key)
                processed[TopicPartition(tp.topic, tp.partition)] = messages[-1].offset + 1
                consumed += len(messages)
                since_commit += len(messages)
            if since_commit >= commit_every:
                since_commit = 0
                wake.set()
        done = True
        wake.set()
        await task
    finally:
        task.cancel()
        await consumer.stop()
        await producer.stop()
    elapsed = time.monotonic() - (started or time.monotonic())
    return LimitRun(consumed, elapsed, commits, time.process_time() - cpu_started)
