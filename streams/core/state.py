"""Per-lead state: what the table stores for each lead.

The state keeps the facts (recent event records, last-writer-wins profile
fields, sticky signals) rather than running totals, so that the score is a
function of the *set* of events: the same events in any order, or twice, give
the same state. Times are integer microseconds since the Unix epoch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

# A profile field: [value, occurred_at_us, event_id]; (occurred_at, event_id) orders writers.
Stamped = list[Any]
# An event record: [occurred_at_us, kind, message_id, seconds_after_send, scanner_agent]
Record = list[Any]

R_TS, R_KIND, R_MESSAGE, R_AFTER_SEND, R_SCANNER = range(5)


@dataclass(slots=True)
class AlertArm:
    """Per threshold: is an alert armed, and how many crossings have fired (for alert ids)."""

    armed: bool = True
    fired: int = 0


@dataclass(slots=True)
class LeadState:
    lead_id: str
    records: dict[str, Record] = field(default_factory=dict)  # event_id -> record
    profile: dict[str, Stamped] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)  # sticky signal -> newest time seen
    evicted: int = 0  # records dropped beyond the dedupe window, still counted
    erased_at: int | None = None  # erasure marker: events at or before it are ignored
    alerts: dict[str, AlertArm] = field(default_factory=dict)
    published: dict[str, Any] | None = None  # last published score fields (change detection)

    @property
    def last_event_us(self) -> int | None:
        times = [r[R_TS] for r in self.records.values()]
        times.extend(self.signals.values())
        times.extend(v[1] for v in self.profile.values())
        return max(times) if times else None

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
        )
