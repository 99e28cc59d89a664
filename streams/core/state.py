"""Per-lead state: what the table stores for each lead.

The state keeps the facts (recent event records, last-writer-wins profile fields, sticky
signals) and exact sums derived from them, so that the score is a function of the *set*
of events: the same events in any order, or twice, give the same state bytes. Times are
integer microseconds since the Unix epoch; ids are kept as 64-bit digests.

Encoding (docs/state.md): a version byte, the length of a msgpack header, the header, then
the records' columns raw. Version 2 is today's; version 1 (the JSON states of earlier
releases) is read and upgraded on first touch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgpack
import orjson

from streams.core import records as rec
from streams.core.decay import from_bytes as sum_from_bytes
from streams.core.decay import to_bytes as sum_to_bytes
from streams.core.records import RecordLog

VERSION = 2

# Profile fields, by code (the code is what a state stores: append, never reorder).
PROFILE_FIELDS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "company_size",
    "industry",
    "country",
    "budget",
    "authority",
    "need",
    "timeline",
    "outcome",
    "account_id",
)
_FIELD_CODES = {name: code for code, name in enumerate(PROFILE_FIELDS)}


class Stamped(NamedTuple):
    """A profile field with its writer: (occurred_at, event) orders writers."""

    value: Any
    occurred_at_us: int
    event: int  # records.event_key of the writing event


class Position(NamedTuple):
    """Where a message was read. Its redelivery after a crash has the same position; a
    re-send of the same event (a producer's retry) is a new message with a new one."""

    topic: str
    partition: int
    offset: int


class Sent(NamedTuple):
    """An alert in a lead's outbox, with the event (event key) and the message that
    caused it."""

    cause: int
    alert: dict[str, Any]  # the alert as JSON
    position: Position | None = None


class Published(NamedTuple):
    """What a lead last published: enough to tell a change and to publish it again."""

    digest: bytes  # of the score's published fields (scoring.Card.digest)
    score: int
    as_of_us: int | None  # the time it was scored as of (None: its newest event)


@dataclass(slots=True)
class AlertArm:
    """Per threshold: is an alert armed, and how many crossings have fired (for alert ids)."""

    armed: bool = True
    fired: int = 0


@dataclass(slots=True)
class Tally:
    """Engagement sums kept record by record (engagement.py), under the rules of `key`."""

    key: int = 0  # EngagementRules.key the sums were built with (0: to build)
    sums: dict[str, int] = field(default_factory=dict)  # activity -> fixed-point weights
    machine: int = 0  # activity records judged machine-made


@dataclass(slots=True)
class LeadState:
    lead_id: str
    records: RecordLog = field(default_factory=RecordLog)
    profile: dict[str, Stamped] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)  # sticky signal -> newest time seen
    evicted: int = 0  # records dropped beyond the dedupe window, still counted
    evicted_from: int | None = None  # the oldest time among them (an erasure's reach)
    erased_at: int | None = None  # erasure marker: events at or before it are ignored
    recycled_at: int | None = None  # recycling marker: engagement at or before it is not counted
    alerts: dict[str, AlertArm] = field(default_factory=dict)
    published: Published | None = None
    # Crash recovery (docs/delivery.md): the state can reach the table while the outputs
    # buffered with it are lost, and the redelivered message is then a duplicate. Its
    # outputs are published again only when it is the very message that applied the event:
    # the last one (`last_event` at `last_position`: the current score), or one whose
    # alerts are in the outbox.
    last_event: int | None = None  # event key of the last event applied (erasures excepted)
    last_position: Position | None = None  # the message that applied it (erasures: none)
    outbox: list[Sent] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    # Anonymous visitor ids seen linked to the lead -> the newest time an event named
    # them: its erasure reaches them, and keeps those named after it.
    visitors: dict[str, int] = field(default_factory=dict)
    # The account the last event moved the lead out of: the redelivery of that event sends
    # its removal again (docs/accounts.md). Never kept by an erasure's marker.
    left_account: str | None = None

    @property
    def last_event_us(self) -> int | None:
        newest = self.records.newest_at()
        if self.signals:
            signal = max(self.signals.values())
            newest = signal if newest is None or signal > newest else newest
        if self.profile:
            field_ = max(s.occurred_at_us for s in self.profile.values())
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
        """Canonical bytes: maps in key order, so equal states give equal bytes."""
        stamps = sorted({(s.occurred_at_us, s.event) for s in self.profile.values()})
        stamp_index = {s: i for i, s in enumerate(stamps)}
        profile = sorted(
            (_FIELD_CODES[name], s.value, stamp_index[s.occurred_at_us, s.event])
            for name, s in self.profile.items()
        )
        header = [
            self.lead_id,
            len(self.records),
            stamps,
            profile,
            sorted(self.signals.items()),
            self.evicted,
            self.erased_at,
            sorted((name, a.armed, a.fired) for name, a in self.alerts.items()),
            None if self.published is None else list(self.published),
            self.last_event,
            _listed(self.last_position),
            [[s.cause, _pack_alert(s.alert), _listed(s.position)] for s in self.outbox],
            [
                self.tally.key,
                sorted((rec.KIND_CODES[k], sum_to_bytes(v)) for k, v in self.tally.sums.items()),
                self.tally.machine,
            ],
            self.recycled_at,  # fields are appended: older headers stop before them
            sorted(self.visitors.items()),
            self.left_account,
            self.evicted_from,
        ]
        packed: bytes = msgpack.packb(header, use_bin_type=True)
        # The records' columns follow the header raw: encoding and decoding them is one
        # copy each way, however many there are.
        size = len(packed).to_bytes(4, "little")
        return b"".join([bytes((VERSION,)), size, packed, *self.records.columns()])

    @classmethod
    def from_bytes(cls, raw: bytes) -> LeadState:
        if raw[:1] == b"{":
            return _upgrade_v1(orjson.loads(raw))
        if raw[:1] != bytes((VERSION,)):
            raise ValueError(f"lead state version {raw[0] if raw else None} is not known")
        view = memoryview(raw)
        end = 5 + int.from_bytes(view[1:5], "little")
        (
            lead_id,
            count,
            stamps,
            profile,
            signals,
            evicted,
            erased_at,
            alerts,
            published,
            last_event,
            last_position,
            outbox,
            (key, sums, machine),
            recycled_at,
            visitors,
            left_account,
            evicted_from,
        ) = _padded(msgpack.unpackb(view[5:end], raw=False, strict_map_key=False))
        return cls(
            lead_id=lead_id,
            records=RecordLog.from_buffer(view[end:], count),
            profile={
                PROFILE_FIELDS[code]: Stamped(value, *stamps[i]) for code, value, i in profile
            },
            signals=dict(signals),
            evicted=evicted,
            evicted_from=evicted_from,
            erased_at=erased_at,
            recycled_at=recycled_at,
            alerts={name: AlertArm(armed, fired) for name, armed, fired in alerts},
            published=None if published is None else Published(*published),
            last_event=last_event,
            last_position=_position(last_position),
            outbox=[Sent(cause, _unpack_alert(row), _position(p)) for cause, row, p in outbox],
            tally=Tally(key, {rec.KINDS[c]: sum_from_bytes(b) for c, b in sums}, machine),
            visitors=_visitors(visitors),
            left_account=left_account,
        )


