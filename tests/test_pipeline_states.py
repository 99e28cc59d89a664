"""The Pipeline around the table: recent states kept decoded (the table stays the truth),
and decay sweeps that walk one partition in slices."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from rocksdict import Options, Rdict

from streams.app import pipeline as pipeline_module
from streams.app.tables import TableStore
from streams.core import event_key
from streams.core.state import LeadState
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, MemoryStore, memory_pipeline
from tests.core_events import valid_doc

OPENS = "p.leads.email-opens"
CLICKS = "p.leads.email-clicks"


def opened(lead: str, eid: str, offset: int) -> FakeMessage:
    raw = orjson.dumps(valid_doc("email.opened", lead=lead, eid=eid))
    return FakeMessage(OPENS, partition_for(lead, PARTITIONS), offset, lead.encode(), raw)


def clicked(lead: str, eid: str, offset: int) -> FakeMessage:
    raw = orjson.dumps(valid_doc("email.clicked", lead=lead, eid=eid))
    return FakeMessage(CLICKS, partition_for(lead, PARTITIONS), offset, lead.encode(), raw)


class CountingStore(MemoryStore):
    reads = 0

    def get(self, key: str, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)


def counting_pipeline() -> tuple[Any, CountingStore]:
    pipe, _sent, _ = memory_pipeline()
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
    kept = {r.event for r in state.records}
    assert kept == {event_key("e1"), event_key("e3")}, "the failed event's change leaked"


def test_recent_states_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_module, "RECENT_STATES", 3)
    pipe, _store = counting_pipeline()
    for n in range(5):
        pipe.handle(opened(f"L{n}", f"e{n}", n))
    assert pipe.recent_leads == ["L2", "L3", "L4"]


def _applies_then(fail: Any) -> Any:
    from streams.core.apply import apply_event

    def process(state: LeadState, event: Any, model: Any, *args: Any) -> Any:
        apply_event(state, event, model)
        return fail()

    return process


def test_a_sweep_goes_through_its_partition_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline_module, "RESCORE_SLICE", 2)
    pipe, sent, _store = memory_pipeline()
    leads = [f"lead-{n}" for n in range(40)]
    for n, lead in enumerate(leads):
        pipe.handle(clicked(lead, f"e{n}", n))
    here = sorted(lead for lead in leads if partition_for(lead, PARTITIONS) == 0)
    assert 3 <= len(here) < len(leads)
    sent.clear()
    # A year later every lead's engagement has decayed: each lead read gets an update.
    command = orjson.dumps({"reason": "decay sweep", "as_of": "2027-11-01T00:00:00+00:00"})
    commands = 0
    while command is not None:
        commands += 1
        pipe.handle_rescore(FakeMessage("p.leads.rescore", 0, commands, b"rescore", command))
        more = [v for t, _k, v, p in sent if t == "p.leads.rescore" and p == 0]
        assert len(more) <= 1
        sent[:] = [s for s in sent if s[0] != "p.leads.rescore"]
        command = more[0] if more else None
    rescored = [k.decode() for t, k, _v, _p in sent if t == "p.leads.scores"]
    assert sorted(rescored) == here, "each lead of the partition once, no other"
    # The leads' slices, then one command for the partition's visitors and one for its
    # accounts (none here: the leads have no email).
    assert commands == len(here) // 2 + 1 + 1 + 1
    assert pipe.visitors_held[0] == 0
    assert pipe.accounts_held[0] == 0
    assert pipe.leads[0] == len(here)


class _RocksData:
    """What TableStore reads of Faust's RocksDB store: its per-partition databases."""

    offset_key = b"__faust\0offset__"
    use_rocksdict = True

    def __init__(self, dbs: dict[int, Any]) -> None:
        self._dbs = dbs


def test_table_slices_walk_a_rocksdb_partition_in_key_order(tmp_path: Path) -> None:
    leads = {f"lead-{n:03d}": f"state {n}".encode() for n in range(7)}
    leads["lead-é"] = b"non-ascii id"
    db = Rdict(str(tmp_path / "p0"), Options(raw_mode=True))
    try:
        for key, value in leads.items():
            db[key.encode()] = value
        db[_RocksData.offset_key] = b"42"  # Faust's own bookkeeping, not a lead
        store = TableStore(SimpleNamespace(data=_RocksData({0: db})), PARTITIONS)
        walked: list[tuple[str, bytes]] = []
        after = None
        while True:
            part = store.partition_slice(0, after, 3)
            walked += part
            if len(part) < 3:
                break
            after = part[-1][0]
        assert walked == sorted(leads.items())
        assert store.partition_slice(1, None, 3) == []  # a partition this worker lacks
    finally:
        db.close()


