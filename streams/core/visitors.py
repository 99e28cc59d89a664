"""Visitors not yet known: their page views held until a link names their lead.

A visitor is a cookie (`anonymous_id`). Its views come keyed by it, so they reach the
partition that owns the visitor, not the lead's. `visit` holds them (the newest
`max_views`); `identity.linked` names the lead, and from then on every view, those held
and those to come, is forwarded to the lead's partition with the lead's id set and its own
event id and time kept. The lead applies them like any view (deduplicated by event id), so
it scores as if they had carried its id from the start, whatever the order of link and
views. The link itself is forwarded too: the lead keeps its profile fields and learns the
visitor, so that its erasure reaches the views held here (`forget`).

Crash safety without an outbox: forwarding is a function of the visitor's state and the
event, so a redelivered message forwards again (a view of a linked visitor, or the very
link that named the lead, which forwards all held views again). The lead counts each view
once. docs/visitors.md tells the long story.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import msgpack
import orjson

from schemas.codec import encode
from schemas.events import IdentityLinked, PageViewed
from streams.core.apply import to_us
from streams.core.records import event_key

VERSION = 1

VisitOutcome = Literal["held", "forwarded", "linked", "duplicate", "conflict"]


class HeldView(NamedTuple):
    at: int  # occurred_at, microseconds since the epoch
    event: int  # records.event_key of its event id
    view: bytes  # the view as JSON (schemas.codec.encode), lead_id not set


@dataclass(slots=True)
class VisitorState:
    anonymous_id: str
    views: list[HeldView] = field(default_factory=list)  # by (at, event), newest last
    lead_id: str | None = None  # the lead it is linked to
    link_event: int | None = None  # event key of the link that named the lead
    linked_at: int | None = None  # that link's occurred_at
    seen_us: int = 0  # newest event time seen: a visitor gone quiet expires

    def to_bytes(self) -> bytes:
        header = [
            self.anonymous_id,
            self.lead_id,
            self.link_event,
            self.linked_at,
            self.seen_us,
            [list(v) for v in self.views],
        ]
        packed: bytes = msgpack.packb(header, use_bin_type=True)
        return bytes((VERSION,)) + packed

    @classmethod
    def from_bytes(cls, raw: bytes) -> VisitorState:
        if raw[:1] != bytes((VERSION,)):
            raise ValueError(f"visitor state version {raw[0] if raw else None} is not known")
        anonymous_id, lead_id, link_event, linked_at, seen_us, views = msgpack.unpackb(
            raw[1:], raw=False
        )
        held = [HeldView(at, event, view) for at, event, view in views]
        return cls(anonymous_id, held, lead_id, link_event, linked_at, seen_us)


@dataclass(slots=True)
class Visit:
    """What one visitor event decided: forward these (lead id, event JSON) to the leads'
    partitions; store the state when `changed`."""

    outcome: VisitOutcome
    forward: list[tuple[str, bytes]] = field(default_factory=list)
    changed: bool = False
    dropped: int = 0  # held views dropped beyond the bound (the oldest)


def visit(state: VisitorState, event: PageViewed | IdentityLinked, max_views: int) -> Visit:
    """Apply an anonymous page view or a link to the visitor `state` (in place)."""
    at = to_us(event.occurred_at)
    seen = at > state.seen_us
    state.seen_us = max(state.seen_us, at)
    if isinstance(event, IdentityLinked):
        return _link(state, event, at)
    if state.lead_id is not None:
        return Visit("forwarded", [_forwarded(state.lead_id, encode(event))], changed=seen)
    key = event_key(event.event_id)
    if any(v.event == key for v in state.views):
        return Visit("duplicate", changed=seen)
    insort(state.views, HeldView(at, key, encode(event)))
    dropped = max(0, len(state.views) - max_views)
    del state.views[:dropped]
    return Visit("held", changed=True, dropped=dropped)


def _link(state: VisitorState, link: IdentityLinked, at: int) -> Visit:
    key = event_key(link.event_id)
    this = (link.lead_id, encode(link))  # the link reaches the lead in every case
    if state.lead_id is None:
        state.lead_id, state.link_event, state.linked_at = link.lead_id, key, at
        return Visit("linked", [this, *_held(state)], changed=True)
    if state.lead_id != link.lead_id:
        # A visitor is one lead's: the first link wins (a shared browser's later user
        # keeps their own profile fields, not the earlier one's views).
        return Visit("conflict", [this], changed=True)
    if key == state.link_event:  # the naming link again: its forwards may have been lost
        return Visit("duplicate", [this, *_held(state)], changed=True)
    return Visit("linked", [this], changed=True)


def _held(state: VisitorState) -> list[tuple[str, bytes]]:
    lead_id = state.lead_id
    assert lead_id is not None
    return [_forwarded(lead_id, v.view) for v in state.views]


def _forwarded(lead_id: str, view: bytes) -> tuple[str, bytes]:
    doc = orjson.loads(view)
    doc["lead_id"] = lead_id
    return lead_id, orjson.dumps(doc)


def forget(state: VisitorState, lead_id: str, erased_at: int) -> int:
    """The lead `lead_id` was erased at `erased_at`: drop the views held for it (dated at
    or before the erasure) and its link. Returns how many views went. A visitor linked to
    another lead keeps its views: they are that lead's."""
    if state.lead_id not in (None, lead_id):
        return 0
    kept = [v for v in state.views if v.at > erased_at]
    gone = len(state.views) - len(kept)
    state.views = kept
    if state.lead_id is not None and (state.linked_at or 0) <= erased_at:
        state.lead_id = state.link_event = state.linked_at = None
    return gone


def expire(state: VisitorState, now_us: int, max_age_us: int) -> tuple[int, bool]:
    """Drop views older than `max_age_us` at `now_us`. Returns (views dropped, whether
    the whole visitor is gone: nothing held and nothing seen within the age)."""
    cut = now_us - max_age_us
    kept = [v for v in state.views if v.at >= cut]
    dropped = len(state.views) - len(kept)
    state.views = kept
    return dropped, not kept and state.seen_us < cut


def is_forget(doc: object) -> bool:
    """A forget command (the lead's partition to the visitor's), as sent by `forget_command`."""
    return isinstance(doc, dict) and doc.get("type") == FORGET_TYPE


FORGET_TYPE = "visitor.forget"


def forget_command(anonymous_id: str, lead_id: str, erased_at: int) -> bytes:
    return orjson.dumps(
        {
            "type": FORGET_TYPE,
            "anonymous_id": anonymous_id,
            "lead_id": lead_id,
            "erased_at": erased_at,
        }
    )
