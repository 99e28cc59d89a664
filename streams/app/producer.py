"""Faust's producer buffer, made to drain completely before an offset commit.

Table writes and `send_soon` outputs wait in Faust's ProducerBuffer until a background task
hands them to aiokafka. Before committing input offsets Faust calls `producer.flush()`,
which flushes this buffer and then aiokafka. The stock `ProducerBuffer.flush` returns as
soon as one hand-over takes longer than 0.1 s (aiokafka's `send` waits whenever a batch is
full), so the commit can overtake changelog and output messages still in the buffer. A
worker killed at that moment loses them while their input offsets are committed: the event
is gone for good. This buffer's flush returns only when every message buffered before the
call has been handed to aiokafka.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from faust.transport.producer import ProducerBuffer
from faust.types.tuples import FutureMessage

# How often a waiting flush looks again (a crashed sender ends the wait); hand-overs wake it.
_RECHECK_SECONDS = 0.5


class DrainingBuffer(ProducerBuffer):  # type: ignore[misc]  # faust is untyped
    """A ProducerBuffer whose `flush` waits until aiokafka holds every message buffered
    before the call. Messages buffered during the flush do not prolong it: under steady
    load the buffer is never empty, and waiting for that would starve offset commits."""

    queued = 0  # messages ever buffered
    handed_over = 0  # of those, accepted by aiokafka: one task sends them in queue order

    def put(self, fut: FutureMessage) -> None:
        super().put(fut)
        self.queued += 1

    async def _send_pending(self, fut: FutureMessage) -> None:
        await super()._send_pending(fut)
        self.handed_over += 1

    async def flush(self) -> None:
        """Wait until every message buffered so far has been handed to aiokafka."""
        target = self.queued
        while self.handed_over < target:
            if self.state != "running":
                raise RuntimeError("Cannot flush: producer not running")
            self.message_sent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=_RECHECK_SECONDS)


def install_draining_buffer(producer: Any) -> Any:
    """Swap a not-yet-started Faust producer's buffer for a DrainingBuffer."""
    if producer.buffer.started:
        raise RuntimeError("the producer buffer already runs; swap it before the app starts")
    if producer.app.conf.producer_threaded:
        raise RuntimeError("the threaded producer bypasses the buffer's hand-over")
    buffer = DrainingBuffer(loop=producer.loop, beacon=producer.beacon)
    buffer.app = producer.app
    producer.buffer = buffer
    return producer
