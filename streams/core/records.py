"""A lead's kept event records: compact, ordered, cheap to copy.

What the rules need of each applied event, and no more: when it happened, a fixed-width
digest of its id (dedupe), its kind, and for email opens and clicks the digest of the
message and the time since the send (machine rules). The records are held oldest first
as parallel typed arrays, so that
- a lookup by id is a binary search in a sorted copy of the ids (dedupe),
- the oldest record is the first (stale rule, eviction),
- a time range is two binary searches (burst detection around one click),
- encoding is a copy of the arrays' bytes, whatever the lead's history.
docs/state.md tells the long story (layout, versions, sizes).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import NamedTuple

# Record kinds, by code (the code is what a state stores: append, never reorder).
KINDS: tuple[str, ...] = (
    "email.opened",
    "email.clicked",
    "signup",
    "form.submitted",
    "social.like",
    "social.share",
    "social.comment",
    "social.follow",
    "social.click",
    "social.mention",
    "lead.verified",
    "lead.outcome",
    "email.bounced.hard",
    "email.bounced.soft",
    "email.unsubscribed",
    "email.complained",
    "lead.recycled",
    "page.pricing",
    "page.demo",
    "page.contact",
    "page.product",
    "page.docs",
    "page.blog",
    "page.careers",
    "page.other",
    "identity.linked",
    "lead.associated",
)
KIND_CODES = {kind: code for code, kind in enumerate(KINDS)}

# Flag bits of a record.
SCANNER = 1  # opened or clicked by a known link scanner's user agent (judged on apply)
BURST = 2  # a click in a burst across its message's links (kept up to date on each change)
CRAWLER = 4  # a page viewed by a known crawler's user agent (judged on apply)
REPEAT = 8  # a page viewed again within the repeat window of the same session (kept up to date)
PAGE_CODES = frozenset(code for code, kind in enumerate(KINDS) if kind.startswith("page."))

KEPT_ID_BYTES = 40  # version 1 kept longer ids as digests
NO_SEND_TIME = -(2**31)  # `after_ms` of an event without `sent_at`
_MS_LIMIT = 2**31 - 1
_LITTLE = sys.byteorder == "little"


def record_key(event_id: str) -> str:
    """An id as it is up to KEPT_ID_BYTES of UTF-8, else a digest of it (41 characters,
    never equal to a kept id). States of version 1 kept these; version 2 keeps digest64 of
    them, so ids read from either version compare equal."""
    raw = event_id.encode()
    if len(raw) <= KEPT_ID_BYTES:
        return event_id
    return "#" + hashlib.blake2b(raw, digest_size=20).hexdigest()


def digest64(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def digest32(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big")


def event_key(event_id: str) -> int:
    """What a state keeps of an event id: 64 bits (two ids of one lead collide with
    odds of about 1 in 10^13 at 1,000 records)."""
    return digest64(record_key(event_id))


def message_key(message_id: str) -> int:
    """What a record keeps of an email's message id: 32 bits, only ever compared among one
    lead's clicks within a burst window."""
    return digest32(record_key(message_id))


