"""exactly_once: table writes kept in memory and written once per key per commit
(LEADSCORE_STATE_WRITES=per_commit, streams/app/tables.py).

A kept write is read back at once, goes to the table as the event that made it (Faust
takes the write's partition and transaction from that event), and the pipeline ends with
the same tables and the same outputs as when every event writes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest.mock import patch

import orjson
import pytest
from faust.streams import current_event
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.app.pipeline import Pipeline
from streams.app.tables import TableStore
from streams.core.model import ScoringModel
from streams.core.state import LeadState
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.testing import PARTITIONS, FakeMessage, MemoryStore, SentMessage, memory_pipeline
from streams.tools.simulate import Faults, generate
from streams.upstream.tables import handling
from tests.core_events import valid_doc
from tests.kafka_helpers import Consumed, Record, consume_until, produce, read_all
from tests.worker_proc import WorkerProcess, module_worker

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODEL = ScoringModel.load()


@dataclass
class _Event:  # what Faust's current_event() hands a table: the message being handled
    message: FakeMessage


class FakeTable(dict[str, bytes]):
    """A Faust table as TableStore uses it, recording each write's current event."""

    def __init__(self) -> None:
        super().__init__()
        self.data = self
        self.writes: list[tuple[str, bytes | None, Any]] = []

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes.append((key, value, current_event()))
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.writes.append((key, None, current_event()))
        super().__delitem__(key)


def event(partition: int = 3, offset: int = 7, topic: str = "p.leads.forms") -> _Event:
    return _Event(FakeMessage(topic, partition, offset, b"k", b"{}"))


def test_handling_makes_the_event_fausts_current_one() -> None:
    """The upstream behaviour the kept writes rely on: Faust's tables and upstream/buffer.py ask
    `faust.streams.current_event()`, which reads the context variable set here."""
    e = event()
    assert current_event() is None
    with handling(e):
        assert current_event() is e
        with handling(other := event(1)):
            assert current_event() is other
        assert current_event() is e
    assert current_event() is None


def test_a_kept_write_is_read_back_and_written_once_as_its_last_event() -> None:
    table = FakeTable()
    store = TableStore(table, PARTITIONS, checkpointed=True)
    first, last, elsewhere = event(3, 7), event(3, 9), event(1, 2)
    with handling(first):
        store["L1"] = b"v1"
    with handling(last):
        store["L1"] = b"v2"
    with handling(elsewhere):
        store["L2"] = b"w1"
    assert table.writes == [], "nothing reaches the table before the checkpoint"
    assert store.get("L1") == b"v2" and store.get("L2") == b"w1"
    assert store.unwritten == 2
    assert store.checkpoint() == 2
    assert table.writes == [("L1", b"v2", last), ("L2", b"w1", elsewhere)]
    assert store.unwritten == 0 and store.checkpoint() == 0
    assert store.get("L1") == b"v2", "read from the table once written"


def test_a_kept_delete_removes_the_key_at_the_checkpoint_and_reads_as_gone() -> None:
    table = FakeTable()
    table.update({"gone": b"old"})
    store = TableStore(table, PARTITIONS, checkpointed=True)
    with handling(event()):
        del store["gone"]
        store["new"] = b"x"
        del store["new"]  # written and deleted before any checkpoint: never in the table
    assert store.get("gone") is None and store.get("new") is None
    store.checkpoint()
    assert dict(table) == {}
    assert [(k, v) for k, v, _ in table.writes] == [("gone", None)]


def test_a_write_outside_an_event_is_refused() -> None:
    store = TableStore(FakeTable(), PARTITIONS, checkpointed=True)
    with pytest.raises(TypeError, match="while an event is handled"):
        store["L1"] = b"v"


def test_a_rebalance_drops_only_the_kept_writes_of_partitions_gone() -> None:
    table = FakeTable()
    store = TableStore(table, PARTITIONS, checkpointed=True)
    with handling(event(1)):
        store["kept"] = b"a"
    with handling(event(4)):
        store["lost"] = b"b"
    store.forget_unwritten({1, 2})
    assert store.get("lost") is None, "partition 4's events are replayed by its next owner"
    store.checkpoint()
    assert dict(table) == {"kept": b"a"}


def test_a_slice_reads_kept_writes_too() -> None:
    table = FakeTable()
    store = TableStore(table, PARTITIONS, checkpointed=True)
    with handling(event(0)):
        store["L1"] = b"v"
    [partition] = {p for p in range(PARTITIONS) if store.partition_slice(p, None, 10)}
    assert store.partition_slice(partition, None, 10) == [("L1", b"v")]


def test_per_commit_needs_exactly_once_and_is_its_default() -> None:
    assert Settings().effective_state_writes == "per_event"
    eos = Settings(processing_guarantee="exactly_once")
    assert eos.effective_state_writes == "per_commit"
    per_event = Settings(processing_guarantee="exactly_once", state_writes="per_event")
    assert per_event.effective_state_writes == "per_event"
    with pytest.raises(ValidationError, match="per_commit needs exactly_once"):
        Settings(state_writes="per_commit")


# --- the pipeline over kept writes: the same tables and outputs -------------------------


def _pipeline(stores: list[Any]) -> tuple[Pipeline, list[SentMessage]]:
    """The tests' memory pipeline (exactly_once) over these four stores."""
    pipe, sent, _ = memory_pipeline(MODEL, exactly_once=True)
    pipe.store, pipe.visitor_store, pipe.account_store, pipe.history_store = stores
    return pipe, sent