# An alert in the outbox is kept as a row of its fields (half the bytes of its JSON).
_ALERT_FIELDS = (
    "alert_id",
    "lead_id",
    "threshold",
    "level",
    "score",
    "previous_score",
    "factors",
    "contact",
    "occurred_at",
    "emitted_at",
    "contactable",  # appended: rows stored before it have one field less
)
_CONTACT_FIELDS = ("name", "email", "company", "job_title")


def _pack_alert(alert: dict[str, Any]) -> list[Any]:
    alert = {"contactable": True, **alert}  # alerts stored before the field existed
    if alert.keys() != set(_ALERT_FIELDS):  # schemas.outputs.Alert changed: a new VERSION
        raise ValueError(f"alert fields {sorted(alert)} are not {sorted(_ALERT_FIELDS)}")
    packed = {
        **alert,
        "factors": [[f["factor"], f["points"]] for f in alert["factors"]],
        "contact": [alert["contact"][name] for name in _CONTACT_FIELDS],
    }
    return [packed[name] for name in _ALERT_FIELDS]


def _unpack_alert(row: list[Any]) -> dict[str, Any]:
    if len(row) == len(_ALERT_FIELDS) - 1:
        row = [*row, True]  # stored before alerts said whether the lead is contactable
    alert = dict(zip(_ALERT_FIELDS, row, strict=True))
    alert["factors"] = [{"factor": name, "points": points} for name, points in alert["factors"]]
    alert["contact"] = dict(zip(_CONTACT_FIELDS, alert["contact"], strict=True))
    return alert


