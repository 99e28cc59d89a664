"""Faust's consumer handing each fetched message to its streams without starting tasks.

Faust's fetcher hands every message over with `wait_first(callback(message),
suspend_flow.wait())` (mode's Service): the hand-over, the flow's suspension, the consumer's
stop and its crash each become a task, and three are cancelled, for a hand-over that almost
always completes at once (a put into a stream's queue with room). That churn was a sixth of
the worker's CPU per event (`python -m bench --variant x:BENCH_PATCHES=stock_handover`).

`InPlaceHandover` steps the hand-over once in place. Done, it returns what `wait_first`
would have (nothing else is started); one that must wait (a stream's queue is full) goes on
through `wait_first` as before, so the flow's suspension still cancels it.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults


class InPlaceHandover:
    """A mixin over mode's Service (before it in the bases) for Faust's consumer."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> Any:
        stock = super().wait_first  # type: ignore[misc]  # mode's Service, next in the MRO
        # Faust's fetcher calls wait_first(callback(message), suspend_flow.wait()) only.
        if len(coros) != 2 or timeout is not None or not isinstance(coros[0], Coroutine):
            return await stock(*coros, timeout=timeout)
        handover, suspended = coros
        try:
            yielded = handover.send(None)
        except StopIteration as done:
            _close(suspended)
            if getattr(self, "should_stop", False):  # as wait_first: stopped wins
                return WaitResults([], [], True)
            return WaitResults([handover], [done.value], False)
        except BaseException:
            _close(suspended)
            raise
        return await stock(_Resumed(handover, yielded), suspended)


def _close(waitable: Any) -> None:
    """A coroutine never started is closed (else Python warns it was never awaited)."""
    if isinstance(waitable, Coroutine):
        waitable.close()


class _Resumed:
    """A coroutine already stepped once, which yielded `yielded`: awaited (as a task), it
    is driven on to its end, what the task is sent or thrown (a cancellation) handed on."""

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        pending = self.yielded
        while True:
            thrown: BaseException | None = None
            sent = None
            try:
                sent = yield pending
            except BaseException as exc:  # a cancellation: the coroutine's to handle
                thrown = exc
            try:
                pending = self.coro.send(sent) if thrown is None else self.coro.throw(thrown)
            except StopIteration as done:
                return done.value
