"""The Pipeline keeps recently written lead states decoded; the table stays the truth."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from streams.app import pipeline as pipeline_module
from streams.core.state import LeadState
from streams.kafka.partitioning import partition_for
from tests.test_hostile_input import PARTITIONS, Msg, Store, pipeline, valid_doc

OPENS = "p.leads.email-opens"
CLICKS = "p.leads.email-clicks"


def opened(lead: str, eid: str, offset: int) -> Msg:
    raw = orjson.dumps(valid_doc("email.opened", lead=lead, eid=eid))
    return Msg(OPENS, partition_for(lead, PARTITIONS), offset, lead.encode(), raw)


def clicked(lead: str, eid: str, offset: int) -> Msg:
    raw = orjson.dumps(valid_doc("email.clicked", lead=lead, eid=eid))
    return Msg(CLICKS, partition_for(lead, PARTITIONS), offset, lead.encode(), raw)


class CountingStore(Store):
    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)


def counting_pipeline() -> tuple[Any, CountingStore]:
    pipe, _sent, _ = pipeline()
    pipe.store = store = CountingStore()
    return pipe, store


def test_a_leads_next_event_skips_the_table_read_and_the_state_matches_it() -> None:
    pipe, store = counting_pipeline()
    pipe.handle(opened("L1", "e1", 1))
    pipe.handle(opened("L1", "e2", 2))
    assert store.reads == 1  # the first event only
    assert pipe.load("L1") == LeadState.from_bytes(store["L1"])
    assert pipe.load("L1").events_counted == 2


def test_forget_states_reads_the_table_again() -> None:
    pipe, store = counting_pipeline()
    pipe.handle(opened("L1", "e1", 1))
    store["L1"] = LeadState("L1").to_bytes()  # another owner's write, via recovery
    pipe.forget_states()
    pipe.handle(opened("L1", "e2", 2))
    assert LeadState.from_bytes(store["L1"]).events_counted == 1


def test_a_step_that_fails_half_way_leaves_no_changed_state_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipe, store = counting_pipeline()
    pipe.handle(opened("L1", "e1", 1))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("scoring bug")

    # process() applies the event to the state in place, then scoring fails.
    monkeypatch.setattr(pipeline_module, "process", _applies_then(broken))
    pipe.handle(opened("L1", "e2", 2))  # dead-lettered as processing_error
    monkeypatch.undo()
    pipe.handle(opened("L1", "e3", 3))
    state = LeadState.from_bytes(store["L1"])
    assert sorted(state.records) == ["e1", "e3"], "the failed event's change leaked"


def test_recent_states_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_module, "RECENT_STATES", 3)
    pipe, _store = counting_pipeline()
    for n in range(5):
        pipe.handle(opened(f"L{n}", f"e{n}", n))
    assert list(pipe._recent) == ["L2", "L3", "L4"]


def _applies_then(fail: Any) -> Any:
    from streams.core.apply import apply_event

    def process(state: LeadState, event: Any, model: Any, now: Any) -> Any:
        apply_event(state, event, model)
        return fail()

    return process


async def test_a_rescore_reads_and_rescores_only_its_partition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipeline_module, "RESCORE_SLICE", 2)  # pauses on the way
    pipe, sent, _store = pipeline()
    leads = [f"lead-{n}" for n in range(30)]
    for n, lead in enumerate(leads):
        pipe.handle(clicked(lead, f"e{n}", n))
    here = [lead for lead in leads if partition_for(lead, PARTITIONS) == 0]
    assert 2 <= len(here) < len(leads)
    sent.clear()
    # A year later every lead's engagement has decayed: each lead read gets an update.
    updates = await pipe.rescore_partition(0, datetime(2027, 11, 1, tzinfo=UTC))
    rescored = sorted(k.decode() for t, k, _v, _p in sent if t == "p.leads.scores")
    assert updates == len(here) and rescored == sorted(here)
