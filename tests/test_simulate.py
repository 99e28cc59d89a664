"""The traffic generator: reproducible, realistic in the documented ways, faults as asked."""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.codec import DecodeError, parse_event
from schemas.events import EmailClicked, FormSubmitted
from streams.core.model import ScoringModel
from streams.tools.score import score_lines
from streams.tools.simulate import NO_FAULTS, PERSONA_SHARES, Faults, SimEvent, generate
from streams.tools.simulate.personas import HUMAN_MIN_DELAY

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def run(seed: int = 7, leads: int = 300, events: int = 4000, **kw: object) -> list[SimEvent]:
    return list(generate(seed, leads, events, now=NOW, **kw))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample() -> list[SimEvent]:
    return run()


@pytest.fixture(scope="module")
def clean() -> list[SimEvent]:
    return run(faults=NO_FAULTS)


def test_same_seed_same_messages_other_seed_other_messages() -> None:
    assert run(seed=3, events=1500) == run(seed=3, events=1500)
    assert [e.value for e in run(seed=4, events=1500)] != [
        e.value for e in run(seed=3, events=1500)
    ]


def test_exact_size_and_population(sample: list[SimEvent]) -> None:
    assert len(sample) == 4000
    assert 280 <= len({e.lead_id for e in sample}) <= 300
    assert len(run(leads=50, events=0)) == 0


def test_persona_shares_roughly_as_documented() -> None:
    events = run(seed=11, leads=3000, events=30000, faults=NO_FAULTS)
    persona_of = {e.lead_id: e.persona for e in events}
    shares = Counter(persona_of.values())
    for persona, share in PERSONA_SHARES.items():
        assert abs(shares[persona] / len(persona_of) - share) < 0.03, (persona, shares)


def test_valid_events_parse_on_their_topic_and_key_is_lead(sample: list[SimEvent]) -> None:
    for event in sample:
        if event.fault == "malformed":
            continue
        parsed = parse_event(event.value, event.topic)
        assert parsed.lead_id == event.lead_id == event.key.decode()
        assert parsed.type == event.kind
        assert NOW - timedelta(days=30) <= parsed.occurred_at <= NOW


def test_malformed_messages_fail_with_the_intended_code() -> None:
    events = run(faults=Faults(duplicates=0, out_of_order=0, malformed=0.2))
    malformed = [e for e in events if e.fault == "malformed"]
    assert len(malformed) > 400
    assert set(Counter(e.kind for e in malformed)) == {
        "truncated_json", "invalid_utf8", "wrong_topic", "naive_timestamp", "missing_field",
        "wrong_type",
    }  # fmt: skip
    for event in malformed:
        with pytest.raises(DecodeError) as failure:
            parse_event(event.value, event.topic)
        assert failure.value.code == event.expected_error, (event.kind, failure.value.detail)


def test_duplicates_repeat_an_earlier_message_exactly() -> None:
    events = run(faults=Faults(duplicates=0.1, out_of_order=0, malformed=0))
    duplicates = [e for e in events if e.fault == "duplicate"]
    assert 300 <= len(duplicates) <= 500
    originals = {e.value for e in events if e.fault is None}
    assert all(d.value in originals for d in duplicates)


def test_out_of_order_messages_arrive_after_later_events() -> None:
    events = run(faults=Faults(duplicates=0, out_of_order=0.1, malformed=0))
    times = [orjson.loads(e.value)["occurred_at"] for e in events]
    late = [i for i, e in enumerate(events) if e.fault == "out_of_order"]
    assert 300 <= len(late) <= 500
    assert sum(times[i] < max(times[:i]) for i in late if i) > 0.9 * len(late)
    assert len({orjson.loads(e.value)["event_id"] for e in events}) == len(events)


def test_no_faults_when_every_knob_is_zero(clean: list[SimEvent]) -> None:
    assert all(e.fault is None and e.expected_error is None for e in clean)
    ids = [orjson.loads(e.value)["event_id"] for e in clean]
    assert len(set(ids)) == len(ids)
    times = [orjson.loads(e.value)["occurred_at"] for e in clean]
    assert times == sorted(times)  # a clean stream is in event-time order


def _forms(events: list[SimEvent], persona: str) -> list[FormSubmitted]:
    parsed = [parse_event(e.value, e.topic) for e in events if e.persona == persona]
    return [p for p in parsed if isinstance(p, FormSubmitted)]


def test_bots_look_like_bots(clean: list[SimEvent]) -> None:
    forms = _forms(clean, "bot")
    assert forms
    assert all(f.fill_seconds is not None and f.fill_seconds < 2 for f in forms)
    assert all(f.first_name and f.first_name == f.first_name.lower() for f in forms)
    assert sum(bool(f.honeypot) for f in forms) > 0.5 * len(forms)
    domains = {f.email.rsplit("@", 1)[1] for f in forms}
    assert domains & {"mailinator.com", "guerrillamail.com", "sharklasers.com", "yopmail.com"}


def test_buyers_request_demos_with_good_answers(clean: list[SimEvent]) -> None:
    demos = [f for f in _forms(clean, "buyer") if f.form_id == "demo-request"]
    assert demos
    for form in demos:
        assert form.answers is not None and form.answers.budget is not None
        assert form.answers.budget >= 10_000 and form.answers.need
        assert form.fill_seconds is not None and form.fill_seconds >= 20


def test_scanners_click_seconds_after_sending_in_bursts(clean: list[SimEvent]) -> None:
    clicks = [parse_event(e.value, e.topic) for e in clean if e.kind == "email.clicked"]
    scanned = [
        c for c in clicks
        if isinstance(c, EmailClicked) and c.sent_at is not None
        and (c.occurred_at - c.sent_at).total_seconds() < HUMAN_MIN_DELAY
    ]  # fmt: skip
    assert len(scanned) > 0.3 * len(clicks)
    per_message = Counter(c.message_id for c in scanned if isinstance(c, EmailClicked))
    assert statistics.mean(per_message.values()) >= 3  # every link of a message


def test_buyers_warm_up_towards_the_end(clean: list[SimEvent]) -> None:
    start = NOW - timedelta(days=30)
    buyer_times = [
        datetime.fromisoformat(orjson.loads(e.value)["occurred_at"]) for e in clean
        if e.persona == "buyer"
    ]  # fmt: skip
    last_third = sum(t > start + timedelta(days=20) for t in buyer_times)
    first_third = sum(t < start + timedelta(days=10) for t in buyer_times)
    assert last_third > 2 * first_third


def test_scored_offline_buyers_beat_everyone_and_bots_score_nothing(
    sample: list[SimEvent],
) -> None:
    result = score_lines((e.value for e in sample), ScoringModel.load(None))
    persona_of = {e.lead_id: e.persona for e in sample}
    scores: dict[str, list[int]] = {}
    for update in result.final_scores():
        scores.setdefault(persona_of[update.lead_id], []).append(update.score)
    means = {persona: statistics.mean(s) for persona, s in scores.items()}
    assert means["buyer"] > 60 and means["buyer"] == max(means.values())
    assert means["bot"] < 5 and means["scanned"] < means["tyre_kicker"]
    assert result.alerts > 0
    # Offline, a wrong-topic copy is a duplicate (the topic is implied by the type).
    assert set(result.errors) <= {"invalid_json", "schema"}


def test_cli_writes_reproducible_jsonl(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        path = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "simulate", "--seed", "5", "--leads", "40",
             "--events", "300", "--now", "2026-11-20T12:00:00", "--jsonl", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "sent 300 messages" in done.stderr and "(seed 5)" in done.stderr
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 300
