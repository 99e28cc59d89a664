"""Faust's tables, written to the changelog partition of the event being handled, and a
way to say which event a write belongs to.

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
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.streams import _current_event, current_event


class EventPartitionTable(faust.Table):  # type: ignore[misc,type-arg]  # faust is untyped
    """faust.Table whose changelog partition is the current event's (`Table=` setting)."""

    def partition_for_key(self, key: Any) -> int:
        event = current_event()
        if event is None:
            raise TypeError("a table is written only while an event is handled")
        return int(event.message.partition)


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
