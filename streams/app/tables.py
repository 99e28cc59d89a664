"""The worker's Faust tables as the pipeline sees them: its small StateStore (TableStore).

Each write goes to the changelog partition of the event being handled, with no metadata
lookup (streams/upstream/tables.py says why).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from faust.streams import current_event

from streams.kafka.partitioning import partition_for
from streams.upstream.tables import handling


class TableStore:
    """The Faust table seen as the Pipeline's small StateStore protocol.

    `checkpointed` (exactly_once): a write is kept in memory with the event that made it,
    and only the key's last value is written, by `checkpoint()` right before the
    transaction commits: one changelog message per key per commit instead of one per
    event. The transaction holds the outputs of the same events, so the state and outputs
    still commit (or abort) together (docs/delivery.md, section 9).
    """

    def __init__(self, table: Any, partitions: int, *, checkpointed: bool = False) -> None:
        self.table = table
        self.partitions = partitions
        self.checkpointed = checkpointed
        # key -> (value, None for a delete; the event that wrote it), in write order.
        self._unwritten: dict[str, tuple[bytes | None, Any]] = {}

    def get(self, key: str) -> bytes | None:
        kept = self._unwritten.get(key)
        if kept is not None:
            return kept[0]
        # One store lookup; `table.get` would look the key up twice (contains, then get).
        # (It skips Table.on_key_get, which only feeds the sensor: table reads are not counted.)
        value = self.table.data.get(key)
        return value if isinstance(value, bytes) else None

    def __setitem__(self, key: str, value: bytes) -> None:
        if self.checkpointed:
            self._keep(key, value)
        else:
            self.table[key] = value

    def __delitem__(self, key: str) -> None:
        if self.checkpointed:
            self._keep(key, None)
        else:
            del self.table[key]

    def _keep(self, key: str, value: bytes | None) -> None:
        event = current_event()
        if event is None:
            raise TypeError("a table is written only while an event is handled")
        self._unwritten.pop(key, None)  # re-inserted last: written in the order of change
        self._unwritten[key] = (value, event)

    @property
    def unwritten(self) -> int:
        """Writes kept for the next checkpoint."""
        return len(self._unwritten)

    def checkpoint(self) -> int:
        """Write every kept key's last value to the table, as the event that wrote it;
        returns how many."""
        kept, self._unwritten = self._unwritten, {}
        for key, (value, event) in kept.items():
            with handling(event):
                if value is None:
                    if key in self.table:
                        del self.table[key]
                else:
                    self.table[key] = value
        return len(kept)

    def forget_unwritten(self, keep_partitions: Collection[int]) -> None:
        """Drop the kept writes of partitions this worker no longer owns (a rebalance):
        their events are replayed by the partitions' next owner."""
        self._unwritten = {
            key: kept
            for key, kept in self._unwritten.items()
            if kept[1].message.partition in keep_partitions
        }

    def partition_slice(
        self, partition: int, after: str | None, limit: int
    ) -> list[tuple[str, bytes]]:
        """Up to `limit` keys of `partition` (key, value), in key order after `after`."""
        self.checkpoint()  # a slice reads the table: kept writes go first
        data = self.table.data
        dbs = getattr(data, "_dbs", None)
        if dbs is None or not getattr(data, "use_rocksdict", False):  # the memory store
            leads = ((k.decode() if isinstance(k, bytes) else k, v) for k, v in self.table.items())
            mine = (
                (k, v)
                for k, v in leads
                if partition_for(k, self.partitions) == partition and (after is None or k > after)
            )
            return sorted(mine)[:limit]
        # RocksDB keeps one database per partition, ordered by key (UTF-8 bytes order the
        # same as str). Raw codecs: the database holds the very bytes the table does.
        db = dbs.get(partition)
        if db is None:
            return []
        start = after.encode() if after is not None else None
        out: list[tuple[str, bytes]] = []
        for key, value in db.items(from_key=start) if start is not None else db.items():
            if key == data.offset_key or key == start:
                continue
            out.append((key.decode(), value))
            if len(out) == limit:
                break
        return out
