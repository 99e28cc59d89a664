"""A crash can keep a lead's new state and lose the outputs buffered with it; the redelivered
message is then a duplicate. These pin how the core re-publishes them (core.step.redeliver),
and that a re-send (a new message with a known event id) publishes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.events import InputEvent
from streams.core import LeadState, Position, ScoringModel, Step, process
from streams.core.step import OUTBOX_SIZE
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


def at(offset: int) -> Position:
    """Where the n-th message was read; a re-send is read at a new offset."""
    return Position("leads.forms", 0, offset)


RESENT = 1000  # re-sends get offsets from here on


def applied(events: list[InputEvent]) -> tuple[LeadState, list[Step]]:
    state = LeadState("L1")
    return state, [process(state, e, MODEL, NOW, at(n)) for n, e in enumerate(events)]


def test_duplicate_of_last_event_republishes_the_current_score() -> None:
    events = hot_lead()
    state, steps = applied(events)
    before = state.to_bytes()
    again = process(state, events[-1], MODEL, NOW, at(len(events) - 1))
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
    n, quiet = next((n, e) for n, e in enumerate(events[:-1]) if e.event_id not in causes)
    step = process(state, quiet, MODEL, NOW, at(n))
    assert step.outcome == "duplicate" and not step.republish
    assert step.score is None and step.alerts == [] and not step.tombstone


def test_duplicate_of_an_alert_cause_republishes_the_same_alert() -> None:
    events = hot_lead()
    state, steps = applied(events)
    fired = [
        (n, e, a) for n, (e, s) in enumerate(zip(events, steps, strict=True)) for a in s.alerts
    ]
    assert [a.threshold for _, _, a in fired] == ["mql", "sql"]
    for n, event, alert in fired:
        again = process(state, event, MODEL, NOW, at(n))
        assert again.republish and again.alerts == [alert]  # emitted_at included: as it was


def test_a_resent_event_publishes_nothing() -> None:
    """Producers and connectors retry: the same event id in a new message. Neither the
    last event nor an alert's cause publishes anything again, and the state is as it was."""
    events = hot_lead()
    state, steps = applied(events)
    before = state.to_bytes()
    causes = [n for n, s in enumerate(steps) if s.alerts]
    for n in [len(events) - 1, *causes]:
        again = process(state, events[n], MODEL, NOW, at(RESENT + n))
        assert again.outcome == "duplicate" and not again.republish, n
        assert again.score is None and again.alerts == [] and not again.tombstone
    assert state.to_bytes() == before


def test_offline_duplicates_publish_nothing() -> None:
    events = hot_lead()
    state, _ = applied(events)
    again = process(state, events[-1], MODEL, NOW)  # no position: a file has no redelivery
    assert again.outcome == "duplicate" and not again.republish


def test_outbox_is_bounded_and_erasure_empties_it() -> None:
    state, fired = LeadState("L1"), 0
    for n in range(OUTBOX_SIZE + 3):  # cross, fall to 0 (disqualified), cross again
        events = [
            form(minutes=10 * n, eid=f"f{n}", answers=ANSWERS),
            ev("lead.outcome", minutes=10 * n + 1, eid=f"d{n}", outcome="disqualified"),
            ev("lead.outcome", minutes=10 * n + 2, eid=f"c{n}", outcome="converted"),
        ]
        fired += sum(len(process(state, e, MODEL, NOW, at(n)).alerts) for e in events)
    assert fired > OUTBOX_SIZE and len(state.outbox) == OUTBOX_SIZE
    process(state, ev("lead.erased", minutes=10_000, eid="x"), MODEL, NOW, at(999))
    assert state.outbox == [] and state.last_event is None
    assert b"acme" not in state.to_bytes().lower()


def test_replayed_erasure_sends_the_tombstone_again() -> None:
    events = [*hot_lead(), ev("lead.erased", minutes=600, eid="x")]
    state, _ = applied(events)
    erasure = len(events) - 1
    again = process(state, ev("lead.erased", minutes=600, eid="x"), MODEL, NOW, at(erasure))
    assert again.outcome == "ignored_erased" and again.tombstone and again.republish
    assert again.score is None and again.alerts == []
    # The marker keeps no position, so a re-sent erasure sends the tombstone again too
    # (it carries nothing); offline, without positions, nothing is sent.
    resent = process(state, ev("lead.erased", minutes=600, eid="x"), MODEL, NOW, at(RESENT))
    assert resent.outcome == "ignored_erased" and resent.tombstone and resent.republish
    offline = process(state, ev("lead.erased", minutes=600, eid="x"), MODEL, NOW)
    assert not offline.tombstone and not offline.republish
    late = process(state, ev("email.opened", minutes=5, eid="late"), MODEL, NOW, at(RESENT + 1))
    assert not late.republish and not late.tombstone


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