def test_memory_table_slices_filter_the_partition_in_key_order() -> None:
    leads = {f"lead-{n}": f"state {n}".encode() for n in range(40)}
    stored = [(k.encode(), v) for k, v in leads.items()]
    table = SimpleNamespace(data=object(), items=lambda: stored)
    store = TableStore(table, PARTITIONS)
    mine = sorted((k, v) for k, v in leads.items() if partition_for(k, PARTITIONS) == 2)
    assert store.partition_slice(2, None, 100) == mine
    assert store.partition_slice(2, mine[0][0], 2) == mine[1:3]


def test_exactly_once_republishes_only_what_this_process_has_not_committed() -> None:
    """Under exactly_once a duplicate at its own position re-publishes only when this
    process applied it since its partition's last commit (the transaction may have been
    aborted); a committed one, or one read from the committed changelog, publishes nothing."""
    pipe, sent, store = memory_pipeline(exactly_once=True)
    first = opened("L1", "e1", 5)
    pipe.handle(first)
    before = len(sent)
    pipe.handle(opened("L1", "e1", 5))  # replayed after an abort: outputs may be lost
    assert len(sent) > before, "a replay of an uncommitted event publishes again"
    pipe.committed({(first.topic, first.partition): 6})
    before = len(sent)
    pipe.handle(opened("L1", "e1", 5))  # its outputs committed with its state
    assert len(sent) == before
    fresh, fresh_sent, fresh_store = memory_pipeline(exactly_once=True)
    fresh_store.update(store)  # another worker, its table recovered from the changelog
    fresh.handle(opened("L1", "e1", 5))
    assert fresh_sent == []
    plain, plain_sent, plain_store = memory_pipeline()
    plain_store.update(store)  # at_least_once: the replay may always owe its outputs
    plain.handle(opened("L1", "e1", 5))
    assert plain_sent != []


class Changelog(MemoryStore):
    """A table whose writes are also logged, as its changelog topic would receive them."""

    def __init__(self) -> None:
        super().__init__(PARTITIONS)
        self.written: list[str] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        self.written.append(key)
        super().__setitem__(key, value)


def test_exactly_once_writes_again_every_state_an_aborted_transaction_held() -> None:
    """An abort in this process (open transactions at a rebalance) drops the transaction's
    changelog writes, while the local store keeps them. Each replayed message must write
    the states it changed again (the lead's and its history, a held view's visitor's, a
    contribution's account's), or the changelog, and every worker that recovers from it,
    misses them."""
    pipe, sent, _ = memory_pipeline(exactly_once=True)
    names = ("leads", "visitors", "accounts", "history")
    tables = {name: Changelog() for name in names}
    pipe.store, pipe.visitor_store, pipe.account_store, pipe.history_store = tables.values()
    form_doc = valid_doc("form.submitted", lead="L1", eid="f1")
    form = FakeMessage(
        "p.leads.forms", partition_for("L1", PARTITIONS), 5, b"L1", orjson.dumps(form_doc)
    )
    view_doc = {**valid_doc("page.viewed", eid="v1"), "anonymous_id": "A1"}
    del view_doc["lead_id"]
    view = FakeMessage(
        "p.leads.web", partition_for("A1", PARTITIONS), 7, b"A1", orjson.dumps(view_doc)
    )
    pipe.handle(form)
    pipe.handle(view)
    (contribution,) = [
        FakeMessage(s.topic, s.partition or 0, 9, s.key, s.value)
        for s in sent
        if s.topic == "p.accounts.contributions"
    ]
    pipe.handle(contribution)
    assert {name: t.written for name, t in tables.items()} == {
        "leads": ["L1"],
        "visitors": ["A1"],
        "accounts": ["acme-corp.com"],
        "history": ["L1"],
    }
    for table in tables.values():
        table.written.clear()  # the transaction is aborted; the local store keeps its writes
    pipe.forget_states()  # as at a rebalance
    for msg in (form, view, contribution):  # replayed from the committed offsets
        pipe.handle(msg)
    assert {name: t.written for name, t in tables.items()} == {
        "leads": ["L1"],
        "visitors": ["A1"],
        "accounts": ["acme-corp.com"],
        "history": ["L1"],
    }, "a replay after an abort must write again what the transaction held"
    pipe.committed({(m.topic, m.partition): m.offset + 1 for m in (form, view, contribution)})
    for table in tables.values():
        table.written.clear()
    for msg in (form, view, contribution):  # committed: a plain duplicate writes nothing
        pipe.handle(msg)
    assert all(not t.written for t in tables.values())
