"""The worker's producer buffer drains completely before Faust commits offsets.

A slow hand-over (aiokafka's `send` waits while a batch is full) made Faust's stock buffer
return from `flush` early; the commit then overtook buffered table writes, and a worker
killed right after lost events whose offsets were committed (seen in the failover suite).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from streams.app.producer import DrainingBuffer, install_draining_buffer
from streams.app.worker import new_app
from streams.settings import Settings

HAND_OVER_SECONDS = 0.25  # longer than the stock buffer's 0.1 s patience


class SlowChannel:
    """Stands in for a Faust channel whose producer accepts one message per hand-over."""

    def __init__(self) -> None:
        self.accepted: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(HAND_OVER_SECONDS)
        self.accepted.append(fut.message.value)


async def flushed_after(buffer: ProducerBuffer, count: int) -> list[int]:
    """Buffer `count` messages, flush, and return what the producer had accepted by then."""
    channel = SlowChannel()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for i in range(count):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel, value=i)))
        await asyncio.wait_for(buffer.flush(), timeout=30)
        accepted = list(channel.accepted)
        # Let the rest go out so the buffer stops cleanly (stock flush refuses otherwise).
        for _ in range(100):
            if len(channel.accepted) == count:
                break
            await asyncio.sleep(HAND_OVER_SECONDS)
        return accepted
    finally:
        await buffer.stop()


async def test_flush_returns_only_after_every_message_was_handed_over() -> None:
    accepted = await flushed_after(DrainingBuffer(), 4)
    assert accepted == [0, 1, 2, 3]


async def test_stock_buffer_flush_gives_up_early() -> None:
    # Why DrainingBuffer exists. When Faust fixes this, the workaround can go.
    accepted = await flushed_after(ProducerBuffer(), 4)
    assert len(accepted) < 4


async def test_flush_of_an_empty_buffer_returns_at_once() -> None:
    assert await flushed_after(DrainingBuffer(), 0) == []


async def test_flush_does_not_wait_for_messages_buffered_after_it_began() -> None:
    # Under steady load the buffer is never empty; commits must still happen.
    class GatedChannel:
        """Accepts message 0 at once, the others only when the gate opens."""

        def __init__(self) -> None:
            self.accepted: list[int] = []
            self.gate = asyncio.Event()

        async def publish_message(self, fut: Any, wait: bool = False) -> None:
            if fut.message.value:
                await self.gate.wait()
            self.accepted.append(fut.message.value)

    channel = GatedChannel()
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))

    def put(i: int) -> None:
        buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel, value=i)))

    await buffer.start()
    try:
        put(0)
        flush = asyncio.create_task(buffer.flush())
        await asyncio.sleep(0)  # the flush begins: it waits for message 0 only
        for i in range(1, 40):
            put(i)
        await asyncio.wait_for(flush, timeout=30)
        assert channel.accepted == [0]
    finally:
        channel.gate.set()
        await asyncio.wait_for(buffer.flush(), timeout=30)
        await buffer.stop()
    assert channel.accepted == list(range(40))


def test_the_worker_app_produces_through_a_draining_buffer(tmp_path: Any) -> None:
    app = new_app(Settings(data_dir=tmp_path))
    assert isinstance(app.producer.buffer, DrainingBuffer)
    assert app.producer.buffer.app is app


async def test_swapping_a_running_buffer_is_refused() -> None:
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        with pytest.raises(RuntimeError, match="already runs"):
            install_draining_buffer(SimpleNamespace(buffer=buffer, app=buffer.app))
    finally:
        await buffer.stop()
