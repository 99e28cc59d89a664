"""Faust's producer buffer, made to drain completely before an offset commit.

Table writes and `send_soon` outputs wait in Faust's ProducerBuffer until a background task
hands them to aiokafka. Before committing input offsets Faust calls `producer.flush()`,
which flushes this buffer and then aiokafka. The stock `ProducerBuffer.flush` returns as
soon as one hand-over takes longer than 0.1 s (aiokafka's `send` waits whenever a batch is
full), so the commit can overtake changelog and output messages still in the buffer. A
worker killed at that moment loses them while their input offsets are committed: the event
is gone for good. This buffer's flush returns only when every message buffered before the
call has been handed to aiokafka.

With `exactly_once` these gaps of Faust's are closed here (docs/delivery.md, section 9):
- Faust's `TransactionManager.commit` commits offsets without flushing this buffer, so
  buffered writes of already-committed offsets would go into the next transaction and die
  with the worker: `FlushingTransactionManager` hands them over first.
- Faust hands every buffered message to its plain (non-transactional) producer, so outputs
  and changelog writes are visible at once and repeat after a crash: a read_committed
  consumer gains nothing. This buffer sends each message through the transactional
  producer of the input partition whose event made it, so outputs, changelog writes and
  the input offsets commit together.
- A transaction must hold the outputs of exactly the events whose offsets it commits:
  while a commit runs, messages of later events wait in the buffer for the next one, and
  a commit covers every event whose messages it holds (in a rebalance Faust commits the
  offsets of some partitions only).
- aiokafka commits a transaction without waiting for its producer's queued and in-flight
  batches: each transaction's producer is flushed first.
- Faust leaves transactions open across a rebalance, then replays each partition from its
  committed offset: the open transactions are aborted first.
- Faust's recovery reads a changelog's end from a cache that is empty before the first
  fetch, and recovered empty tables, or waits 10 s for a commit marker it is never handed:
  `StableEndsConsumer` asks the broker where the data ends.

In both guarantees `StableEndsConsumer` makes the seek that ends each recovery the one place
stream partitions start from: they resume only once sought, and a partition without a
committed offset is sought to its start, so no record fetched before the seek is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import Any, NamedTuple, cast

import aiokafka
from aiokafka.errors import KafkaError, ProducerFenced
from faust.exceptions import ProducerSendError
from faust.streams import current_event
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    credentials_to_aiokafka_auth,
    server_list,
)
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from faust.transport.producer import ProducerBuffer
from faust.types import TP
from faust.types.topics import TopicT
from faust.types.tuples import FutureMessage

from streams.kafka.ends import after_last_records

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
                self.uncommitted_ends[source.tp] = source.offset + 1
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


class FlushingTransactionManager(TransactionManager):  # type: ignore[misc]  # faust is untyped
    """Faust's TransactionManager, handing the producer buffer over before each commit:
    every message made by an event whose offset is committed joins the committed
    transaction, and no message of a later event does."""

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        buffer = cast(DrainingBuffer, self.app.producer.buffer)
        for checkpoint in getattr(self.app, "before_commit", ()):
            checkpoint()  # table writes kept for the commit, each as its event's (tables.py)
        offsets = buffer.covering(offsets, self.consumer.assignment())
        await buffer.hand_over_for_commit(offsets)
        try:
            committed = await self._commit_all(offsets, start_new_transaction)
        finally:
            buffer.end_commit()
        buffer.forget_committed(committed)
        if committed:
            for listener in getattr(self.app, "transactions_committed", ()):
                listener(committed)
        return True

    async def on_rebalance(self, assigned: Any, revoked: Any, newly_assigned: Any) -> None:
        """Abort every open transaction first, then upstream's start/stop of producers.

        After a rebalance Faust seeks every assigned partition back to its committed offset
        and replays what follows; the open transactions hold that tail's outputs. Left open
        (upstream's way), a retained partition's replayed outputs would join them and both
        copies commit, and a revoked partition's transaction would pin its changelog's last
        stable offset until the broker times it out, so the next owner's recovery would
        read an empty changelog.
        """
        await self.abort_open_transactions()
        # The aborted events are replayed from the committed offsets, and buffer again.
        cast(DrainingBuffer, self.app.producer.buffer).uncommitted_ends.clear()
        await super().on_rebalance(assigned, revoked, newly_assigned)

    async def abort_open_transactions(self) -> None:
        for tid in list(self._txn_producers()):
            if self._in_transaction(tid):
                await self.producer.abort_transaction(tid)

    def _txn_producers(self) -> dict[str, Any]:
        """Faust's aiokafka producer per transactional id (none before the first one)."""
        producers: dict[str, Any] = getattr(self.producer, "_transaction_producers", {})
        return producers

    def _in_transaction(self, tid: str) -> bool:
        """Whether this process holds an open transaction `tid` (aiokafka's own state)."""
        txn_producer = self._txn_producers().get(tid)
        return txn_producer is not None and bool(txn_producer._txn_manager.is_in_transaction())

    async def _commit_all(
        self, offsets: Mapping[TP, int], start_new_transaction: bool
    ) -> dict[TP, int]:
        """Upstream's commit, with the partitions' transactions committed at once instead of
        one after another (each is a few round trips to the coordinator; while they run,
        the buffer holds the outputs of newer events). Returns the offsets committed."""
        group_id = self.app.conf.id
        by_transaction: dict[str, dict[TP, int]] = defaultdict(dict)
        for tp, offset in offsets.items():
            group = self.app.assignor.group_for_topic(tp.topic)
            by_transaction[f"{group_id}-{group}-{tp.partition}"][tp] = offset
        for tid in [tid for tid in by_transaction if not self._in_transaction(tid)]:
            # Faust ends every transaction when its streams are drained (a revocation, the
            # shutdown) and begins them again only at the next assignment; a timer commit in
            # between would fail with IllegalOperation and crash the consumer.
            # Faust counts them as committed all the same; offsets are cumulative, so the
            # partition's next commit covers them.
            log.debug("no open transaction %s: its offsets go with the next commit", tid)
            del by_transaction[tid]
        commits = (
            self._flush_and_commit(tid, tp_offsets, start_new_transaction)
            for tid, tp_offsets in by_transaction.items()
        )
        try:
            await asyncio.gather(*commits)
        except ProducerFenced as fenced:
            log.warning("producer fenced: %s", fenced)
            await self.app.crash(fenced)
            return {}
        except KafkaError as exc:
            # aiokafka's transactional sender does not survive a broker it cannot reach
            # mid-commit, and this process's tables already hold the uncommitted events:
            # only a restart (which recovers the committed changelog) is exact again.
            log.error("exactly_once: a transaction commit failed (%r): the worker stops", exc)
            await self.app.crash(exc)
            return {}
        return {
            tp: offset
            for tp_offsets in by_transaction.values()
            for tp, offset in tp_offsets.items()
        }

    async def _flush_and_commit(
        self, tid: str, offsets: Mapping[TP, int], start_new_transaction: bool
    ) -> None:
        """Wait until the broker has every message handed to `tid`'s producer, then commit.

        aiokafka's `commit_transaction` sends EndTxn as soon as it is asked, with batches
        still queued or in flight (Java's producer flushes first): a batch retried after
        an error (NotEnoughReplicas, a leader change) can then reach the log after the
        commit marker, outside the transaction that committed its event's offset.
        """
        txn_producer = self._txn_producers().get(tid)
        if txn_producer is not None:
            await txn_producer.flush()
        await self.producer.commit_transactions(
            {tid: offsets}, self.app.conf.id, start_new_transaction=start_new_transaction
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


class StableEndsThread(AIOKafkaConsumerThread):  # type: ignore[misc]  # faust is untyped
    """Faust's consumer thread, telling recovery where each changelog's data ends.

    Under exactly_once Faust's recovery takes a changelog's end from aiokafka's
    `last_stable_offset(tp)`, which is only known once a fetch of that partition has
    returned: at the start of a recovery it is not, so the table is "recovered" empty (the
    log shows a highwater of -1) and the worker goes on from the committed offsets with
    the leads it had forgotten. `end_offsets` asks the broker (ListOffsets), which answers a
    read_committed consumer with the last stable offset: the same end, always known.

    That end is a commit marker, which recovery is never handed: Faust then waits for two
    5-second timeouts before it gives up on it (about 12 s per recovery, a failover
    included). The highwater given is the offset after the last committed data record
    instead, read back by a consumer of no group, and recovery ends as that record is applied.
    """

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        ends: Mapping[TP, int] = await self._ensure_consumer().end_offsets(partitions)
        if not self.consumer.in_transaction:
            return ends  # no markers: upstream's own answer
        if not any(ends.values()):
            # Empty changelogs (a first start). A consumer stopped before it awaited
            # anything raises CancelledError from its stop() (aiokafka 0.12).
            return ends
        reader = self._tail_reader()
        await reader.start()
        try:
            after = await after_last_records(reader, ends)
        finally:
            await reader.stop()
        return {TP(tp.topic, tp.partition): offset for tp, offset in after.items()}

    def _tail_reader(self) -> aiokafka.AIOKafkaConsumer:
        """A read_committed consumer of no group, connected like the worker's own."""
        conf, transport = self.app.conf, cast(Any, self.transport)
        return aiokafka.AIOKafkaConsumer(
            client_id=conf.broker_client_id,
            bootstrap_servers=server_list(transport.url, transport.default_port),
            enable_auto_commit=False,
            isolation_level="read_committed",
            request_timeout_ms=int(conf.broker_request_timeout * 1000.0),
            **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context),
        )

    async def seek_to_committed(self) -> Mapping[TP, int]:
        # Faust's type; aiokafka answers None for a partition without a committed offset.
        return cast(Mapping[TP, int], await self.call_thread(self._seek_to_committed))

    async def _seek_to_committed(self) -> Mapping[TP, int | None]:
        """aiokafka's seek to the committed offsets, and to the start for stream partitions
        without one.

        aiokafka seeks only to committed offsets above 0: a partition with none kept the
        position of its last fetch. Records Faust fetched and then dropped (its partition
        paused between the fetch and the hand-over, a rebalance, the flow stopped) were
        never read again: a failover lost the first events of a partition that no worker
        had committed yet. Changelogs keep their positions (recovery seeks them itself).
        """
        consumer = self._ensure_consumer()
        committed: Mapping[TP, int | None] = await consumer.seek_to_committed()
        unsought = [
            tp
            for tp, offset in committed.items()
            if not offset and not self.consumer._is_changelog_tp(tp)
        ]
        if unsought:
            await consumer.seek_to_beginning(*unsought)
        return committed

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        """Faust's fetch, with a copy of its active partitions taken here, and nothing
        fetched when there are none.

        Faust hands over its own set, which the worker's thread changes while aiokafka waits
        for records, and aiokafka reads an empty set as every partition: records of paused
        partitions came back, Faust dropped them as not active, and aiokafka had moved past
        them. (StableEndsConsumer's held-back assignment empties the set during a seek.)
        """
        partitions: Any = active_partitions  # None in a client-only app: every partition
        if partitions is not None:
            if not partitions:
                return {}
            partitions = set(partitions)
        return await super()._fetch_records(
            consumer, partitions, timeout=timeout, max_records=max_records
        )


class StableEndsConsumer(AIOKafkaFaustConsumer):  # type: ignore[misc]  # faust is untyped
    """Faust's aiokafka consumer with a StableEndsThread, whose stream partitions resume
    only once they are sought to their committed offsets.

    At the end of every recovery Faust resumes the stream partitions, then seeks them to
    their committed offsets (a broker round trip per partition), then resumes the flow,
    which empties every stream's queue (mode's `FlowControlEvent.resume`). Events fetched
    in between were handled from the positions before the seek, and those still queued at
    the flow's resume were dropped: read, never handled, and committed past, as the seek's
    read offsets make the next fetched offsets look like gaps (docs/delivery.md, section 9,
    gap 8). Held back until the flow resumes after the seek, the stream partitions have
    nothing queued by then (and StableEndsThread fetches nothing while none is active).
    """

    _awaiting_seek = True  # from an assignment until its recovery's seek
    _held_back: frozenset[TP] = frozenset()

    def _new_consumer_thread(self) -> StableEndsThread:
        return StableEndsThread(self, loop=self.loop, beacon=self.beacon)

    async def on_partitions_assigned(self, assigned: set[TP], generation_id: int = 0) -> None:
        self._awaiting_seek, self._held_back = True, frozenset()
        await super().on_partitions_assigned(assigned, generation_id)

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        resumed = set(tps)
        if self._awaiting_seek:
            streams = {tp for tp in resumed if not self._is_changelog_tp(tp)}
            self._held_back |= streams
            resumed -= streams
        super().resume_partitions(resumed)

    async def perform_seek(self) -> None:
        await super().perform_seek()
        # Only the recovery's seek, which follows its resume of the stream partitions, ends
        # the hold: Faust's getmany also seeks when it drops a fetch that came back with the
        # flow stopped, and the recovery's standby phase then resumed the flow, and with it
        # the streams, before the recovery's own seek (gap 8 again, docs/delivery.md).
        if self._held_back:
            self._awaiting_seek = False  # what is held back resumes with the flow

    def resume_flow(self) -> None:
        super().resume_flow()
        if not self._awaiting_seek and self._held_back:
            held, self._held_back = self._held_back, frozenset()
            super().resume_partitions(held & set(self.assignment()))


def install_flushing_transactions(transport: Any) -> Any:
    """Make a Faust transport create FlushingTransactionManagers and consumers that recover
    tables to the changelogs' stable ends (exactly_once)."""
    transport.TransactionManager = FlushingTransactionManager
    transport.Consumer = StableEndsConsumer
    return transport
