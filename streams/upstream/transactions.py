"""Faust's TransactionManager, made to commit exactly the outputs of the events whose
offsets each transaction commits (`exactly_once`).

Faust's `exactly_once` mode and aiokafka's transactional producer leave these gaps, closed
here with the buffer of buffer.py (docs/delivery.md, section 9):
- Faust's `TransactionManager.commit` commits offsets without flushing the producer buffer,
  so buffered writes of already-committed offsets would go into the next transaction and
  die with the worker: `FlushingTransactionManager` hands them over first.
- A transaction must hold the outputs of exactly the events whose offsets it commits:
  while a commit runs, messages of later events wait in the buffer for the next one, and
  a commit covers every event whose messages it holds (in a rebalance Faust commits the
  offsets of some partitions only).
- aiokafka commits a transaction without waiting for its producer's queued and in-flight
  batches: each transaction's producer is flushed first.
- Faust leaves transactions open across a rebalance, then replays each partition from its
  committed offset: the open transactions are aborted first.

`install_flushing_transactions` also gives the transport consumer.py's consumer, which
recovers tables to where the changelogs' committed data ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

from aiokafka.errors import KafkaError, ProducerFenced
from faust.transport.consumer import TransactionManager
from faust.types import TP

from streams.upstream.buffer import DrainingBuffer
from streams.upstream.consumer import StableEndsConsumer

log = logging.getLogger(__name__)


class FlushingTransactionManager(TransactionManager):  # type: ignore[misc]  # faust is untyped
    """Faust's TransactionManager, handing the producer buffer over before each commit:
    every message made by an event whose offset is committed joins the committed
    transaction, and no message of a later event does."""

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        buffer = cast(DrainingBuffer, self.app.producer.buffer)
        for checkpoint in getattr(self.app, "before_commit", ()):
            # Table writes kept for the commit, each as its event's (streams/app/tables.py).
            checkpoint()
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


def install_flushing_transactions(transport: Any) -> Any:
    """Make a Faust transport create FlushingTransactionManagers and consumers that recover
    tables to the changelogs' stable ends (exactly_once)."""
    transport.TransactionManager = FlushingTransactionManager
    transport.Consumer = StableEndsConsumer
    return transport
