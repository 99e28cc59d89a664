"""Where a partition's data ends when transactions wrote it (streams.kafka.ends): commit and
abort markers at the tail, aborted records, plain records after a transaction, and an empty
partition, on the real broker."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.kafka.clients import client_kwargs
from streams.kafka.ends import after_last_records
from streams.settings import Settings
from tests.kafka_helpers import create_topic, kafka_settings

pytestmark = pytest.mark.kafka


async def _transaction(
    producer: AIOKafkaProducer, topic: str, p: int, n: int, commit: bool
) -> None:
    await producer.begin_transaction()
    for i in range(n):
        await producer.send_and_wait(topic, b"t%d" % i, partition=p)
    if commit:
        await producer.commit_transaction()
    else:
        await producer.abort_transaction()


async def test_after_last_records_skips_markers_and_aborted_records(
    kafka_bootstrap: str, unique: str
) -> None:
    settings: Settings = kafka_settings(kafka_bootstrap, unique)
    topic = f"{unique}ends"
    await create_topic(kafka_bootstrap, topic, partitions=5)
    plain = AIOKafkaProducer(**client_kwargs(settings))
    txn = AIOKafkaProducer(**client_kwargs(settings), transactional_id=f"{unique}txn")
    await plain.start()
    await txn.start()
    try:
        await _transaction(txn, topic, 0, 3, commit=True)  # 0-2 data, 3 marker
        for _ in range(2):
            await plain.send_and_wait(topic, b"plain", partition=1)  # 0-1
        await _transaction(txn, topic, 1, 2, commit=False)  # 2-3 aborted, 4 marker
        for _ in range(3):  # 0-2: ends with data (a plain record sent right after a
            # commit may land before that commit's marker: markers are written after the
            # commit returns)
            await plain.send_and_wait(topic, b"plain", partition=2)
        await _transaction(txn, topic, 4, 1, commit=True)  # 0 data, 1 marker
        for _ in range(20):  # 20 aborted records and 20 markers: the look back must grow
            await _transaction(txn, topic, 4, 1, commit=False)
    finally:
        await txn.stop()
        await plain.stop()

    tps = [TopicPartition(topic, p) for p in range(5)]
    reader = AIOKafkaConsumer(**client_kwargs(settings), isolation_level="read_committed")
    await reader.start()
    try:
        ends = await reader.end_offsets(tps)
        assert [ends[tp] for tp in tps] == [4, 5, 3, 0, 42], "the tails this test wrote"
        found = await after_last_records(reader, ends)
    finally:
        await reader.stop()
    assert [found[tp] for tp in tps] == [3, 2, 3, 0, 1]
