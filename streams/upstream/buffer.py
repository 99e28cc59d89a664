"""Faust's producer buffer, made to drain completely before an offset commit, and to send
each message in the transaction of the input event that made it.

Table writes and `send_soon` outputs wait in Faust's ProducerBuffer until a background task
hands them to aiokafka. Before committing input offsets Faust calls `producer.flush()`,
which flushes this buffer and then aiokafka. The stock `ProducerBuffer.flush` returns as
soon as one hand-over takes longer than 0.1 s (aiokafka's `send` waits whenever a batch is
full), so the commit can overtake changelog and output messages still in the buffer. A
worker killed at that moment loses them while their input offsets are committed: the event
is gone for good. This buffer's flush returns only when every message buffered before the
call has been handed to aiokafka.

With `exactly_once` it closes two more of Faust's gaps (docs/delivery.md, section 9; the
transaction manager of transactions.py closes the others):
- Faust hands every buffered message to its plain (non-transactional) producer, so outputs
  and changelog writes are visible at once and repeat after a crash: a read_committed
  consumer gains nothing. This buffer sends each message through the transactional
  producer of the input partition whose event made it, so outputs, changelog writes and
  the input offsets commit together.
- A transaction must hold the outputs of exactly the events whose offsets it commits:
  while a commit runs, messages of later events wait in the buffer for the next one, and
  a commit covers every event whose messages it holds (in a rebalance Faust commits the
  offsets of some partitions only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from faust.exceptions import ProducerSendError
from faust.streams import current_event
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from faust.types.topics import TopicT
from faust.types.tuples import FutureMessage

log = logging.getLogger(__name__)

# How often a waiting flush looks again (a crashed sender ends the wait); hand-overs wake it.
_RECHECK_SECONDS = 0.5


class Source(NamedTuple):
    """The input event a message was made by, and the transaction it belongs in."""

    transactional_id: str
    tp: TP
    offset: int


class DrainingBuffer(ProducerBuffer):  # type: ignore[misc]  # faust is untyped
    """A ProducerBuffer whose `flush` waits until aiokafka holds every message buffered
    before the call. Messages buffered during the flush do not prolong it: under steady
    load the buffer is never empty, and waiting for that would starve offset commits."""

    queued = 0  # messages ever buffered
    handed_over = 0  # of those, accepted by aiokafka: one task sends them in queue order
    sent_in_transactions = 0
    # exactly_once: the offsets of the commit under way; messages of events at or past
    # them are held (the sender waits on `_resume`, and says so with `_held`).
    committing: Mapping[TP, int] | None = None
    _resume: asyncio.Event | None = None
    _held = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # exactly_once: per input partition, the offset after the last event whose messages
        # were buffered since its last commit (see `covering`).
        self.uncommitted_ends: dict[TP, int] = {}

    def put(self, fut: FutureMessage) -> None:
        # Asked here, not at start-up: Faust's `in_transaction` is cached, and is true only
        # once the app runs in a worker.
        if getattr(self.app, "in_transaction", False):
            source = fut.source = source_of(self.app)  # type: ignore[attr-defined]
            if source is not None:
                # The highest: a table write kept for the commit is put after the outputs
                # of later events (LEADSCORE_STATE_WRITES=per_commit, streams/app/tables.py).
                # A lower end would leave those later events uncovered, and the sender,
                # holding their messages back, would hold the kept writes queued behind them.
                end = self.uncommitted_ends.get(source.tp, 0)
                self.uncommitted_ends[source.tp] = max(end, source.offset + 1)
        super().put(fut)
        self.queued += 1

    def covering(self, offsets: Mapping[TP, int], assigned: Collection[TP]) -> dict[TP, int]:
        """`offsets`, raised to cover every event of `assigned` partitions whose messages
        were buffered: a transaction must commit the offset of every event whose messages
        it holds.

        Faust commits the offsets of the events its streams acked, and those are the events
        processed (an event is acked as its handling returns, which does not await)... except
        in a rebalance: Faust forgets every revoked partition's acks, then lets its streams
        finish the events they hold and commits theirs. That commit covered only some
        partitions of a transaction which also held the messages of the others' forgotten
        events; those events were then replayed and their outputs published a second time.
        """
        covered = dict(offsets)
        for tp, end in self.uncommitted_ends.items():
            if tp in assigned and end > covered.get(tp, -1):
                covered[tp] = end
        return covered

    def forget_committed(self, committed: Mapping[TP, int]) -> None:
        """These offsets are committed: their events' messages need no covering any more."""
        for tp, offset in committed.items():
            if self.uncommitted_ends.get(tp, offset) <= offset:
                self.uncommitted_ends.pop(tp, None)

    async def _send_pending(self, fut: FutureMessage) -> None:
        source: Source | None = getattr(fut, "source", None)
        if source is None or not isinstance(fut.message.channel, TopicT):
            await super()._send_pending(fut)
        else:
            await self._wait_for_its_transaction(source)
            await _send_in_transaction(fut, source.transactional_id)
            if not self.sent_in_transactions:
                log.info("exactly_once: outputs are sent in their input partition's transaction")
            self.sent_in_transactions += 1
        self.handed_over += 1

    async def _wait_for_its_transaction(self, source: Source) -> None:
        """Hold a message of an event that the commit under way does not cover."""
        while self.committing is not None and source.offset >= self.committing.get(source.tp, -1):
            self._held = True
            self.message_sent.set()  # wakes hand_over_for_commit
            if self._resume is None:
                self._resume = asyncio.Event()
            self._resume.clear()
            await self._resume.wait()
        self._held = False

    async def hand_over_for_commit(self, offsets: Mapping[TP, int]) -> None:
        """Hand every message of the events that `offsets` commit to aiokafka, and hold
        the others back until `end_commit`.

        Faust computes the offsets from the events acked so far and calls the commit with
        no await in between; the agent's handling of an event does not await either. So
        the messages of the committed events are exactly those buffered by now: the queue
        up to the first message of a later event, where the sender stops.
        """
        self.committing = offsets
        self._held = False  # the sender says again where it stops for this commit
        await self._wait_handed_over(self.queued, until_held=True)

    def end_commit(self) -> None:
        """The commit is done: held messages go on, into the next transaction."""
        self.committing = None
        if self._resume is not None:
            self._resume.set()

    async def flush(self) -> None:
        """Wait until every message buffered so far has been handed to aiokafka."""
        await self._wait_handed_over(self.queued, until_held=False)

    async def _wait_handed_over(self, target: int, *, until_held: bool) -> None:
        """Wait until `target` messages were handed over (or, `until_held`, the sender
        holds one back for the next transaction)."""
        while self.handed_over < target and not (until_held and self._held):
            if self.state != "running":
                raise RuntimeError("Cannot flush: producer not running")
            self.message_sent.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=_RECHECK_SECONDS)


