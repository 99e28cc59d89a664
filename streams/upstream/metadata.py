"""aiokafka's metadata refresh, paced by retry_backoff_ms after a failure instead of retried
at once (the worker calls `back_off_failed_metadata_updates` before it starts)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.client import AIOKafkaClient


def back_off_failed_metadata_updates() -> None:
    """Make every aiokafka client in this process wait retry_backoff_ms after a failed
    metadata update.

    aiokafka refreshes metadata as soon as any caller asks (its fetcher, sender and group
    coordinator all do, in loops), and against an unreachable broker each attempt fails at
    once: about 5,000 attempts a second, a whole core, while the broker is down. With the
    pause each client tries about ten times a second; a broker that comes back is seen
    within 0.1 s. Idempotent.
    """
    original = AIOKafkaClient._metadata_update
    if getattr(original, "backs_off", False):
        return

    async def _metadata_update(self: AIOKafkaClient, cluster: Any, topics: Any) -> bool:
        updated = bool(await original(self, cluster, topics))
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    _metadata_update.backs_off = True  # type: ignore[attr-defined]
    setattr(AIOKafkaClient, "_metadata_update", _metadata_update)  # noqa: B010