def _run(pipe: Pipeline, sent: list[SentMessage], checkpoint_after: set[int]) -> None:
    """Feed the simulated stream and what the pipeline sends to its own internal topics,
    each message as the event being handled, with a commit after the chosen messages."""
    internal = {full for full, topic in pipe.inputs.items() if topic.direction == "internal"}
    queue = [
        FakeMessage(f"p.{e.topic}", partition_for(e.key.decode(), PARTITIONS), n, e.key, e.value)
        for n, e in enumerate(_STREAM)
    ]
    handled, fed, offset = 0, 0, 1_000_000
    while queue:
        msg = queue.pop(0)
        with handling(_Event(msg)):
            pipe.handle(msg)
        for out in sent[fed:]:  # forwards, on the partition they were sent to
            if out.topic in internal and out.partition is not None:
                offset += 1
                queue.append(FakeMessage(out.topic, out.partition, offset, out.key, out.value))
        fed = len(sent)
        handled += 1
        if handled in checkpoint_after:
            for store in (pipe.store, pipe.visitor_store, pipe.account_store, pipe.history_store):
                if isinstance(store, TableStore):
                    store.checkpoint()


class _FrozenClock(datetime):
    """The pipeline's clock, stopped: messages and states carry when they were made."""

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime(2026, 3, 2, tzinfo=UTC)


def _frozen() -> ExitStack:
    stack = ExitStack()
    for module in ("streams.app.pipeline", "streams.app.deadletter"):
        stack.enter_context(patch(f"{module}.datetime", _FrozenClock))
    return stack


_STREAM = list(generate(seed=5, leads=30, events=400, faults=Faults(), now=NOW))
_HANDLED = 900  # at most: the stream and its forwards


@settings(max_examples=15, deadline=None)
@given(st.sets(st.integers(1, 900), max_size=40))
def test_kept_writes_end_with_the_same_tables_and_outputs_as_per_event_writes(
    commits: set[int],
) -> None:
    plain_stores = [MemoryStore() for _ in range(4)]
    plain, plain_sent = _pipeline(plain_stores)
    tables = [FakeTable() for _ in range(4)]
    kept = [TableStore(t, PARTITIONS, checkpointed=True) for t in tables]
    pipe, sent = _pipeline(kept)
    with _frozen():
        _run(plain, plain_sent, set())
        _run(pipe, sent, commits)
    assert sent == plain_sent, "outputs do not depend on when tables are written"
    for store in kept:
        store.checkpoint()
    for table, expected in zip(tables, plain_stores, strict=True):
        assert dict(table) == dict(expected)
    checkpoints = len([c for c in commits if c <= _HANDLED]) + 1
    for table in tables:
        per_key = Counter(key for key, _, _ in table.writes)
        assert max(per_key.values(), default=0) <= checkpoints, "at most once per commit"


def test_one_commit_writes_each_lead_once() -> None:
    tables = [FakeTable() for _ in range(4)]
    kept = [TableStore(t, PARTITIONS, checkpointed=True) for t in tables]
    pipe, sent = _pipeline(kept)
    _run(pipe, sent, set())
    kept[0].checkpoint()
    leads = tables[0]
    assert len(leads.writes) == len(leads) > 0
    applied = sum(LeadState.from_bytes(v).events_counted for v in leads.values())
    assert applied > 2 * len(leads), "the stream has several events per lead"


# --- on the real broker: an exactly_once worker --------------------------------------


@pytest.fixture(scope="module")
def eos_worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    # A long commit period, so that a burst of one lead's events falls within one commit.
    with module_worker(
        kafka_bootstrap,
        tmp_path_factory,
        "checkpoint",
        processing_guarantee="exactly_once",
        commit_interval_seconds=3.0,
    ) as proc:
        yield proc


@pytest.mark.kafka
async def test_an_exactly_once_worker_writes_a_burst_of_one_lead_once_per_commit(
    eos_worker: WorkerProcess,
) -> None:
    settings = eos_worker.settings
    lead_id = f"burst-{uuid.uuid4().hex[:6]}"
    burst = 12
    records = [
        Record(lead_id, orjson.dumps(valid_doc("email.opened", lead_id, f"e{n}", minutes=n)))
        for n in range(burst)
    ]
    await produce(settings.kafka_bootstrap, settings.topic("leads.email-opens"), records)

    def counted(seen: list[Consumed]) -> bool:
        return any(r.key_text == lead_id and r.json()["events_counted"] == burst for r in seen)

    scores = await consume_until(
        settings.kafka_bootstrap,
        settings.topic("leads.scores"),
        counted,
        timeout=60,
        what=f"{lead_id}'s score counting its {burst} events",
    )
    mine = [r for r in scores if r.key_text == lead_id]
    assert len(mine) == burst, "each event's score is published, once"
    changelog = await read_all(settings.kafka_bootstrap, f"{settings.app_id}-leads-changelog")
    states = [r for r in changelog if r.key_text == lead_id]
    assert 1 <= len(states) < burst / 2, (
        f"{len(states)} changelog messages for {burst} events of one lead within a commit"
    )
    assert LeadState.from_bytes(states[-1].value or b"").events_counted == burst