def source_of(app: Any) -> Source | None:
    """The input event being processed and its partition's transaction, named as Faust's
    TransactionManager names it (None outside an event: a timer's sends)."""
    event = current_event()
    if event is None:
        return None
    tp, offset = event.message.tp, event.message.offset
    tid = f"{app.conf.id}-{app.assignor.group_for_topic(tp.topic)}-{tp.partition}"
    return Source(tid, tp, offset)


async def _send_in_transaction(fut: FutureMessage, tid: str) -> None:
    """Faust's Topic.publish_message, with the transactional producer of `tid`."""
    message = fut.message
    channel: Any = message.channel  # a Topic (checked by the caller)
    # Not app.maybe_start_producer(): under exactly_once that is Faust's TransactionManager,
    # whose send() puts a message in the transaction of its *destination* partition.
    producer = channel.app.producer
    topic = channel.get_topic_name()
    state = channel.app.sensors.on_send_initiated(
        producer, topic, message=message, keysize=0, valsize=0
    )
    try:
        sent = await producer.send(
            topic,
            message.key,
            message.value,
            partition=message.partition,
            timestamp=message.timestamp,
            headers=message.headers,
            transactional_id=tid,
        )
    except ProducerSendError:
        # The partition was revoked and its transaction stopped: its offsets are not
        # committed here, so the partition's next owner reads the event again.
        log.info("dropped an output of a revoked partition's transaction (%s)", tid)
        fut.cancel()
        return
    sent.add_done_callback(
        lambda done: channel._on_published(done, message=fut, state=state, producer=producer)
    )


# With transactions the buffer holds newer events' messages while a commit runs; stock
# Faust (100) would then stop the agent at every commit until the commit ends.
TRANSACTIONAL_BUFFER_MESSAGES = 10_000


def install_draining_buffer(producer: Any, *, transactional: bool = False) -> Any:
    """Swap a not-yet-started Faust producer's buffer for a DrainingBuffer (a larger one
    for `transactional` apps: see TRANSACTIONAL_BUFFER_MESSAGES)."""
    if producer.buffer.started:
        raise RuntimeError("the producer buffer already runs; swap it before the app starts")
    if producer.app.conf.producer_threaded:
        raise RuntimeError("the threaded producer bypasses the buffer's hand-over")
    buffer = DrainingBuffer(loop=producer.loop, beacon=producer.beacon)
    buffer.app = producer.app
    if transactional:
        buffer.max_messages = TRANSACTIONAL_BUFFER_MESSAGES
    producer.buffer = buffer
    return producer