def after_send_ms(seconds: float | None) -> int:
    """Milliseconds from the send to the open or click, clamped to 32 bits."""
    if seconds is None:
        return NO_SEND_TIME
    return max(-_MS_LIMIT, min(_MS_LIMIT, int(seconds * 1000 // 1)))


class Record(NamedTuple):
    """One applied event as a lead keeps it."""

    at: int  # occurred_at, integer microseconds since the epoch
    event: int  # event_key(event_id)
    kind: str  # the event type; social.<action>, email.bounced.<bounce_type>
    flags: int = 0  # SCANNER | BURST
    message: int = 0  # message_key of an email's message id, or of a page in its session
    after_ms: int = NO_SEND_TIME  # an email's open, click or unsubscribe after sent_at


class RecordLog:
    """Records ordered by (at, event), as typed arrays; the ids also sorted on their own."""

    __slots__ = ("after_ms", "at", "event", "flags", "ids", "kind", "message")

    def __init__(self) -> None:
        self.at = array("q")
        self.event = array("Q")
        self.kind = array("B")
        self.flags = array("B")
        self.message = array("I")
        self.after_ms = array("i")
        self.ids = array("Q")  # `event`, sorted: dedupe by binary search

    def __len__(self) -> int:
        return len(self.at)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RecordLog) and self._arrays() == other._arrays()

    def __contains__(self, event: int) -> bool:
        ids = self.ids
        i = bisect_left(ids, event)
        return i < len(ids) and ids[i] == event

    def __getitem__(self, i: int) -> Record:
        return Record(
            self.at[i],
            self.event[i],
            KINDS[self.kind[i]],
            self.flags[i],
            self.message[i],
            self.after_ms[i],
        )

    def __iter__(self) -> Iterator[Record]:
        return (self[i] for i in range(len(self.at)))

    def find(self, at: int, event: int) -> int | None:
        """The index of the record (at, event), or None."""
        i = self.index_of(at, event)
        if i < len(self.at) and self.at[i] == at and self.event[i] == event:
            return i
        return None

    def index_of(self, at: int, event: int) -> int:
        """Where (at, event) is or would go: binary search on time, then among equal times."""
        i = bisect_left(self.at, at)
        end = bisect_right(self.at, at, i)
        while i < end and self.event[i] < event:
            i += 1
        return i

    def between(self, lo: float, hi: float) -> range:
        """Indexes of the records with lo <= at <= hi."""
        return range(bisect_left(self.at, lo), bisect_right(self.at, hi))

    def oldest(self) -> tuple[int, int] | None:
        return (self.at[0], self.event[0]) if self.at else None

    def newest_at(self) -> int | None:
        return self.at[-1] if self.at else None

    def insert(self, rec: Record) -> int:
        i = self.index_of(rec.at, rec.event)
        self.at.insert(i, rec.at)
        self.event.insert(i, rec.event)
        self.kind.insert(i, KIND_CODES[rec.kind])
        self.flags.insert(i, rec.flags)
        self.message.insert(i, rec.message)
        self.after_ms.insert(i, rec.after_ms)
        insort(self.ids, rec.event)
        return i

    def pop(self, i: int) -> Record:
        rec = self[i]
        for column in (self.at, self.event, self.kind, self.flags, self.message, self.after_ms):
            del column[i]
        del self.ids[bisect_left(self.ids, rec.event)]
        return rec

    def keep_after(self, cut: int) -> None:
        """Drop every record at or before `cut` (erasure)."""
        start = bisect_right(self.at, cut)
        for column in (self.at, self.event, self.kind, self.flags, self.message, self.after_ms):
            del column[:start]
        self.ids = array("Q", sorted(self.event))

    def _arrays(self) -> tuple[array[int], ...]:
        return (self.at, self.event, self.kind, self.flags, self.message, self.after_ms)

    def columns(self) -> list[array[int]]:
        """The columns, little-endian, in their stored order. The sorted ids are stored
        too: 8 bytes per record cost less than sorting them again on every decode."""
        columns = [*self._arrays(), self.ids]
        return columns if _LITTLE else [_swapped(c) for c in columns]

    @classmethod
    def from_buffer(cls, raw: memoryview, count: int) -> RecordLog:
        """The `count` records stored by `columns()` at the start of `raw` (which holds
        exactly them): one copy into the arrays, no per-record work."""
        log = cls()
        offset = 0
        for column in (*log._arrays(), log.ids):
            size = count * column.itemsize
            column.frombytes(raw[offset : offset + size])
            offset += size
            if not _LITTLE:
                column.byteswap()
        if offset != len(raw):
            raise ValueError(f"records: {len(raw)} bytes for {count} records")
        return log


def _swapped(column: array[int]) -> array[int]:
    copy = array(column.typecode, column)
    copy.byteswap()
    return copy
