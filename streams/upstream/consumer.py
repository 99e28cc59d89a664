"""Faust's aiokafka consumer, made to recover tables to where each changelog's committed
data ends, and to start stream partitions only from the seek that ends each recovery.

Faust's recovery reads a changelog's end from a cache that is empty before the first fetch,
and recovered empty tables, or waits 10 s for a commit marker it is never handed:
`StableEndsConsumer` asks the broker where the data ends (exactly_once; docs/delivery.md,
section 9).

In both guarantees `StableEndsConsumer` makes the seek that ends each recovery the one place
stream partitions start from: they resume only once sought, and a partition without a
committed offset is sought to its start, so no record fetched before the seek is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

import aiokafka
from faust.transport.drivers.aiokafka import (
    AIOKafkaConsumerThread,
    credentials_to_aiokafka_auth,
    server_list,
)
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaFaustConsumer
from faust.types import TP

from streams.kafka.ends import after_last_records
from streams.upstream.handover import InPlaceHandover


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


class StableEndsConsumer(InPlaceHandover, AIOKafkaFaustConsumer):  # type: ignore[misc]  # faust is untyped
    """Faust's aiokafka consumer with a StableEndsThread, whose stream partitions resume
    only once they are sought to their committed offsets (and which hands messages to the
    streams in place: handover.py).

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
