"""Per-lead state: what the table stores for each lead.

The state keeps the facts (recent event records, last-writer-wins profile
fields, sticky signals) rather than running totals, so that the score is a
function of the *set* of events: the same events in any order, or twice, give
the same state. Times are integer microseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

import orjson


class Stamped(NamedTuple):
    """A profile field with its writer: (occurred_at, event_id) orders writers."""

    value: Any
    occurred_at_us: int
    event_id: str


class Position(NamedTuple):
    """Where a message was read. Its redelivery after a crash has the same position; a
    re-send of the same event (a producer's retry) is a new message with a new one."""

    topic: str
    partition: int
    offset: int


class Sent(NamedTuple):
    """An alert in a lead's outbox, with the event (record key) and the message that
    caused it."""

    cause: str
    alert: dict[str, Any]  # the alert as JSON
    position: Position | None = None


class Record(NamedTuple):
    """What a lead keeps of one applied event (its key in `records` is the event id)."""

    occurred_at_us: int
    kind: str  # the event type; social interactions as social.<action>
    message: str | None = None  # record_key(message_id) of an email's open or click
    seconds_after_send: float | None = None  # an email's open or click after sent_at
    scanner_agent: bool = False  # opened or clicked by a known link scanner's user agent


_ts = attrgetter("occurred_at_us")


def _as_list(value: Any) -> Any:
    """orjson writes no NamedTuple: records and stamped fields go out as JSON arrays."""
    if isinstance(value, tuple):
        return list(value)
    raise TypeError


@dataclass(slots=True)
class AlertArm:
    """Per threshold: is an alert armed, and how many crossings have fired (for alert ids)."""

    armed: bool = True
    fired: int = 0


@dataclass(slots=True)
class LeadState:
    lead_id: str
    records: dict[str, Record] = field(default_factory=dict)  # record_key(event_id) -> record
    profile: dict[str, Stamped] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)  # sticky signal -> newest time seen
    evicted: int = 0  # records dropped beyond the dedupe window, still counted
    erased_at: int | None = None  # erasure marker: events at or before it are ignored
    alerts: dict[str, AlertArm] = field(default_factory=dict)
    published: dict[str, Any] | None = None  # last published score fields (change detection)
    # Crash recovery (docs/delivery.md): the state can reach the table while the outputs
    # buffered with it are lost, and the redelivered message is then a duplicate. Its
    # outputs are published again only when it is the very message that applied the event:
    # the last one (`last_event` at `last_position`: the current score), or one whose
    # alerts are in the outbox.
    last_event: str | None = None  # record key of the last event applied (erasures excepted)
    last_position: Position | None = None  # the message that applied it (erasures: none)
    outbox: list[Sent] = field(default_factory=list)

    @property
    def last_event_us(self) -> int | None:
        newest = max(map(_ts, self.records.values()), default=None)
        if self.signals:
            signal = max(self.signals.values())
            newest = signal if newest is None or signal > newest else newest
        if self.profile:
            field_ = max(map(_ts, self.profile.values()))
            newest = field_ if newest is None or field_ > newest else newest
        return newest

    @property
    def events_counted(self) -> int:
        return len(self.records) + self.evicted

    @property
    def is_marker_only(self) -> bool:
        """An erased lead with nothing after the erasure: no score, no personal data."""
        return not self.records and not self.profile and not self.signals

    def to_bytes(self) -> bytes:
        return orjson.dumps(self, default=_as_list)

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadState:
        d = orjson.loads(raw)
        outbox = d.get("outbox", [])  # absent, or without positions, in older states
        return cls(
            lead_id=d["lead_id"],
            records={k: Record(*r) for k, r in d["records"].items()},
            profile={k: Stamped(*v) for k, v in d["profile"].items()},
            signals=d["signals"],
            evicted=d["evicted"],
            erased_at=d["erased_at"],
            alerts={k: AlertArm(**v) for k, v in d["alerts"].items()},
            published=d["published"],
            last_event=d.get("last_event"),  # absent in states written before they existed
            last_position=_position(d.get("last_position")),
            outbox=[Sent(s[0], s[1], _position(s[2] if len(s) > 2 else None)) for s in outbox],
        )


def _position(value: list[Any] | None) -> Position | None:
    return None if value is None else Position(*value)
