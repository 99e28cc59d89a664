"""The cached partitioners send each key where aiokafka's default partitioner would."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.partitioning import key_partitioner, partition_for

STOCK = DefaultPartitioner()


@given(key=st.binary(max_size=64), count=st.integers(min_value=1, max_value=64))
def test_a_keyed_send_goes_where_aiokafka_sends_it(key: bytes, count: int) -> None:
    partitions = list(range(count))
    assert key_partitioner(key, partitions, partitions) == STOCK(key, partitions, partitions)
    assert key_partitioner(key, partitions, partitions) == key_partitioner(key, partitions, [])


@given(key=st.text(max_size=40), count=st.integers(min_value=1, max_value=64))
def test_partition_for_agrees_with_the_producer(key: str, count: int) -> None:
    partitions = list(range(count))
    assert partition_for(key, count) == key_partitioner(key.encode(), partitions, partitions)


def test_a_send_without_a_key_goes_to_an_available_partition() -> None:
    chosen = {key_partitioner(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert chosen == {1, 3}
