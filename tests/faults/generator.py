"""A small seeded event generator, used when `streams.tools.simulate` is not importable.

Leads with a profile (a form or a signup), email opens and clicks, social interactions, some
verifications, outcomes and erasures, over 30 days of event time; about 2 % of messages are
redelivered copies and 1 % are broken. Same seed, same bytes.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.tools.score import topic_for

FIRST = ("Ann", "Bob", "Chen", "Dana", "Eve", "Farid", "ann", "bob")
LAST = ("Smith", "Okafor", "Ng", "Berg", "smith")
DOMAINS = ("acme-corp.com", "initech.io", "gmail.com", "mailinator.com", "globex.de")
TITLES = ("CEO", "VP Marketing", "Engineer", "Student", "Head of Sales")


def seeded_messages(
    seed: int, events: int, leads: int, now: datetime
) -> list[tuple[str, bytes, bytes, bool]]:
    """(contract topic, key, value, malformed) for `events` messages of `leads` leads."""
    rng = random.Random(seed)
    start = now - timedelta(days=30)
    ids = [f"lead-{seed}-{n:05d}" for n in range(leads)]
    out: list[tuple[str, bytes, bytes, bool]] = []
    sent: list[tuple[str, bytes, bytes, bool]] = []
    for n in range(events):
        roll = rng.random()
        if sent and roll < 0.02:
            out.append(rng.choice(sent[-50:]))  # a redelivery
            continue
        lead = rng.choice(ids)
        when = start + timedelta(seconds=rng.uniform(0, 30 * 86400))
        doc = _event(rng, lead, f"{lead}-e{n}", when)
        value = orjson.dumps(doc)
        if roll > 0.99:
            out.append((topic_for(value), lead.encode(), value[: rng.randint(1, 40)], True))
            continue
        message = (topic_for(value), lead.encode(), value, False)
        out.append(message)
        sent.append(message)
    return out


def _event(rng: random.Random, lead: str, eid: str, when: datetime) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": eid,
        "lead_id": lead,
        "occurred_at": when.astimezone(UTC).isoformat(),
    }
    kind = rng.choices(
        ("open", "click", "social", "form", "signup", "verify", "outcome", "erase"),
        (40, 30, 12, 6, 5, 3, 1.5, 0.2),
    )[0]
    if kind in ("open", "click"):
        doc["type"] = "email.opened" if kind == "open" else "email.clicked"
        doc["message_id"] = f"m{rng.randint(1, 40)}"
        doc["sent_at"] = (when - timedelta(seconds=rng.choice((3, 600, 7200)))).isoformat()
    elif kind == "social":
        doc["type"] = "social.interaction"
        doc["network"] = rng.choice(("linkedin", "x", "youtube"))
        doc["action"] = rng.choice(("like", "share", "comment", "follow"))
    elif kind in ("form", "signup"):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        doc["type"] = "form.submitted" if kind == "form" else "signup"
        doc["email"] = f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}"
        doc["first_name"], doc["last_name"] = first, last
        if kind == "form":
            doc["form_id"] = "demo"
            doc["job_title"] = rng.choice(TITLES)
            doc["company_size"] = rng.choice((5, 80, 400, 5000))
            doc["country"] = rng.choice(("US", "DE", "FR"))
            doc["fill_seconds"] = rng.choice((1.0, 30.0, 90.0))
    elif kind == "verify":
        doc["type"], doc["method"] = "lead.verified", "double_opt_in"
    elif kind == "outcome":
        doc["type"], doc["outcome"] = "lead.outcome", rng.choice(("converted", "lost"))
    else:
        doc["type"] = "lead.erased"
    return doc
