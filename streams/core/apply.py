"""Applying one validated event to a lead's state.

Idempotent (an event id already held is a duplicate), order-independent
(records form a set, profile fields are last-writer-wins by
(occurred_at, event_id), signals are sticky) and erasure-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from schemas.events import (
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailOpened,
    EmailUnsubscribed,
    FormSubmitted,
    IdentityLinked,
    InputEvent,
    LeadAssociated,
    LeadErased,
    LeadOutcome,
    LeadRecycled,
    LeadVerified,
    PageViewed,
    Signup,
    SocialInteraction,
)
from streams.core import engagement
from streams.core.model import ScoringModel
from streams.core.pages import page_of, session_page_key
from streams.core.records import CRAWLER, SCANNER, Record, after_send_ms, event_key, message_key
from streams.core.state import LeadState, Stamped, Tally

Outcome = Literal["applied", "duplicate", "stale", "ignored_erased"]

# Guarantee 2: at least this many recent event ids per lead are remembered.
DEDUPE_WINDOW = 1000
# Visitor ids a lead keeps (its erasure reaches their held views): browsers and devices.
MAX_VISITORS = 64

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
    key = event_key(event.event_id)
    if key in state.records:
        return "duplicate"
    if isinstance(event, LeadErased):
        erase(state, ts, model)
        return "applied"
    record = _record(event, ts, key, model)
    if _older_than_window(state, ts, key):
        # Older than every kept record of a full window: counted and its profile fields and
        # signals applied (last writer wins, as if it had come in time and been evicted),
        # but not kept: the same state whatever order events come in. Its duplicates can
        # no longer be told apart (guarantee 2 covers the 1,000 most recent events).
        _count_evicted(state, ts)
        _update_profile(state, event, record, model)
        return "stale"
    rules = model.rules
    engagement.sync(state, rules)
    engagement.add(state, record, rules)
    _update_profile(state, event, record, model)
    while len(state.records) > DEDUPE_WINDOW:
        _count_evicted(state, engagement.evict_oldest(state, rules).at)
    return "applied"


def _count_evicted(state: LeadState, ts: int) -> None:
    """One more event counted beyond the window; the oldest such time tells an erasure
    whether it reaches them (`_forget_evicted`)."""
    state.evicted += 1
    if state.evicted_from is None or ts < state.evicted_from:
        state.evicted_from = ts


def erase(state: LeadState, ts: int, model: ScoringModel) -> None:
    """Forget everything at or before `ts`; keep only the marker (and any newer facts)."""
    state.erased_at = ts if state.erased_at is None else max(state.erased_at, ts)
    cut = state.erased_at
    _forget_evicted(state, cut)
    state.records.keep_after(cut)
    state.profile = {k: v for k, v in state.profile.items() if v.occurred_at_us > cut}
    state.signals = {k: t for k, t in state.signals.items() if t > cut}
    if state.recycled_at is not None and state.recycled_at <= cut:
        state.recycled_at = None
    state.alerts = {}
    state.published = None
    state.last_event = None
    state.outbox = []  # alerts carry contact details
    # The step that erased tells them all (step.forget); those linked by newer events stay.
    state.visitors = {v: at for v, at in state.visitors.items() if at > cut}
    if len(state.records):
        engagement.rebuild(state, model.rules)
    else:  # the bare marker: nothing but the lead id and the erasure time
        state.tally = Tally()


def _forget_evicted(state: LeadState, cut: int) -> None:
    """Events counted beyond the window are known by number only: an erasure forgets them
    all when the oldest kept record is at or before it (they are older still), none when
    they all came after it. Between the two, which of them came after it is not known; it
    forgets them all (docs/contract.md, the window's limits)."""
    if state.evicted_from is not None and state.evicted_from > cut:
        return
    state.evicted, state.evicted_from = 0, None


def _older_than_window(state: LeadState, ts: int, key: int) -> bool:
    if len(state.records) < DEDUPE_WINDOW:
        return False
    oldest = state.records.oldest()
    return oldest is not None and (ts, key) < oldest


def _record(event: InputEvent, ts: int, key: int, model: ScoringModel) -> Record:
    if isinstance(event, EmailOpened | EmailClicked | EmailUnsubscribed):
        after_send = None
        if event.sent_at is not None:
            after_send = (event.occurred_at - event.sent_at).total_seconds()
        return Record(
            at=ts,
            event=key,
            kind=event.type,
            flags=SCANNER if _is_scanner(event.user_agent, model) else 0,
            message=0 if event.message_id is None else message_key(event.message_id),
            after_ms=after_send_ms(after_send),
        )
    if isinstance(event, PageViewed):
        page = page_of(event.url)
        return Record(
            at=ts,
            event=key,
            kind=f"page.{model.page_kind(page.host, page.path)}",
            flags=_page_agent_flags(event.user_agent, model),
            message=session_page_key(event.session_id, page),
        )
    if isinstance(event, SocialInteraction):
        return Record(at=ts, event=key, kind=f"social.{event.action}")
    if isinstance(event, EmailBounced):
        return Record(at=ts, event=key, kind=f"email.bounced.{event.bounce_type}")
    return Record(at=ts, event=key, kind=event.type)


def _page_agent_flags(user_agent: str | None, model: ScoringModel) -> int:
    """A crawler's view, or a mail gateway's rendering a link it scans: machine-made."""
    if not user_agent:
        return 0
    if model.is_crawler_agent(user_agent):
        return CRAWLER
    return SCANNER if model.is_scanner_agent(user_agent) else 0


def _is_scanner(user_agent: str | None, model: ScoringModel) -> bool:
    if not user_agent:
        return False
    return model.is_scanner_agent(user_agent)


def _update_profile(
    state: LeadState, event: InputEvent, record: Record, model: ScoringModel
) -> None:
    """Profile fields (last writer wins), sticky signals and the recycling marker: what
    an event leaves besides its record, applied even when it is older than the window."""
    ts, key = record.at, record.event
    if isinstance(event, Signup):
        _set_fields(
            state,
            ts,
            key,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
        )
        _signal(state, "subscribed", ts)  # contactable again after an earlier opt-out
    elif isinstance(event, FormSubmitted):
        _apply_form(state, event, ts, key, model)
    elif isinstance(event, LeadVerified):
        _signal(state, "verified", ts)
    elif isinstance(event, LeadOutcome):
        _set_fields(state, ts, key, outcome=event.outcome)
    elif isinstance(event, EmailComplained) or (
        isinstance(event, EmailBounced) and event.bounce_type == "hard"
    ):
        _signal(state, "opted_out", ts)
    elif isinstance(event, EmailUnsubscribed):
        rules = model.rules
        if engagement.machine_signal(record.kind, record.flags, record.after_ms, rules) is None:
            _signal(state, "opted_out", ts)  # a scanner following the link is not the person
    elif isinstance(event, LeadRecycled):
        recycle(state, ts, model)
    elif isinstance(event, LeadAssociated):
        _set_fields(
            state,
            ts,
            key,
            account_id=event.account_id,
            company=event.company,
            company_size=event.company_size,
            industry=event.industry,
            country=event.country,
        )
    elif isinstance(event, IdentityLinked):
        _set_fields(
            state,
            ts,
            key,
            email=event.email,
            first_name=event.first_name,
            last_name=event.last_name,
            job_title=event.job_title,
            company=event.company,
        )
        _add_visitor(state, event.anonymous_id, ts)
    elif isinstance(event, PageViewed) and event.anonymous_id is not None:
        _add_visitor(state, event.anonymous_id, ts)


def _add_visitor(state: LeadState, anonymous_id: str, ts: int) -> None:
    """Remember a visitor linked to the lead with the newest time an event named it (an
    erasure keeps those named after it). The smallest ids when there are more than
    MAX_VISITORS, so any order of events keeps the same ones."""
    seen = state.visitors.get(anonymous_id)
    if seen is not None:
        state.visitors[anonymous_id] = max(seen, ts)
        return
    state.visitors[anonymous_id] = ts
    if len(state.visitors) > MAX_VISITORS:
        del state.visitors[max(state.visitors)]


def recycle(state: LeadState, ts: int, model: ScoringModel) -> None:
    """Back to nurture: engagement dated at or before `ts` stops counting, alerts re-arm,
    the profile stays. The marker is the latest recycling, so order does not matter."""
    if state.recycled_at is not None and state.recycled_at >= ts:
        return
    state.recycled_at = ts
    for arm in state.alerts.values():
        arm.armed = True
    engagement.rebuild(state, model.rules)


def _apply_form(
    state: LeadState, form: FormSubmitted, ts: int, key: int, model: ScoringModel
) -> None:
    fields: dict[str, Any] = {
        "email": form.email,
        "first_name": form.first_name,
        "last_name": form.last_name,
        "company": form.company,
        "job_title": form.job_title,
        "company_size": form.company_size,
        "industry": form.industry,
        "country": form.country,
        "account_id": form.account_id,
    }
    if form.answers is not None:
        a = form.answers
        fields.update(
            budget=a.budget, authority=a.authority, need=a.need or None, timeline=a.timeline
        )
    _set_fields(state, ts, key, **fields)
    if form.honeypot and form.honeypot.strip():
        _signal(state, "honeypot", ts)
    if form.fill_seconds is not None and form.fill_seconds < model.bots.fast_submit_seconds:
        _signal(state, "fast_submit", ts)


def _set_fields(state: LeadState, ts: int, key: int, **values: Any) -> None:
    for name, value in values.items():
        if value is None:
            continue
        old = state.profile.get(name)
        if old is None or (ts, key) > (old.occurred_at_us, old.event):
            state.profile[name] = Stamped(value, ts, key)


def _signal(state: LeadState, name: str, ts: int) -> None:
    state.signals[name] = max(ts, state.signals.get(name, ts))
