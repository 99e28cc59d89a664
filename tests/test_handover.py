"""The consumer's hand-over of fetched messages to its streams (streams/upstream/handover.py):
what mode's `wait_first` answers, without its four tasks per message."""

from __future__ import annotations

import asyncio
import inspect
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from faust.transport.consumer import Consumer
from mode import Service

from streams.upstream.consumer import StableEndsConsumer
from streams.upstream.handover import InPlaceHandover


class _Stock(Service):
    pass


class _Ours(InPlaceHandover, Service):
    pass


@contextmanager
def _counting_tasks() -> Iterator[list[Any]]:
    """Every task the running loop starts inside, in a list."""
    loop = asyncio.get_running_loop()
    started: list[Any] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        started.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield started
    finally:
        loop.set_task_factory(None)


async def _put(queue: asyncio.Queue[int], item: int) -> str:
    await queue.put(item)
    return "put"


def test_faust_hands_each_fetched_message_over_through_wait_first() -> None:
    """Upstream behaviour InPlaceHandover relies on: Faust's fetcher hands every message to
    its streams with `wait_first(callback(message), suspend_flow.wait())`. When this fails,
    the fetcher hands over otherwise and the override may go (or must change)."""
    source = re.sub(r"\s+", "", inspect.getsource(Consumer._drain_messages))
    assert "awaitself.wait_first(callback(message),self.suspend_flow.wait())" in source


async def test_mode_starts_four_tasks_per_hand_over() -> None:
    """Upstream behaviour InPlaceHandover replaces: mode's `wait_first` starts a task for
    each argument, the service's stop and its crash, for a hand-over that completes at once.
    When this fails, upstream no longer churns tasks and the override may go."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    with _counting_tasks() as started:
        result = await _Stock().wait_first(_put(queue, 1), asyncio.Event().wait())
    assert result.results == ["put"]
    assert len(started) == 4


async def test_a_hand_over_with_room_starts_no_task() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the suspension's wait, never started, is closed
        with _counting_tasks() as started:
            result = await _Ours().wait_first(_put(queue, 1), asyncio.Event().wait())
    assert (result.results, result.stopped, started) == (["put"], False, [])
    assert queue.get_nowait() == 1


async def test_a_hand_over_that_must_wait_completes_when_there_is_room() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(0)
    handing = asyncio.ensure_future(_Ours().wait_first(_put(queue, 1), asyncio.Event().wait()))
    await asyncio.sleep(0.01)
    assert not handing.done(), "the queue is full: the hand-over waits"
    assert queue.get_nowait() == 0
    result = await asyncio.wait_for(handing, 5)
    assert result.results == ["put"]
    assert queue.get_nowait() == 1


async def test_the_flows_suspension_cancels_a_waiting_hand_over() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(0)
    suspend = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, suspend.set)
    result = await asyncio.wait_for(_Ours().wait_first(_put(queue, 1), suspend.wait()), 5)
    assert result.results == [True], "the suspension won"
    await asyncio.sleep(0.01)
    assert queue.get_nowait() == 0 and queue.empty(), "the cancelled hand-over put nothing"


async def test_a_hand_over_that_fails_raises_as_wait_first_does() -> None:
    async def fails() -> None:
        raise ValueError("undecodable")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for service in (_Stock(), _Ours()):
            with pytest.raises(ValueError, match="undecodable"):
                await service.wait_first(fails(), asyncio.Event().wait())


async def test_a_stopped_consumer_answers_stopped_as_wait_first_does() -> None:
    for service in (_Stock(), _Ours()):
        service._stopped.set()
        queue: asyncio.Queue[int] = asyncio.Queue()
        result = await service.wait_first(_put(queue, 1), asyncio.Event().wait())
        assert result.stopped and result.results == []


async def test_other_waits_are_mode_s_own() -> None:
    result = await _Ours().wait_first(asyncio.sleep(0, "slept"), timeout=1.0)
    assert result.results == ["slept"]


def test_the_worker_consumer_hands_over_in_place() -> None:
    assert issubclass(StableEndsConsumer, InPlaceHandover)
    assert StableEndsConsumer.wait_first is InPlaceHandover.wait_first
