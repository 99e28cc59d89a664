"""Applying one validated event to a lead's state.

Idempotent (an event id already held is a duplicate), order-independent
(records form a set, profile fields are last-writer-wins by
(occurred_at, event_id), signals are sticky) and erasure-aware.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from schemas.events import (
    EmailClicked,
    EmailOpened,
    FormSubmitted,
    InputEvent,
    LeadErased,
    LeadOutcome,
    LeadVerified,
    Signup,
    SocialInteraction,
)
from streams.core.model import ScoringModel
from streams.core.state import LeadState, Record, Stamped

Outcome = Literal["applied", "duplicate", "stale", "ignored_erased"]

# Guarantee 2: at least this many recent event ids per lead are remembered.
DEDUPE_WINDOW = 1000
KEPT_ID_BYTES = 40  # longer event and message ids are kept as digests (record_key)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(ts: datetime) -> int:
    """Exact integer microseconds since the epoch (floats would break ties)."""
    return (ts - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def too_far_ahead(event: InputEvent, reference_us: int, max_skew_us: int) -> str | None:
    """Guarantee 8: why `event` is refused when it is dated more than `max_skew_us` after
    `reference_us` (the worker: its message's broker timestamp; offline: the run's time),
    else None. One bad clock must not become the time a lead's other events decay against.
    """
    ahead = to_us(event.occurred_at) - reference_us
    if ahead <= max_skew_us:
        return None
    hours = 3_600_000_000
    return (
        f"occurred_at is {ahead / hours:,.1f} h after the message's timestamp "
        f"(allowed: {max_skew_us / hours:g} h)"
    )


def apply_event(state: LeadState, event: InputEvent, model: ScoringModel) -> Outcome:
    """Apply `event` to `state` in place and say what happened to it."""
    ts = to_us(event.occurred_at)
    if state.erased_at is not None and ts <= state.erased_at:
        return "ignored_erased"
    key = record_key(event.event_id)
    if key in state.records:
        return "duplicate"
    if isinstance(event, LeadErased):
        erase(state, ts)
        return "applied"
    if _older_than_window(state, ts, key):
        return "stale"
    state.records[key] = _record(event, ts, model)
    _update_profile(state, event, ts, model)
    _evict(state)
    return "applied"


def record_key(event_id: str) -> str:
    """How an id is kept in the state: as it is up to KEPT_ID_BYTES of UTF-8, else as a
    digest (41 characters, so never equal to a kept id).

    A lead's state is one changelog record, and Kafka refuses records over 1 MB (Faust's
    producer: 1,000,000 bytes). A full dedupe window of the longest valid ids (128
    characters of 4 bytes each) as event and message ids would be ~1.06 MB, and the worker
    would crash on the write; with digests it stays under 150 KB.
    """
    raw = event_id.encode()
    if len(raw) <= KEPT_ID_BYTES:
        return event_id
    return "#" + hashlib.blake2b(raw, digest_size=20).hexdigest()


def erase(state: LeadState, ts: int) -> None:
    """Forget everything at or before `ts`; keep only the marker (and any newer facts)."""
    state.erased_at = ts if state.erased_at is None else max(state.erased_at, ts)
    cut = state.erased_at
    state.records = {k: r for k, r in state.records.items() if r.occurred_at_us > cut}
    state.profile = {k: v for k, v in state.profile.items() if v.occurred_at_us > cut}
    state.signals = {k: t for k, t in state.signals.items() if t > cut}
    state.evicted = 0
    state.alerts = {}
    state.published = None
    state.last_event = None
    state.outbox = []  # alerts carry contact details


def _older_than_window(state: LeadState, ts: int, event_id: str) -> bool:
    if len(state.records) < DEDUPE_WINDOW:
        return False
    oldest = min((r.occurred_at_us, eid) for eid, r in state.records.items())
    return (ts, event_id) < oldest


def _evict(state: LeadState) -> None:
    while len(state.records) > DEDUPE_WINDOW:
        _, oldest = min((r.occurred_at_us, eid) for eid, r in state.records.items())
        del state.records[oldest]
        state.evicted += 1


def _record(event: InputEvent, ts: int, model: ScoringModel) -> Record:
    if isinstance(event, EmailOpened | EmailClicked):
        after_send = None
        if event.sent_at is not None:
            after_send = (event.occurred_at - event.sent_at).total_seconds()
        message = None if event.message_id is None else record_key(event.message_id)
        return Record(ts, event.type, message, after_send, _is_scanner(event.user_agent, model))
    if isinstance(event, SocialInteraction):
        return Record(ts, f"social.{event.action}")
    return Record(ts, event.type)


def _is_scanner(user_agent: str | None, model: ScoringModel) -> bool:
    if not user_agent:
        return False
    return model.is_scanner_agent(user_agent)


def _update_profile(state: LeadState, event: InputEvent, ts: int, model: ScoringModel) -> None:
    eid = event.event_id
    if isinstance(event, Signup):
        _set_fields(
            state,
            ts,
            eid,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
        )
    elif isinstance(event, FormSubmitted):
        _apply_form(state, event, ts, model)
    elif isinstance(event, LeadVerified):
        _signal(state, "verified", ts)
    elif isinstance(event, LeadOutcome):
        _set_fields(state, ts, eid, outcome=event.outcome)


def _apply_form(state: LeadState, form: FormSubmitted, ts: int, model: ScoringModel) -> None:
    fields: dict[str, Any] = {
        "email": form.email,
        "first_name": form.first_name,
        "last_name": form.last_name,
        "company": form.company,
        "job_title": form.job_title,
        "company_size": form.company_size,
        "industry": form.industry,
        "country": form.country,
    }
    if form.answers is not None:
        a = form.answers
        fields.update(
            budget=a.budget, authority=a.authority, need=a.need or None, timeline=a.timeline
        )
    _set_fields(state, ts, form.event_id, **fields)
    if form.honeypot and form.honeypot.strip():
        _signal(state, "honeypot", ts)
    if form.fill_seconds is not None and form.fill_seconds < model.bots.fast_submit_seconds:
        _signal(state, "fast_submit", ts)


def _set_fields(state: LeadState, ts: int, event_id: str, **values: Any) -> None:
    for name, value in values.items():
        if value is None:
            continue
        old = state.profile.get(name)
        if old is None or (ts, event_id) > (old.occurred_at_us, old.event_id):
            state.profile[name] = Stamped(value, ts, event_id)


def _signal(state: LeadState, name: str, ts: int) -> None:
    state.signals[name] = max(ts, state.signals.get(name, ts))
