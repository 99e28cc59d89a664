"""A crash can keep a lead's new state and lose the outputs buffered with it; the replayed
event is then a duplicate. These pin how the core re-publishes them (core.step.redeliver)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from schemas.events import InputEvent
from streams.core.model import ScoringModel
from streams.core.state import LeadState
from streams.core.step import OUTBOX_SIZE, Step, process
from streams.tools.score import score_lines
from tests.core_events import ev, form, raw

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
ANSWERS = {"budget": 90000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}


def hot_lead() -> list[InputEvent]:
    clicks = [
        ev("email.clicked", minutes=60 * i + 30, eid=f"c{i}", message_id=f"m{i}") for i in range(4)
    ]
    opens = [ev("email.opened", minutes=60 * i + 10, eid=f"o{i}") for i in range(6)]
    return [form(eid="f", answers=ANSWERS), *clicks, *opens]


def applied(events: list[InputEvent]) -> tuple[LeadState, list[Step]]:
    state = LeadState("L1")
    return state, [process(state, e, MODEL, NOW) for e in events]


def test_duplicate_of_last_event_republishes_the_current_score() -> None:
    events = hot_lead()
    state, steps = applied(events)
    before = state.to_bytes()
    again = process(state, events[-1], MODEL, NOW)
    assert again.outcome == "duplicate" and again.republish
    assert again.score is not None and steps[-1].score is not None
    published = ("score", "fit", "engagement", "factors", "events_counted", "last_event_at")
    for name in published:
        assert getattr(again.score, name) == getattr(steps[-1].score, name), name
    assert again.score.cause_event_id == events[-1].event_id
    assert state.to_bytes() == before, "a duplicate changed the state"


def test_duplicate_of_an_older_event_publishes_nothing() -> None:
    events = hot_lead()
    state, steps = applied(events)
    causes = {e.event_id for e, s in zip(events, steps, strict=True) if s.alerts}
    quiet = next(e for e in events[:-1] if e.event_id not in causes)
    step = process(state, quiet, MODEL, NOW)
    assert step.outcome == "duplicate" and not step.republish
    assert step.score is None and step.alerts == [] and not step.tombstone


def test_duplicate_of_an_alert_cause_republishes_the_same_alert() -> None:
    events = hot_lead()
    state, steps = applied(events)
    fired = [(e, a) for e, s in zip(events, steps, strict=True) for a in s.alerts]
    assert [a.threshold for _, a in fired] == ["mql", "sql"]
    for event, alert in fired:
        again = process(state, event, MODEL, NOW)
        assert again.republish and again.alerts == [alert]  # emitted_at included: as it was


def test_outbox_is_bounded_and_erasure_empties_it() -> None:
    state, fired = LeadState("L1"), 0
    for n in range(OUTBOX_SIZE + 3):  # cross, fall to 0 (disqualified), cross again
        events = [
            form(minutes=10 * n, eid=f"f{n}", answers=ANSWERS),
            ev("lead.outcome", minutes=10 * n + 1, eid=f"d{n}", outcome="disqualified"),
            ev("lead.outcome", minutes=10 * n + 2, eid=f"c{n}", outcome="converted"),
        ]
        fired += sum(len(process(state, e, MODEL, NOW).alerts) for e in events)
    assert fired > OUTBOX_SIZE and len(state.outbox) == OUTBOX_SIZE
    process(state, ev("lead.erased", minutes=10_000, eid="x"), MODEL, NOW)
    assert state.outbox == [] and state.last_event is None
    assert b"acme" not in state.to_bytes().lower()


def test_replayed_erasure_sends_the_tombstone_again() -> None:
    state, _ = applied([*hot_lead(), ev("lead.erased", minutes=600, eid="x")])
    again = process(state, ev("lead.erased", minutes=600, eid="x"), MODEL, NOW)
    assert again.outcome == "ignored_erased" and again.tombstone and again.republish
    assert again.score is None and again.alerts == []
    late = process(state, ev("email.opened", minutes=5, eid="late"), MODEL, NOW)
    assert not late.republish and not late.tombstone


def test_states_written_before_the_outbox_still_load() -> None:
    state, _ = applied(hot_lead())
    old = orjson.loads(state.to_bytes())
    del old["last_event"], old["outbox"]
    loaded = LeadState.from_bytes(orjson.dumps(old))
    assert loaded.last_event is None and loaded.outbox == []
    assert not process(loaded, hot_lead()[-1], MODEL, NOW).republish


def test_offline_scorer_counts_a_republished_alert_once() -> None:
    lines = [
        raw(
            "form.submitted",
            "L1",
            0,
            "f",
            form_id="d",
            email="a@acme-corp.com",
            company_size=250,
            industry="software",
            country="US",
            job_title="CEO",
            answers=ANSWERS,
        )
    ]
    lines += [
        raw("email.clicked", "L1", 60 * i + 30, f"c{i}", message_id=f"m{i}") for i in range(4)
    ]
    lines += [raw("email.opened", "L1", 60 * i + 10, f"o{i}") for i in range(6)]
    once = score_lines(lines, MODEL)
    twice = score_lines(lines + lines, MODEL)
    assert once.alerts == twice.alerts == len(twice.alert_log) > 0
    assert [a.alert_id for a in once.alert_log] == [a.alert_id for a in twice.alert_log]
