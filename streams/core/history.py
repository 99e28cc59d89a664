"""A lead's score history: its last HISTORY_SIZE score changes, with their causes.

A row is written when a published score differs from the last row in score, stage or
grade; an update that only counts one more event is not a change a person reads.

The history is kept beside the lead's state (the worker's `history` table, same key and
partition), not inside it: the state is a function of the *set* of events (the same events
in any order give the same bytes, docs/state.md), while the history is the order in which
scores were published, which depends on the order of arrival. An erasure deletes it with
the state (guarantee 6). Encoding: msgpack rows, oldest first.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import msgpack

from schemas.events import InputEvent, LeadRecycled
from schemas.outputs import ScoreUpdate
from streams.core.apply import from_us, to_us

HISTORY_SIZE = 50
Cause = Literal["event", "decay", "model", "recycling"]
# The reason a rescore command carries (streams/app/worker.py) -> the history's cause.
RESCORE_CAUSES: dict[str, Cause] = {"decay sweep": "decay", "new model": "model"}


class Change(NamedTuple):
    """One published change of a lead's score."""

    changed_at_us: int  # when it was published (the update's updated_at)
    score: int
    stage: str
    grade: str
    cause: Cause
    event_type: str | None = None  # the event that caused it (cause "event" or "recycling")
    event_id: str | None = None
    occurred_at_us: int | None = None  # that event's time

    def same_as(self, other: Change) -> bool:
        """No change for a person: the same score, stage and grade (a published update that
        moved only its event count, or one published again after a crash)."""
        return (self.score, self.stage, self.grade) == (other.score, other.stage, other.grade)

    def as_json(self) -> dict[str, object]:
        occurred = self.occurred_at_us
        return {
            "changed_at": from_us(self.changed_at_us).isoformat(),
            "score": self.score,
            "stage": self.stage,
            "grade": self.grade,
            "cause": self.cause,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "occurred_at": None if occurred is None else from_us(occurred).isoformat(),
        }


def change(update: ScoreUpdate, event: InputEvent | None, rescore_reason: str | None) -> Change:
    """The history row of a published score: caused by `event`, else by a rescore."""
    if event is None:
        cause = RESCORE_CAUSES.get(rescore_reason or "", "decay")
        return Change(to_us(update.updated_at), update.score, update.stage, update.grade, cause)
    return Change(
        changed_at_us=to_us(update.updated_at),
        score=update.score,
        stage=update.stage,
        grade=update.grade,
        cause="recycling" if isinstance(event, LeadRecycled) else "event",
        event_type=event.type,
        event_id=event.event_id,
        occurred_at_us=to_us(event.occurred_at),
    )


def record(raw: bytes | None, new: Change) -> bytes | None:
    """The history `raw` with `new` appended (the oldest dropped beyond HISTORY_SIZE);
    None when `new` changes nothing a person reads (nothing to write)."""
    changes = decode(raw)
    if changes and changes[-1].same_as(new):
        return None
    return encode([*changes[-(HISTORY_SIZE - 1) :], new])


def encode(changes: list[Change]) -> bytes:
    packed: bytes = msgpack.packb([list(c) for c in changes], use_bin_type=True)
    return packed


def decode(raw: bytes | None) -> list[Change]:
    if not raw:
        return []
    return [Change(*row) for row in msgpack.unpackb(raw, raw=False)]
