"""Which partition a key belongs on: murmur2, as the Java client and aiokafka do."""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=65536)
def partition_for(key: str, partitions: int) -> int:
    """The partition murmur2 gives `key` among `partitions` (cached: it is pure Python)."""
    return int(murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
