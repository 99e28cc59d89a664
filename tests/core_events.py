"""Builders of valid input events for core tests (one way to make test events)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.codec import parse_event
from schemas.events import InputEvent
from streams.core.state import LeadState
from streams.tools.score import topic_for

BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
_ids = itertools.count()


def raw(
    kind: str, lead: str = "L1", minutes: float = 0, eid: str | None = None, **kw: Any
) -> bytes:
    doc = {
        "event_id": eid or f"e{next(_ids)}",
        "lead_id": lead,
        "type": kind,
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        **kw,
    }
    return orjson.dumps(doc)


def ev(
    kind: str, lead: str = "L1", minutes: float = 0, eid: str | None = None, **kw: Any
) -> InputEvent:
    return parsed([raw(kind, lead, minutes, eid, **kw)])[0]


def parsed(lines: list[bytes]) -> list[InputEvent]:
    """Raw events decoded as the worker decodes them, each on its contract topic."""
    return [parse_event(line, topic_for(line)) for line in lines]


# A well-qualified, human-looking form submission; tests override what they probe.
FORM_FIELDS: dict[str, Any] = {
    "form_id": "demo-request",
    "email": "jane.doe@acme-corp.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "company": "Acme Corp",
    "job_title": "VP Marketing",
    "company_size": 250,
    "industry": "software",
    "country": "US",
    "fill_seconds": 42.0,
}


def form(lead: str = "L1", minutes: float = 0, eid: str | None = None, **kw: Any) -> InputEvent:
    return ev("form.submitted", lead, minutes, eid, **{**FORM_FIELDS, **kw})


# One valid document of each event type (hostile-input tests vary them).
def valid_doc(kind: str, lead: str = "L1", eid: str = "e1", minutes: float = 0) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": eid,
        "lead_id": lead,
        "type": kind,
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
    }
    extra: dict[str, dict[str, Any]] = {
        "email.opened": {"message_id": "m1", "sent_at": BASE.isoformat(), "user_agent": "Mozilla"},
        "email.clicked": {"message_id": "m1", "url": "https://acme-corp.com/x"},
        "signup": {"email": "ann.smith@acme-corp.com", "first_name": "Ann", "last_name": "Smith"},
        "social.interaction": {"network": "linkedin", "action": "share"},
        "form.submitted": {
            "form_id": "demo",
            "email": "ann.smith@acme-corp.com",
            "first_name": "Ann",
            "last_name": "Smith",
            "company": "Acme",
            "job_title": "CEO",
            "company_size": 250,
            "industry": "software",
            "country": "US",
            "answers": {"budget": 5e4, "authority": "decision_maker", "need": ["x"]},
            "honeypot": "",
            "fill_seconds": 30.0,
        },
        "lead.verified": {"method": "manual"},
        "lead.outcome": {"outcome": "converted", "reason": "won"},
        "lead.erased": {},
        "lead.recycled": {"reason": "back to nurture"},
        "email.bounced": {"bounce_type": "hard", "campaign_id": "c1", "message_id": "m1"},
        "email.unsubscribed": {"message_id": "m1", "sent_at": BASE.isoformat(), "user_agent": "x"},
        "email.complained": {"campaign_id": "c1", "message_id": "m1"},
        "lead.associated": {"account_id": "acme-corp.com", "company": "Acme", "industry": "saas"},
        "page.viewed": {
            "url": "https://www.acme-corp.com/pricing",
            "title": "Pricing",
            "session_id": "s1",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        },
        # Keyed by the visitor: its lead is named here, not by the key.
        "identity.linked": {"anonymous_id": f"anon-{lead}"},
    }
    doc.update(extra[kind])
    return doc


def facts(state: LeadState) -> bytes:
    """A lead's whole state but its delivery bookkeeping (alerts fired along the way, the
    last message and its account move, the last card sent): what guarantee 3 makes a
    function of the set of events. Records, profile, signals, markers, counts, visitors."""
    return replace(
        state,
        alerts={},
        published=None,
        last_event=None,
        last_position=None,
        outbox=[],
        left_account=None,
    ).to_bytes()
