"""Capture lead states as release 147c1e9 wrote them (version 1: JSON), with what that
release scored them. Run with that release's code on the path (a git worktree):

    git worktree add /tmp/v1 147c1e9 && cd /tmp/v1 && \
        .venv/bin/python /path/to/tests/data/capture_states_v1.py > tests/data/states-v1.json

tests/test_state_versions.py reads the file: today's code must load each state, score it
the same (with that release's default model, kept beside as default-model-2026.11.1.yaml),
know every event it holds, and republish what it would have.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.codec import parse_event
from streams.core import LeadState, Position, ScoringModel, process, score
from streams.tools.score import topic_for

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LONG = "x" * 60  # ids over 40 bytes were kept as digests in version 1
ANSWERS = {"budget": 90000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
FORM = {
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


def doc(kind: str, lead: str, minutes: float, eid: str, **kw: Any) -> dict[str, Any]:
    at = (BASE + timedelta(minutes=minutes)).isoformat()
    return {"event_id": eid, "lead_id": lead, "type": kind, "occurred_at": at, **kw}


def scenarios() -> dict[str, list[dict[str, Any]]]:
    hot = [doc("form.submitted", "hot", 0, "f", answers=ANSWERS, **FORM)]
    hot += [doc("email.clicked", "hot", 60 * i + 30, f"c{i}", message_id=f"m{i}") for i in range(4)]
    hot += [doc("email.opened", "hot", 60 * i + 10, f"o{i}") for i in range(6)]
    sent = BASE.isoformat()
    bot = [
        doc(
            "form.submitted",
            "bot",
            0,
            "bf",
            **{**FORM, "first_name": "jane", "email": "jane@gmail.com", "fill_seconds": 1.0},
        ),
        *[doc("email.clicked", "bot", 30 + i / 60, f"bc{i}", message_id="m") for i in range(3)],
        doc("email.clicked", "bot", 40, "bs", message_id="m2", user_agent="Mimecast/1.0"),
        doc("email.opened", "bot", 0.5, "bt", message_id="m3", sent_at=sent),
        doc("email.opened", "bot", 300, "bh", message_id="m3", sent_at=sent),
    ]
    long_ids = [
        doc("form.submitted", "long", 0, LONG + "f", **FORM),
        *[
            doc("email.clicked", "long", 10 + i, LONG + f"c{i}", message_id=LONG + "m")
            for i in range(3)
        ],
    ]
    erased = [
        doc("form.submitted", "erased", 0, "ef", **FORM),
        doc("email.clicked", "erased", 5, "ec", message_id="m"),
        doc("lead.erased", "erased", 10, "ex"),
    ]
    reborn = [
        *[{**d, "lead_id": "reborn"} for d in erased],
        doc("signup", "reborn", 20, "rs", email="new@acme-corp.com"),
    ]
    heavy = [
        doc("social.interaction", "heavy", i, f"s{i}", network="x", action="like")
        for i in range(1005)
    ]
    heavy += [
        doc("email.clicked", "heavy", 2000 + i, f"hc{i}", message_id=f"m{i}") for i in range(3)
    ]
    return {
        "hot": hot,
        "bot": bot,
        "long_ids": long_ids,
        "erased": erased,
        "reborn": reborn,
        "heavy": heavy,
    }


def main() -> None:
    out = []
    for name, docs in scenarios().items():
        state = LeadState(docs[0]["lead_id"])
        for n, d in enumerate(docs):
            raw = orjson.dumps(d)
            process(state, parse_event(raw, topic_for(raw)), MODEL, NOW, Position("t", 0, n))
        later = (state.last_event_us or 0) + 10 * 86_400_000_000
        out.append(
            {
                "name": name,
                "events": docs,
                "state": state.to_bytes().decode(),
                "card": None if state.is_marker_only else score(state, MODEL).published(),
                "card_10_days_later": None
                if state.is_marker_only
                else score(state, MODEL, later).published(),
            }
        )
    sys.stdout.write(orjson.dumps(out).decode() + "\n")


if __name__ == "__main__":
    main()
