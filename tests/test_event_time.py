"""Guarantee 8: an event dated too far after its message's broker timestamp is dead-lettered
`future_event` and changes nothing; the offline scorer applies the same rule against its
own time reference; old events stay valid (they decay)."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest

from streams.core import ScoringModel
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, SentMessage, memory_pipeline
from streams.tools.score import score_lines
from tests.core_events import BASE, raw

PREFIX = "p."
MODEL = ScoringModel.load()


def clicks(lead: str, n: int) -> list[bytes]:
    return [raw("email.clicked", lead, 60 * i, f"{lead}-c{i}") for i in range(n)]


def message(value: bytes, offset: int, produced: datetime) -> FakeMessage:
    lead = orjson.loads(value)["lead_id"]
    topic = f"{PREFIX}leads.email-clicks"
    return FakeMessage(
        topic, partition_for(lead, PARTITIONS), offset, lead.encode(), value, produced.timestamp()
    )


def scores_of(sent: list[SentMessage], lead: str) -> list[dict[str, object]]:
    topic = f"{PREFIX}leads.scores"
    return [
        orjson.loads(m.value or b"") for m in sent if m.topic == topic and m.key == lead.encode()
    ]


@pytest.mark.parametrize("ahead", [timedelta(days=365 * 40), timedelta(hours=25)])
def test_a_far_future_event_is_dead_lettered_and_changes_nothing(ahead: timedelta) -> None:
    pipe, sent, store = memory_pipeline()
    produced = BASE + timedelta(hours=4)  # every message is produced after its event
    for n, value in enumerate(clicks("L1", 3)):
        pipe.handle(message(value, n, produced))
    state_before = store["L1"]
    score_before = scores_of(sent, "L1")[-1]
    future = raw("email.clicked", "L1", (ahead + timedelta(hours=4)).total_seconds() / 60, "fut")
    pipe.handle(message(future, 10, produced))
    letters = [orjson.loads(m.value) for m in sent if m.topic == f"{PREFIX}leads.dead-letter"]
    assert [d["error"] for d in letters] == ["future_event"]
    assert "after the message's timestamp" in letters[0]["detail"]
    assert orjson.loads(letters[0]["payload"])["event_id"] == "fut"  # the payload is kept
    assert store["L1"] == state_before and scores_of(sent, "L1")[-1] == score_before


def test_events_within_the_skew_and_old_events_are_applied() -> None:
    pipe, sent, _store = memory_pipeline()
    produced = BASE
    soon = raw("email.clicked", "L2", 23 * 60, "soon")  # 23 h after its timestamp
    old = raw("email.clicked", "L2", -5 * 365 * 24 * 60, "old")  # five years before
    for n, value in enumerate([soon, old]):
        pipe.handle(message(value, n, produced))
    assert not [m for m in sent if m.topic == f"{PREFIX}leads.dead-letter"]
    assert scores_of(sent, "L2")[-1]["events_counted"] == 2


def test_the_offline_scorer_judges_against_its_reference_time() -> None:
    far = raw("email.clicked", "L3", 60 * 24 * 365 * 30, "far")
    lines = [*clicks("L3", 3), far]
    reference = BASE + timedelta(hours=4)
    run = score_lines(lines, MODEL, reference)
    assert run.errors["future_event"] == 1 and run.outcomes["applied"] == 3
    without = score_lines(clicks("L3", 3), MODEL, reference)
    assert [s.score for s in run.final_scores()] == [s.score for s in without.final_scores()]
    # the same file judged from thirty years later: the event is no longer in the future
    later = score_lines(lines, MODEL, reference + timedelta(days=365 * 31))
    assert later.errors["future_event"] == 0 and later.outcomes["applied"] == 4


def test_stream_and_offline_agree_with_a_future_event() -> None:
    lines = [*clicks("L4", 4), raw("email.clicked", "L4", 60 * 24 * 365 * 30, "far")]
    produced = BASE + timedelta(hours=6)
    pipe, sent, _ = memory_pipeline()
    for n, value in enumerate(lines):
        pipe.handle(message(value, n, produced))
    offline = score_lines(lines, MODEL, produced)
    fields = ("score", "engagement", "events_counted", "last_event_at")
    streamed = scores_of(sent, "L4")[-1]
    final = orjson.loads(next(offline.final_scores()).model_dump_json())
    assert {f: streamed[f] for f in fields} == {f: final[f] for f in fields}
