"""Per-lead state: what the table stores for each lead.

The state keeps the facts (recent event records, last-writer-wins profile
fields, sticky signals) rather than running totals, so that the score is a
function of the *set* of events: the same events in any order, or twice, give
the same state. Times are integer microseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

# A profile field: [value, occurred_at_us, event_id]; (occurred_at, event_id) orders writers.
Stamped = list[Any]
# An event record: [occurred_at_us, kind, record_key(message_id), seconds_after_send, scanner_agent]
Record = list[Any]

R_TS, R_KIND, R_MESSAGE, R_AFTER_SEND, R_SCANNER = range(5)
_ts = itemgetter(R_TS)
_stamp_ts = itemgetter(1)


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
    # Crash recovery: the state can reach the table (its local store or changelog) while the
    # outputs buffered with it are lost, and the replayed event is then a duplicate. A
    # duplicate of `last_event` re-publishes the current score; the outbox keeps the lead's
    # latest alerts with the event that caused each, to re-publish on a duplicate of it.
    last_event: str | None = None  # record key of the last event applied (erasures excepted)
    outbox: list[list[Any]] = field(default_factory=list)  # [cause's record key, alert as JSON]

    @property
    def last_event_us(self) -> int | None:
        newest = max(map(_ts, self.records.values()), default=None)
        if self.signals:
            signal = max(self.signals.values())
            newest = signal if newest is None or signal > newest else newest
        if self.profile:
            field_ = max(map(_stamp_ts, self.profile.values()))
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
        return orjson.dumps(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadState:
        d = orjson.loads(raw)
        return cls(
            lead_id=d["lead_id"],
            records=d["records"],
            profile=d["profile"],
            signals=d["signals"],
            evicted=d["evicted"],
            erased_at=d["erased_at"],
            alerts={k: AlertArm(**v) for k, v in d["alerts"].items()},
            published=d["published"],
            last_event=d.get("last_event"),  # absent in states written before they existed
            outbox=d.get("outbox", []),
        )
