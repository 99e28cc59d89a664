"""The worker's Faust tables write to the partition of the event being handled.

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

from typing import Any

import faust
from faust.streams import current_event


class EventPartitionTable(faust.Table):  # type: ignore[misc,type-arg]  # faust is untyped
    """faust.Table whose changelog partition is the current event's (`Table=` setting)."""

    def partition_for_key(self, key: Any) -> int:
        event = current_event()
        if event is None:
            raise TypeError("a table is written only while an event is handled")
        return int(event.message.partition)
