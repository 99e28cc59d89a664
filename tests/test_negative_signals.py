"""Negative signals, contactability, scanner-proof unsubscribes, per-activity half-lives
and recycling (docs/contract.md s6), on the pure core."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.events import InputEvent
from streams.core import LeadState, ScoringModel, process, score, to_us
from streams.core.scoring import Card
from tests.core_events import BASE, ev, form

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
SENT = BASE.isoformat()


def run(events: list[InputEvent]) -> tuple[LeadState, Card]:
    state = LeadState("L1")
    for e in events:
        process(state, e, MODEL, NOW)
    return state, score(state, MODEL)


def engaged() -> list[InputEvent]:
    return [
        form(eid="f"),
        ev("email.opened", minutes=60, eid="o", message_id="m", sent_at=SENT),
        ev("email.clicked", minutes=61, eid="c", message_id="m", sent_at=SENT),
    ]


def unsubscribed(minutes: float = 120, **kw: object) -> InputEvent:
    return ev(
        "email.unsubscribed", minutes=minutes, eid=f"u{minutes}", message_id="m", sent_at=SENT, **kw
    )


@pytest.mark.parametrize(
    ("signal", "factor"),
    [
        (lambda: unsubscribed(), "email.unsubscribed"),
        (lambda: ev("email.complained", minutes=120, eid="x"), "email.complained"),
        (
            lambda: ev("email.bounced", minutes=120, eid="b", bounce_type="hard"),
            "email.bounced.hard",
        ),
    ],
)
def test_an_opt_out_lowers_the_score_shows_why_and_stops_contact(
    signal: Callable[[], InputEvent], factor: str
) -> None:
    _, plain = run(engaged())
    _, out = run([*engaged(), signal()])
    assert out.score < plain.score and out.engagement < plain.engagement
    assert plain.contactable and not out.contactable
    points = dict(out.factors)
    assert points[factor] < 0, out.factors
    assert "contactable" in out.published() and out.published()["contactable"] is False


def test_a_soft_bounce_changes_nothing() -> None:
    _, plain = run(engaged())
    _, soft = run([*engaged(), ev("email.bounced", minutes=120, eid="b", bounce_type="soft")])
    assert (soft.score, soft.engagement, soft.contactable) == (plain.score, plain.engagement, True)


def test_engagement_never_goes_below_zero() -> None:
    _, card = run([form(eid="f"), unsubscribed(), ev("email.complained", minutes=130, eid="x")])
    assert card.engagement == 0 and 0 <= card.score <= 100
    assert any(points < 0 for _, points in card.factors)


def test_a_later_signup_makes_a_bounced_lead_contactable_again() -> None:
    bounce = ev("email.bounced", minutes=120, eid="b", bounce_type="hard")
    signup = ev("signup", minutes=60 * 24, eid="s", email="jane@acme-corp.com")
    assert not run([*engaged(), bounce])[1].contactable
    assert run([*engaged(), bounce, signup])[1].contactable
    assert run([*engaged(), signup, bounce])[1].contactable  # order does not matter
    earlier = ev("signup", minutes=30, eid="s0", email="jane@acme-corp.com")
    assert not run([*engaged(), earlier, bounce])[1].contactable


@pytest.mark.parametrize(
    "machine",
    [
        {"minutes": 5 / 60},  # 5 seconds after the send: a gateway following the link
        {"minutes": 120, "user_agent": "Mimecast URL Protect/2.0"},
    ],
)
def test_a_scanners_unsubscribe_changes_nothing_but_is_counted(machine: dict[str, Any]) -> None:
    _, plain = run(engaged())
    _, scanned = run([*engaged(), unsubscribed(**machine)])
    assert (scanned.score, scanned.engagement, scanned.contactable) == (
        plain.score,
        plain.engagement,
        True,
    )
    assert scanned.machine_events == plain.machine_events + 1
    step = process(run(engaged())[0], unsubscribed(**machine), MODEL, NOW)
    assert step.machine in {"too_soon", "scanner_agent"}


def test_each_activity_decays_with_its_own_half_life() -> None:
    assert MODEL.engagement.activities["email.unsubscribed"].half_life_days == 90
    state, _ = run([unsubscribed(), ev("email.clicked", minutes=121, eid="c", message_id="n")])
    later = to_us(BASE) + int(60 * 86400e6)  # two click half-lives, under one unsubscribe's
    points = dict(score(state, MODEL, later).factors)
    w = MODEL.weights.engagement  # factors are in score points
    click = w * MODEL.engagement.activities["email.clicked"].points
    unsub = w * MODEL.engagement.activities["email.unsubscribed"].points
    assert points["email.clicked"] == pytest.approx(click / 4, abs=0.05)
    assert points["email.unsubscribed"] == pytest.approx(unsub * 2 ** (-60 / 90), abs=0.05)


def _hot() -> list[InputEvent]:
    answers = {"budget": 50000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
    clicks = [
        ev("email.clicked", minutes=60 * (i + 1), eid=f"c{i}", message_id=f"m{i}") for i in range(4)
    ]
    return [form(eid="f", answers=answers), *clicks]


def test_recycling_forgets_old_engagement_keeps_the_profile_and_re_arms_alerts() -> None:
    state = LeadState("L1")
    first = [a.threshold for e in _hot() for a in process(state, e, MODEL, NOW).alerts]
    assert first == ["mql"]
    before = score(state, MODEL)
    recycled = process(state, ev("lead.recycled", minutes=600, eid="r"), MODEL, NOW)
    assert recycled.card is not None
    after = recycled.card
    assert after.fit == before.fit and after.engagement < before.engagement
    assert "email.clicked" not in dict(after.factors)
    assert all(arm.armed for arm in state.alerts.values())
    # Re-engaging crosses again: a new alert, with a new id.
    again = [
        a
        for i in range(4)
        for a in process(
            state,
            ev("email.clicked", minutes=700 + 60 * i, eid=f"n{i}", message_id=f"n{i}"),
            MODEL,
            NOW,
        ).alerts
    ]
    assert [a.threshold for a in again] == ["mql"]
    # An old click arriving late (dated before the recycling) counts for nothing.
    engaged_again = score(state, MODEL)
    late = process(state, ev("email.clicked", minutes=300, eid="late", message_id="z"), MODEL, NOW)
    assert late.outcome == "applied" and late.card is not None
    assert (late.card.engagement, late.card.score) == (
        engaged_again.engagement,
        engaged_again.score,
    )
    assert late.card.events_counted == engaged_again.events_counted + 1


def test_recycling_is_order_independent() -> None:
    events = [*_hot(), ev("lead.recycled", minutes=600, eid="r"), unsubscribed(700)]
    a, _ = run(events)
    b, _ = run(list(reversed(events)))
    assert a.records == b.records and a.tally == b.tally and a.recycled_at == b.recycled_at
    assert score(a, MODEL).published() == score(b, MODEL).published()


def test_erasure_forgets_the_recycling_marker() -> None:
    state, _ = run([*_hot(), ev("lead.recycled", minutes=600, eid="r")])
    process(state, ev("lead.erased", minutes=601, eid="x"), MODEL, NOW)
    assert state.recycled_at is None and state.is_marker_only


def test_a_negative_activity_caps_the_loss() -> None:
    many = [unsubscribed(120 + i) for i in range(5)]
    _, card = run([*engaged(), *many])
    cap = MODEL.engagement.activities["email.unsubscribed"].cap
    assert dict(card.factors)["email.unsubscribed"] == pytest.approx(
        -cap * MODEL.weights.engagement
    )
    assert card.contactable is False
