"""A lead's score history: the last 50 published changes with their causes, erased with the
lead (streams/core/history.py, kept by the pipeline beside the state)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas.outputs import ScoreHistory
from streams.app.pipeline import Pipeline
from streams.core import history
from streams.core.history import HISTORY_SIZE, Change
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, memory_pipeline
from streams.tools.score import topic_for
from tests.core_events import FORM_FIELDS, raw

_offsets = itertools.count()


def feed(pipe: Pipeline, line: bytes, lead: str = "L1", offset: int | None = None) -> int:
    """Hand one raw event to the pipeline as the worker reads it; its offset."""
    at = next(_offsets) if offset is None else offset
    contract = topic_for(line)
    topic = next(full for full, t in pipe.inputs.items() if t.name == contract)
    message = FakeMessage(topic, partition_for(lead, PARTITIONS), at, lead.encode(), line)
    pipe.handle(message)
    return at


def changes(pipe: Pipeline, lead: str = "L1") -> list[dict[str, object]]:
    found = pipe.history(lead)
    return [] if found is None else [c.model_dump(mode="json") for c in found.changes]


def test_each_published_score_is_a_row_with_its_event() -> None:
    pipe, _sent, _ = memory_pipeline()
    feed(pipe, raw("form.submitted", eid="f1", **FORM_FIELDS))
    feed(pipe, raw("email.clicked", eid="c1", minutes=5, message_id="m1", url="https://x.io/a"))
    rows = changes(pipe)
    assert [(r["cause"], r["event_type"], r["event_id"]) for r in rows] == [
        ("event", "form.submitted", "f1"),
        ("event", "email.clicked", "c1"),
    ]
    assert rows[1]["score"] > rows[0]["score"]  # type: ignore[operator]
    assert rows[1]["occurred_at"] == "2026-11-01T09:05:00Z"
    # The answer validates as the documented schema (deploy/openapi.yaml).
    ScoreHistory.model_validate(pipe.history("L1"))


def test_a_duplicate_adds_no_row_and_an_unchanged_score_none() -> None:
    pipe, _sent, _ = memory_pipeline()
    line = raw("form.submitted", eid="f1", **FORM_FIELDS)
    feed(pipe, line)
    feed(pipe, line)  # a producer's retry: a new message, a known event
    feed(pipe, raw("lead.outcome", eid="o1", minutes=1, outcome="lost"))  # no published change
    assert len(changes(pipe)) == 1


def test_a_redelivery_puts_back_the_row_a_crash_lost() -> None:
    pipe, _sent, _ = memory_pipeline()
    line = raw("form.submitted", eid="f1", **FORM_FIELDS)
    offset = feed(pipe, line)
    del pipe.history_store["L1"]  # the state reached the table, the history write did not
    pipe.forget_states()
    feed(pipe, line, offset=offset)  # the same message again: its score is re-published
    assert [r["event_id"] for r in changes(pipe)] == ["f1"]


def test_rescores_and_recycling_name_their_cause() -> None:
    pipe, _sent, _ = memory_pipeline()
    for i in range(6):
        feed(pipe, raw("email.clicked", eid=f"c{i}", minutes=i, message_id="m", url="https://x/"))
    partition = partition_for("L1", PARTITIONS)
    later = datetime(2026, 11, 1, 9, tzinfo=UTC) + timedelta(days=45)
    pipe.rescore_slice(partition, later, reason="decay sweep")
    feed(pipe, raw("lead.recycled", eid="r1", minutes=46 * 1440, reason="back to nurture"))
    causes = [r["cause"] for r in changes(pipe)]
    assert causes[-2:] == ["decay", "recycling"], causes
    assert changes(pipe)[-1]["event_type"] == "lead.recycled"
    feed(pipe, raw("form.submitted", eid="f1", minutes=47 * 1440, **FORM_FIELDS))
    weights = pipe.model.weights.model_copy(update={"fit": 0.9, "engagement": 0.1})
    pipe.model = pipe.model.model_copy(update={"model_version": "v-next", "weights": weights})
    pipe.rescore_slice(partition, later, reason="new model")
    assert changes(pipe)[-1]["cause"] == "model"


def test_erasure_deletes_the_history_and_a_new_life_starts_one() -> None:
    pipe, _sent, _ = memory_pipeline()
    feed(pipe, raw("form.submitted", eid="f1", **FORM_FIELDS))
    assert changes(pipe)
    feed(pipe, raw("lead.erased", eid="x1", minutes=1))
    assert pipe.history("L1") is None
    assert "L1" not in pipe.history_store
    feed(pipe, raw("signup", eid="s1", minutes=2, email="new.person@acme-corp.com"))
    assert [r["event_id"] for r in changes(pipe)] == ["s1"]


def test_only_the_last_fifty_are_kept_oldest_first() -> None:
    pipe, _sent, _ = memory_pipeline()
    feed(pipe, raw("form.submitted", eid="f0", **FORM_FIELDS))
    for i in range(80):  # a title change each time moves fit, so the score changes
        title = "VP Marketing" if i % 2 else "Intern"
        feed(
            pipe,
            raw(
                "form.submitted",
                eid=f"f{i + 1}",
                minutes=i + 1,
                **FORM_FIELDS | {"job_title": title},
            ),
        )
    rows = changes(pipe)
    assert len(rows) == HISTORY_SIZE
    assert rows[-1]["event_id"] == "f80"
    times = [r["changed_at"] for r in rows]
    assert times == sorted(times)


def test_an_erasure_of_an_unknown_lead_writes_no_history() -> None:
    pipe, _sent, _ = memory_pipeline()
    feed(pipe, raw("lead.erased", eid="x1"))
    assert pipe.history_store.get("L1") is None


# --- the pure core ------------------------------------------------------------------------

_change = st.builds(
    Change,
    changed_at_us=st.integers(0, 2**52),
    score=st.integers(0, 100),
    stage=st.sampled_from(["new", "engaged", "mql", "sql"]),
    grade=st.sampled_from(["A", "B", "C", "D"]),
    cause=st.sampled_from(["event", "decay", "model", "recycling"]),
    event_type=st.none() | st.sampled_from(["email.opened", "signup"]),
    event_id=st.none() | st.text(min_size=1, max_size=40),
    occurred_at_us=st.none() | st.integers(0, 2**52),
)


@given(st.lists(_change, max_size=120))
def test_record_keeps_the_newest_fifty_and_skips_repeats(rows: list[Change]) -> None:
    raw_history: bytes | None = None
    expected: list[Change] = []
    for row in rows:
        written = history.record(raw_history, row)
        if expected and expected[-1].same_as(row):
            assert written is None
            continue
        assert written is not None
        raw_history = written
        expected = [*expected, row][-HISTORY_SIZE:]
    assert history.decode(raw_history) == expected


def test_the_rows_encoding_is_small() -> None:
    row = Change(1, 55, "mql", "B", "event", "email.clicked", "e" * 36, 2)
    full = history.encode([row] * HISTORY_SIZE)
    assert len(full) < 80 * HISTORY_SIZE  # about 4 KB per lead at most, with 36-char ids
    assert orjson.loads(orjson.dumps(row.as_json()))["cause"] == "event"
