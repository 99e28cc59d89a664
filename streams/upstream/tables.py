"""Faust's tables, written to the changelog partition of the event being handled, their
changelog offsets persisted at each commit, and a way to say which event a write belongs to.

On a write Faust asks metadata for the changelog's partition: in partitioner mode the
producer's (aiokafka narrows it to the topics it has sent to once a send misses, so a
changelog not written yet can be missing), otherwise the consumer's, to check that the source
topic and the changelog have as many partitions (the group's metadata snapshot counts a topic
it has not seen yet as 0 partitions). Either way the write raises for as long as the metadata
lacks the changelog, and every event touching the table is dead-lettered: after a failover
those events were gone (docs/delivery.md). Here no metadata is asked: every write happens
while the agent handles an event on the key's own partition (wrong-partition inputs are
re-routed first; sweep slices, forwards and contributions are sent to the key's partition),
and the worker checks at start-up that every topic has the configured partition count.

With at_least_once Faust persists a changelog message's offset in the partition's RocksDB
as the broker acknowledges it: one more RocksDB write per table write, for a mark that only
says where a later recovery may start reading. `CommitOffsetsTableManager` keeps the latest
per changelog partition and writes it when the worker commits its input offsets: recovery
may then re-read a commit interval of the changelog, which replays to the same values.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import faust
from faust.streams import _current_event, current_event
from faust.tables import TableManager
from faust.types import TP


class EventPartitionTable(faust.Table):  # type: ignore[misc,type-arg]  # faust is untyped
    """faust.Table whose changelog partition is the current event's (`Table=` setting)."""

    def partition_for_key(self, key: Any) -> int:
        event = current_event()
        if event is None:
            raise TypeError("a table is written only while an event is handled")
        return int(event.message.partition)

    def _on_changelog_sent(self, fut: Any) -> None:
        # Faust's callback when the broker has a changelog write: at_least_once persists its
        # offset at once, a RocksDB write per table write. Kept for the commit instead.
        # exactly_once: Faust's own (the worker starts from the changelog, not the store).
        if self.app.in_transaction:
            super()._on_changelog_sent(fut)
            return
        metadata = fut.result()
        tables = cast("CommitOffsetsTableManager", self.app.tables)  # the TableManager= setting
        tables.persist_at_commit(self.data, metadata.topic_partition, metadata.offset)


class CommitOffsetsTableManager(TableManager):  # type: ignore[misc]  # faust is untyped
    """Faust's TableManager (`TableManager=` setting) that writes the offsets kept by
    EventPartitionTable when the consumer commits (at_least_once)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_commit: dict[TP, tuple[Any, int]] = {}  # changelog tp -> (store, offset)

    def persist_at_commit(self, store: Any, tp: TP, offset: int) -> None:
        """Persist `offset` of changelog partition `tp` in `store` at the next commit."""
        kept = self._at_commit.get(tp)
        if kept is None or kept[1] < offset:
            self._at_commit[tp] = (store, offset)

    def on_commit(self, offsets: Any) -> None:
        super().on_commit(offsets)
        # A kept offset's write is already in its store (a table writes its store, then
        # sends), so a commit of its partition may persist it. A changelog partition is
        # numbered as its input's (EventPartitionTable).
        committed = {tp.partition for tp in offsets}
        for tp in [tp for tp in self._at_commit if tp.partition in committed]:
            store, offset = self._at_commit.pop(tp)
            store.set_persisted_offset(tp, offset)

    def on_partitions_revoked(self, revoked: Any) -> None:
        # The store of a revoked partition is closed: its next recovery starts at the last
        # offset persisted, and re-reads the rest.
        gone = {tp.partition for tp in revoked}
        self._at_commit = {tp: v for tp, v in self._at_commit.items() if tp.partition not in gone}
        super().on_partitions_revoked(revoked)


@contextmanager
def handling(event: Any) -> Iterator[None]:
    """Table writes and sends made inside act as if `event` were being handled.

    Faust asks the event being handled for a write's partition (the changelog's and the
    RocksDB database's) and buffer.py asks it for the write's transaction; a write kept
    for the commit is made when another event, or none, is current. Faust offers no
    public way to say which event a write belongs to: this sets the context variable its
    streams set for each event (tests/test_checkpointed_writes.py checks that it still
    does).
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)
