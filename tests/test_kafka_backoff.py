"""A failed aiokafka metadata update is followed by retry_backoff_ms, not retried at once."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata

from streams.upstream import metadata


async def test_a_failed_metadata_update_waits_the_retry_backoff_and_a_good_one_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outcomes = iter([False, True])

    async def update(self: Any, cluster: Any, topics: Any) -> bool:
        return next(outcomes)

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", update)
    monkeypatch.setattr(metadata.asyncio, "sleep", sleep)
    metadata.back_off_failed_metadata_updates()
    metadata.back_off_failed_metadata_updates()  # idempotent: one wrapper
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=250)
    cluster = ClusterMetadata()
    assert await client._metadata_update(cluster, []) is False
    assert slept == [0.25]
    assert await client._metadata_update(cluster, []) is True
    assert slept == [0.25]


async def test_against_a_closed_port_the_update_fails_after_the_backoff(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real method, unpatched by the test above (monkeypatch undid it): nothing listens.
    monkeypatch.setattr(AIOKafkaClient, "_metadata_update", AIOKafkaClient._metadata_update)
    metadata.back_off_failed_metadata_updates()
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=1)
    try:
        assert await client._metadata_update(ClusterMetadata(), []) is False
    finally:
        await client.close()


async def test_aiokafka_retries_a_failed_metadata_update_at_once() -> None:
    """Upstream behaviour back_off_failed_metadata_updates works around: a failed metadata
    update returns at once, whatever retry_backoff_ms says, and aiokafka's metadata task
    runs the next one as soon as a caller asks (its fetcher, sender and coordinator do, in
    loops). When this fails, aiokafka paces the retries itself and the patch can go."""
    assert not getattr(AIOKafkaClient._metadata_update, "backs_off", False), "unpatched"
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=60_000)
    try:
        update = client._metadata_update(ClusterMetadata(), [])
        assert await asyncio.wait_for(update, timeout=10) is False  # not after a minute
    finally:
        await client.close()
    assert "sleep" not in inspect.getsource(AIOKafkaClient._md_synchronizer)