# Header fields appended since version 2 first shipped, with their values in older states.
_APPENDED: tuple[Any, ...] = (None, [], None, None)  # recycled_at ... evicted_from
_HEADER_FIELDS = 17


def _padded(header: list[Any]) -> list[Any]:
    missing = _HEADER_FIELDS - len(header)
    if not 0 <= missing <= len(_APPENDED):
        raise ValueError(f"lead state header has {len(header)} fields")
    return header + list(_APPENDED[len(_APPENDED) - missing :])


def _visitors(rows: list[Any]) -> dict[str, int]:
    """Visitor id -> newest time named; states written before the times were kept list
    bare ids (time 0: the next erasure forgets them, as it did then)."""
    return {row: 0 for row in rows} if rows and isinstance(rows[0], str) else dict(rows)


def _listed(position: Position | None) -> list[Any] | None:
    return None if position is None else list(position)


def _position(value: list[Any] | None) -> Position | None:
    return None if value is None else Position(*value)


def _upgrade_v1(d: dict[str, Any]) -> LeadState:
    """A state written by releases before version 2 (JSON, full ids, records as a dict).

    Ids become the digests version 2 keeps (records.digest64 of the kept record key, so
    a duplicate of an event applied before the upgrade is still known). The engagement
    sums are left to build (Tally key 0) on first use with the model then in force.
    """
    log = RecordLog()
    for key, r in d["records"].items():
        at, kind, message, after, scanner = (*r, None, None, False)[:5]
        log.insert(
            rec.Record(
                at=at,
                event=rec.digest64(key),
                kind=kind,
                flags=rec.SCANNER if scanner else 0,
                message=0 if message is None else rec.digest32(message),
                after_ms=rec.after_send_ms(after),
            )
        )
    published = d.get("published")
    return LeadState(
        lead_id=d["lead_id"],
        records=log,
        profile={
            name: Stamped(value, at, rec.event_key(event_id))
            for name, (value, at, event_id) in d["profile"].items()
        },
        signals=d["signals"],
        evicted=d["evicted"],
        erased_at=d["erased_at"],
        alerts={k: AlertArm(**v) for k, v in d["alerts"].items()},
        published=None
        if published is None
        else Published(published_digest(published), published["score"], None),
        last_event=None if d.get("last_event") is None else rec.digest64(d["last_event"]),
        last_position=_position(d.get("last_position")),
        outbox=[
            Sent(rec.digest64(s[0]), s[1], _position(s[2] if len(s) > 2 else None))
            for s in d.get("outbox", [])
        ],
    )


def published_digest(published: dict[str, Any]) -> bytes:
    """8-byte digest of a score's published fields (change detection)."""
    return hashlib.blake2b(orjson.dumps(published), digest_size=8).digest()
