"""Lead states written by earlier releases load, score the same and are upgraded on touch.

tests/data/states-v1.json holds states captured from release 147c1e9 (version 1, JSON) by
tests/data/capture_states_v1.py, with the events that made them and that release's cards.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.codec import parse_event
from schemas.events import InputEvent
from streams.core import LeadState, Position, ScoringModel, process, rescore, score
from streams.core.state import VERSION
from streams.tools.score import topic_for

# The model in force when the states were captured.
MODEL = ScoringModel.load(Path(__file__).parent / "data" / "default-model-2026.11.1.yaml")
NOW = datetime(2026, 11, 27, tzinfo=UTC)
CAPTURED = orjson.loads((Path(__file__).parent / "data" / "states-v1.json").read_bytes())
BY_NAME = {c["name"]: c for c in CAPTURED}


def events(case: dict[str, Any]) -> list[InputEvent]:
    out = []
    for doc in case["events"]:
        raw = orjson.dumps(doc)
        out.append(parse_event(raw, topic_for(raw)))
    return out


def loaded(case: dict[str, Any]) -> LeadState:
    return LeadState.from_bytes(case["state"].encode())


@pytest.mark.parametrize("case", CAPTURED, ids=lambda c: c["name"])
def test_a_version_1_state_scores_as_it_did(case: dict[str, Any]) -> None:
    state = loaded(case)
    if case["card"] is None:
        assert state.is_marker_only
        return
    later = (state.last_event_us or 0) + 10 * 86_400_000_000
    same_as(score(state, MODEL).published(), case["card"])
    same_as(score(state, MODEL, later).published(), case["card_10_days_later"])


def same_as(card: dict[str, Any], then: dict[str, Any]) -> None:
    """The card that release published, but for what changed by design since: fields
    added (contactable), and factors that now also list every loss beyond the top five."""
    assert {k: card[k] for k in then if k != "factors"} == {
        k: v for k, v in then.items() if k != "factors"
    }
    assert all(f in card["factors"] for f in then["factors"]), (card["factors"], then["factors"])


@pytest.mark.parametrize("case", CAPTURED, ids=lambda c: c["name"])
def test_a_version_1_state_knows_its_events(case: dict[str, Any]) -> None:
    """Each event it holds is a duplicate; only those evicted beyond the window are not
    known (stale: counted again, never kept)."""
    state, before = loaded(case), loaded(case)
    outcomes = Counter(process(state, e, MODEL, NOW).outcome for e in events(case))
    assert set(outcomes) <= {"duplicate", "stale", "ignored_erased"}, outcomes
    assert outcomes["stale"] == before.evicted
    assert state.records == before.records and state.profile == before.profile
    assert state.signals == before.signals and state.erased_at == before.erased_at


@pytest.mark.parametrize("case", CAPTURED, ids=lambda c: c["name"])
def test_an_upgraded_state_is_the_state_todays_code_builds(case: dict[str, Any]) -> None:
    """Upgraded, then touched by one more event: byte for byte what today's code makes of
    all the events."""
    lead = case["events"][0]["lead_id"]
    more = {"event_id": "new", "lead_id": lead, "type": "signup", "email": "a@acme-corp.com"}
    more["occurred_at"] = "2026-11-20T09:00:00+00:00"
    extra = parse_event(orjson.dumps(more), topic_for(orjson.dumps(more)))
    upgraded = loaded(case)
    process(upgraded, extra, MODEL, NOW)
    fresh = LeadState(lead)
    for n, e in enumerate([*events(case), extra]):
        process(fresh, e, MODEL, NOW, Position("t", 0, n) if e is not extra else None)
    fresh.last_position = upgraded.last_position  # the capture's positions are its own
    # Version 1 did not keep the oldest time counted beyond the window: the upgraded state
    # knows only those counted since (an erasure forgets the count, as version 1 did).
    if fresh.evicted:
        assert upgraded.evicted_from is None or upgraded.evicted_from >= fresh.evicted_from
    fresh.evicted_from = upgraded.evicted_from
    assert upgraded.to_bytes() == fresh.to_bytes()
    assert upgraded.to_bytes()[0] == VERSION


def test_a_version_1_redelivery_republishes_its_alerts_and_leaves_a_changed_card_to_the_sweep() -> (
    None
):
    """The outbox alerts go out again as they were. The score, published then without
    `contactable`, is no longer the card this release computes: a redelivery sends no
    score with another content, and the next sweep publishes the current one."""
    case = BY_NAME["hot"]
    state = loaded(case)
    outbox = {s.alert["alert_id"]: s.alert for s in state.outbox}
    assert outbox, "the captured hot lead has alerts in its outbox"
    evs = events(case)
    republished = {}
    for n, e in enumerate(evs):
        step = process(state, e, MODEL, NOW, Position("t", 0, n))
        republished.update({a.alert_id: a.model_dump(mode="json") for a in step.alerts})
        if n == len(evs) - 1:
            assert step.score is None
    assert {
        k: {f: v for f, v in a.items() if f != "contactable"} for k, a in republished.items()
    } == {k: {f: v for f, v in a.items() if f != "contactable"} for k, a in outbox.items()}
    swept = rescore(state, MODEL, NOW)
    assert swept.score is not None and swept.score.score == case["card"]["score"]


def test_states_written_before_the_outbox_still_load() -> None:
    old = orjson.loads(BY_NAME["hot"]["state"])
    del old["last_event"], old["outbox"], old["last_position"]
    state = LeadState.from_bytes(orjson.dumps(old))
    assert state.last_event is None and state.outbox == []
    evs = events(BY_NAME["hot"])
    assert not process(state, evs[-1], MODEL, NOW, Position("t", 0, len(evs) - 1)).republish


def test_states_written_before_positions_still_load() -> None:
    old = orjson.loads(BY_NAME["hot"]["state"])
    del old["last_position"]
    old["outbox"] = [sent[:2] for sent in old["outbox"]]  # [cause, alert] as they were
    state = LeadState.from_bytes(orjson.dumps(old))
    assert state.last_position is None and all(s.position is None for s in state.outbox)
    assert len(state.outbox) == len(old["outbox"]) > 0


def test_an_unknown_version_is_refused_with_its_number() -> None:
    with pytest.raises(ValueError, match="version 9"):
        LeadState.from_bytes(b"\x09anything")
