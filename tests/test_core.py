"""Unit and property tests of the pure scoring core (no Kafka, no Faust)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from schemas.events import InputEvent
from streams.core.apply import DEDUPE_WINDOW, apply_event, to_us
from streams.core.model import ModelError, ScoringModel
from streams.core.scoring import Card, score
from streams.core.state import LeadState
from streams.core.step import alert_id, process, rescore
from tests.core_events import BASE, ev, form

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def run(events: list[InputEvent], lead: str = "L1") -> tuple[LeadState, Card]:
    state = LeadState(lead)
    for e in events:
        process(state, e, MODEL, NOW)
    return state, score(state, MODEL)


def final(events: list[InputEvent]) -> dict[str, object]:
    return run(events)[1].published()


# --- docs/contract.md s6: the ordering a marketer expects ------------------------


def test_click_beats_open_beats_signup() -> None:
    click = run([ev("email.clicked", message_id="m1")])[1]
    opened = run([ev("email.opened", message_id="m1")])[1]
    signup = run([ev("signup", email="jane@acme-corp.com")])[1]
    assert click.engagement > opened.engagement > signup.engagement > 0


def test_lowercase_free_mail_is_down_weighted_until_verified() -> None:
    good = [form(eid="f1"), ev("email.clicked", minutes=10, eid="c1")]
    bot = [
        form(eid="f1", first_name="jane", last_name="doe", email="jane@gmail.com"),
        ev("email.clicked", minutes=10, eid="c1"),
    ]
    g, b = run(good)[1], run(bot)[1]
    assert set(b.bot_flags) == {"lowercase_name", "free_mail"}
    assert b.score < g.score and b.validity < 1.0
    verified = run([*bot, ev("lead.verified", minutes=20, eid="v1", method="double_opt_in")])[1]
    good_v = run([*good, ev("lead.verified", minutes=20, eid="v1", method="double_opt_in")])[1]
    assert verified.bot_flags == () and verified.validity == 1.0
    assert verified.score == good_v.score


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"email": "x@mailinator.com"}, "disposable_email"),
        ({"honeypot": "http://spam.example"}, "honeypot"),
        ({"fill_seconds": 0.8}, "fast_submit"),
        ({"first_name": "bob"}, "lowercase_name"),
        ({"email": "bob@yahoo.com"}, "free_mail"),
    ],
)
def test_each_bot_flag_lowers_the_score(change: dict[str, object], flag: str) -> None:
    clean = run([form(eid="f")])[1]
    flagged = run([form(eid="f", **change)])[1]
    assert flag in flagged.bot_flags
    assert flagged.score < clean.score
    assert any(f[0].startswith(flag) and f[1] < 0 for f in flagged.factors)


def test_disposable_is_not_also_free_mail() -> None:
    card = run([form(email="x@mailinator.com")])[1]
    assert "disposable_email" in card.bot_flags and "free_mail" not in card.bot_flags


@pytest.mark.parametrize(
    "change",
    [{"country": "KP"}, {"email": "spy@rivalscore.example"}, {"company_size": 1}],
)
def test_hard_disqualifiers_zero_the_score(change: dict[str, object]) -> None:
    card = run([form(**change), ev("email.clicked", minutes=1)])[1]
    assert card.score == 0 and card.stage == "disqualified"


def test_outcomes_move_the_stage() -> None:
    assert run([form(), ev("lead.outcome", minutes=5, outcome="converted")])[1].stage == (
        "converted"
    )
    dq = run([form(), ev("lead.outcome", minutes=5, outcome="disqualified")])[1]
    assert (dq.stage, dq.score) == ("disqualified", 0)


def test_fit_uses_bant_answers_and_grade() -> None:
    answers = {
        "budget": 50000,
        "authority": "decision_maker",
        "need": ["lead routing"],
        "timeline": "lt_3_months",
    }
    plain = run([form()])[1]
    bant = run([form(answers=answers)])[1]
    assert bant.fit == plain.fit + 10 + 10 + 5 + 10
    assert bant.grade == "A" and plain.grade in {"B", "C"}
    assert any(name.startswith(("budget", "authority", "timeline")) for name, _ in bant.factors)


def test_engagement_decays_with_event_time() -> None:
    state, card = run([ev("email.clicked", eid="c")])
    later = score(state, MODEL, to_us(BASE) + int(30 * 86400e6))
    assert later.engagement == pytest.approx(card.engagement / 2, abs=1)


def test_engagement_is_capped() -> None:
    clicks = [ev("email.clicked", minutes=i * 10, message_id=f"m{i}") for i in range(50)]
    assert run(clicks)[1].engagement == MODEL.engagement.activities["email.clicked"].cap


# --- machine engagement -------------------------------------------------------------


def test_scanner_clicks_earn_nothing() -> None:
    sent = BASE.isoformat()
    too_soon = run([ev("email.clicked", minutes=0.2, sent_at=sent, message_id="m")])[1]
    scanner = run([ev("email.clicked", user_agent="Mimecast URL Protect/1.0")])[1]
    burst = run([ev("email.clicked", minutes=i / 60, message_id="m") for i in range(3)])[1]
    human = run([ev("email.clicked", minutes=30, sent_at=sent, message_id="m")])[1]
    for card in (too_soon, scanner, burst):
        assert card.engagement == 0 and card.machine_events >= 1
        assert any(f[0].startswith("machine_engagement") for f in card.factors)
    assert human.engagement > 0 and human.machine_events == 0


# --- guarantees (docs/contract.md s5) ------------------------------------------------

# The properties over the whole event space: tests/test_core_properties.py.


def test_dedupe_window_remembers_at_least_1000_events() -> None:
    events = [
        ev("social.interaction", minutes=i, eid=f"s{i}", network="x", action="like")
        for i in range(DEDUPE_WINDOW + 5)
    ]
    state, card = run(events)
    assert card.events_counted == DEDUPE_WINDOW + 5
    for e in events[-DEDUPE_WINDOW:]:
        assert apply_event(state, e, MODEL) == "duplicate"
    assert apply_event(state, events[0], MODEL) == "stale"


# --- erasure ------------------------------------------------------------------------------


def test_erasure_keeps_only_a_marker_and_blocks_late_events() -> None:
    state = LeadState("L1")
    for e in [form(eid="f", minutes=0), ev("email.clicked", minutes=5, eid="c")]:
        process(state, e, MODEL, NOW)
    step = process(state, ev("lead.erased", minutes=10, eid="x"), MODEL, NOW)
    assert step.tombstone and step.score is None
    assert state.is_marker_only and state.profile == {} and len(state.records) == 0
    assert b"acme" not in state.to_bytes().lower()
    late = process(state, ev("email.opened", minutes=7, eid="late"), MODEL, NOW)
    assert late.outcome == "ignored_erased" and late.score is None


def test_erasure_is_order_independent() -> None:
    a = [
        form(eid="f", minutes=0),
        ev("lead.erased", minutes=10, eid="x"),
        ev("email.clicked", minutes=20, eid="c"),
    ]
    assert final(a) == final(list(reversed(a)))


# --- thresholds and alerts ------------------------------------------------------------------


def _hot_lead() -> list[InputEvent]:
    answers = {"budget": 50000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
    clicks = [
        ev("email.clicked", minutes=60 * (i + 1), eid=f"c{i}", message_id=f"m{i}") for i in range(4)
    ]
    opens = [ev("email.opened", minutes=60 * i + 30, eid=f"o{i}") for i in range(4)]
    return [form(eid="f", answers=answers), *clicks, *opens]


def test_one_alert_per_upward_crossing_and_hysteresis() -> None:
    state = LeadState("L1")
    alerts = []
    for e in _hot_lead():
        alerts += process(state, e, MODEL, NOW).alerts
    assert [a.threshold for a in alerts] == ["mql", "sql"]
    assert alerts[0].contact.email == "jane.doe@acme-corp.com"
    # Decay a little (still above mql - hysteresis): no re-arm, no new alert on recovery.
    last = state.last_event_us or 0
    dipped = rescore(state, MODEL, NOW, as_of_us=last + int(5 * 86400e6))
    assert dipped.alerts == [] and state.alerts["sql"].armed is False
    again = process(state, ev("email.opened", minutes=60 * 5, eid="o"), MODEL, NOW)
    assert again.alerts == []
    # Decay far below: re-armed; the next crossing fires a new, distinct alert id.
    rescore(state, MODEL, NOW, as_of_us=last + int(365 * 86400e6))
    assert state.alerts["mql"].armed and state.alerts["sql"].armed


def test_alert_ids_are_deterministic_and_distinct() -> None:
    assert alert_id("L1", None, "mql", 1) == alert_id("L1", None, "mql", 1)
    assert (
        len(
            {
                alert_id("L1", None, "mql", 1),
                alert_id("L1", None, "mql", 2),
                alert_id("L1", 5, "mql", 1),
                alert_id("L2", None, "mql", 1),
            }
        )
        == 4
    )


def test_unchanged_score_publishes_nothing() -> None:
    state = LeadState("L1")
    process(state, form(eid="f"), MODEL, NOW)
    assert rescore(state, MODEL, NOW).score is None


def test_state_roundtrips_through_bytes() -> None:
    state, card = run(_hot_lead())
    again = LeadState.from_bytes(state.to_bytes())
    assert again == state and score(again, MODEL) == card


# --- the model file ----------------------------------------------------------------------------


def test_invalid_model_names_file_and_field() -> None:
    text = resources.files("streams.core").joinpath("default_model.yaml").read_text()
    bad = text.replace("half_life_days: 30", "half_life_days: -1")
    with pytest.raises(ModelError, match=r"my.yaml: .*engagement\.half_life_days"):
        ScoringModel.parse_text(bad, "my.yaml")
    with pytest.raises(ModelError, match=r"bots\.factors"):
        ScoringModel.parse_text(text.replace("honeypot: 0.1", "honeypot: 1.5"), "m.yaml")
    with pytest.raises(ModelError, match=r"no-such\.yaml: cannot read"):
        ScoringModel.load(Path("no-such.yaml"))
