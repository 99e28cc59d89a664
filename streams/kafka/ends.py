"""Where a partition's data ends, for readers of topics written in transactions.

A transaction ends with a marker record in every partition it wrote to. No consumer is
ever handed a marker, so a reader waiting for "the record before the end offset" waits
forever when the partition ends with one, and a consumer group done with the partition
commits the offset after its last *data* record, never the end offset. The function here
finds that offset by reading the tail back (docs/delivery.md, section 9).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

# How far back from the end the first look starts: a tail of markers is one marker per
# transaction that wrote there since the last data record, so two offsets almost always do.
_FIRST_LOOK_BACK = 2
_FETCH_TIMEOUT_MS = 1000


async def after_last_records(
    consumer: AIOKafkaConsumer, ends: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """For each partition, the offset after its last record `consumer` is handed (0 when
    it has none): `ends[tp]` itself when the partition ends with a data record.

    `consumer` is a started consumer of no group (it is reassigned to these partitions);
    with `isolation_level="read_committed"` records of aborted transactions do not count.
    The tail is read back in growing steps until a record shows up or the start is reached.
    """
    found: dict[TopicPartition, int] = {}
    looking = {tp: end for tp, end in ends.items() if end > 0}
    back = _FIRST_LOOK_BACK
    while looking:
        starts = {tp: max(end - back, 0) for tp, end in looking.items()}
        last = await _last_offsets(consumer, starts, looking)
        for tp in list(looking):
            if last.get(tp, -1) >= 0 or starts[tp] == 0:
                found[tp] = last.get(tp, -1) + 1
                del looking[tp]
        back *= 8
    return {tp: found.get(tp, 0) for tp in ends}


async def _last_offsets(
    consumer: AIOKafkaConsumer,
    starts: Mapping[TopicPartition, int],
    ends: Mapping[TopicPartition, int],
) -> dict[TopicPartition, int]:
    """The last offset below `ends[tp]` read from `starts[tp]`, per partition."""
    consumer.assign(list(starts))
    for tp, start in starts.items():
        consumer.seek(tp, start)
    last: dict[TopicPartition, int] = {}
    reading = set(starts)
    while reading:
        batches = await consumer.getmany(*reading, timeout_ms=_FETCH_TIMEOUT_MS)
        for tp, records in batches.items():
            below = [r.offset for r in records if r.offset < ends[tp]]
            if below:
                last[tp] = max(last.get(tp, -1), *below)
        reading = {tp for tp in reading if await consumer.position(tp) < ends[tp]}
    return last
