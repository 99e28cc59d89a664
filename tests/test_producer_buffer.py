"""The worker's producer buffer drains completely before Faust commits offsets.

A slow hand-over (aiokafka's `send` waits while a batch is full) made Faust's stock buffer
return from `flush` early; the commit then overtook buffered table writes, and a worker
killed right after lost events whose offsets were committed (seen in the failover suite).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from faust.transport.producer import ProducerBuffer

from streams.app.worker import new_app
from streams.settings import Settings
from streams.upstream.buffer import DrainingBuffer, install_draining_buffer

HAND_OVER_SECONDS = 0.25  # longer than the stock buffer's 0.1 s patience


class SlowChannel:
    """Stands in for a Faust channel whose producer accepts one message per hand-over."""

    def __init__(self) -> None:
        self.accepted: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(HAND_OVER_SECONDS)
        self.accepted.append(fut.message.value)


async def flushed_after(buffer: ProducerBuffer, count: int) -> list[int]:
    """Buffer `count` messages, flush, and return what the producer had accepted by then."""
    channel = SlowChannel()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        for i in range(count):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel, value=i)))
        await asyncio.wait_for(buffer.flush(), timeout=30)
        accepted = list(channel.accepted)
        # Let the rest go out so the buffer stops cleanly (stock flush refuses otherwise).
        for _ in range(100):
            if len(channel.accepted) == count:
                break
            await asyncio.sleep(HAND_OVER_SECONDS)
        return accepted
    finally:
        await buffer.stop()


async def test_flush_returns_only_after_every_message_was_handed_over() -> None:
    accepted = await flushed_after(DrainingBuffer(), 4)
    assert accepted == [0, 1, 2, 3]


async def test_stock_buffer_flush_gives_up_early() -> None:
    # Why DrainingBuffer exists. When Faust fixes this, the workaround can go.
    accepted = await flushed_after(ProducerBuffer(), 4)
    assert len(accepted) < 4


async def test_flush_of_an_empty_buffer_returns_at_once() -> None:
    assert await flushed_after(DrainingBuffer(), 0) == []


async def test_flush_does_not_wait_for_messages_buffered_after_it_began() -> None:
    # Under steady load the buffer is never empty; commits must still happen.
    class GatedChannel:
        """Accepts message 0 at once, the others only when the gate opens."""

        def __init__(self) -> None:
            self.accepted: list[int] = []
            self.gate = asyncio.Event()

        async def publish_message(self, fut: Any, wait: bool = False) -> None:
            if fut.message.value:
                await self.gate.wait()
            self.accepted.append(fut.message.value)

    channel = GatedChannel()
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))

    def put(i: int) -> None:
        buffer.put(SimpleNamespace(message=SimpleNamespace(channel=channel, value=i)))

    await buffer.start()
    try:
        put(0)
        flush = asyncio.create_task(buffer.flush())
        await asyncio.sleep(0)  # the flush begins: it waits for message 0 only
        for i in range(1, 40):
            put(i)
        await asyncio.wait_for(flush, timeout=30)
        assert channel.accepted == [0]
    finally:
        channel.gate.set()
        await asyncio.wait_for(buffer.flush(), timeout=30)
        await buffer.stop()
    assert channel.accepted == list(range(40))


def test_the_worker_app_produces_through_a_draining_buffer(tmp_path: Any) -> None:
    app = new_app(Settings(data_dir=tmp_path))
    assert isinstance(app.producer.buffer, DrainingBuffer)
    assert app.producer.buffer.app is app


async def test_swapping_a_running_buffer_is_refused() -> None:
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:
        with pytest.raises(RuntimeError, match="already runs"):
            install_draining_buffer(SimpleNamespace(buffer=buffer, app=buffer.app))
    finally:
        await buffer.stop()


# --- exactly_once: the transaction of each output, and the flush before the commit ------


def test_faust_publishes_buffered_messages_outside_transactions() -> None:
    """Upstream behaviour our buffer works around: Topic.publish_message hands messages to
    the producer without a transactional id, so under exactly_once Faust's outputs and
    changelog writes are not part of its transactions. When this fails, Faust routes them
    itself and DrainingBuffer's transactional sends can go."""
    import inspect

    from faust.topics import Topic

    assert "transactional_id" not in inspect.getsource(Topic.publish_message)


def test_transactional_ids_are_named_as_faust_commits_them() -> None:
    """Outputs join the transaction whose commit carries their input's offset: the id of
    TransactionManager.commit, `{app id}-{topic group}-{partition}` of the input."""
    import inspect

    from faust.streams import _current_event
    from faust.transport.consumer import TransactionManager
    from faust.types import TP

    from streams.upstream.buffer import Source, source_of

    assert 'f"{group_id}-{group}-{tp.partition}"' in inspect.getsource(TransactionManager.commit)
    app = SimpleNamespace(
        conf=SimpleNamespace(id="p.leadscore"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
    )
    assert source_of(app) is None  # outside an event: a timer's send
    tp = TP("p.leads.forms", 4)
    event = SimpleNamespace(message=SimpleNamespace(tp=tp, offset=17))
    token = _current_event.set(lambda: event)  # type: ignore[arg-type]  # Faust keeps a weakref
    try:
        assert source_of(app) == Source("p.leadscore-0-4", tp, 17)
    finally:
        _current_event.reset(token)


async def test_transactional_commit_hands_the_buffer_over_first() -> None:
    """Hand over, commit every partition's transaction (named as upstream names them, with
    its offsets), then let the held messages go."""
    from faust.types import TP

    from streams.upstream.transactions import FlushingTransactionManager

    calls: list[Any] = []

    async def hand_over_for_commit(offsets: Any) -> None:
        calls.append("hand over")

    def end_commit() -> None:
        calls.append("end")

    async def commit_transactions(by_tid: Any, group_id: str, start_new_transaction: bool) -> None:
        calls.append((group_id, dict(by_tid)))

    manager = object.__new__(FlushingTransactionManager)
    buffer = DrainingBuffer()
    buffer.hand_over_for_commit = hand_over_for_commit  # type: ignore[method-assign]
    buffer.end_commit = end_commit  # type: ignore[method-assign]
    manager.consumer = SimpleNamespace(assignment=set)
    manager.app = SimpleNamespace(
        producer=SimpleNamespace(buffer=buffer),
        conf=SimpleNamespace(id="p.leadscore"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
        transactions_committed=[lambda offsets: calls.append(("listener", dict(offsets)))],
    )

    def transaction(open_: bool, tid: str = "") -> Any:
        async def flush() -> None:
            calls.append(("flush", tid))

        return SimpleNamespace(
            _txn_manager=SimpleNamespace(is_in_transaction=lambda: open_), flush=flush
        )

    manager.producer = SimpleNamespace(
        commit_transactions=commit_transactions,
        # p.leadscore-0-3's transaction was ended (a revocation drained its streams) and
        # is begun again only at the next assignment: a commit must not touch it.
        _transaction_producers={
            "p.leadscore-0-1": transaction(True, "p.leadscore-0-1"),
            "p.leadscore-0-2": transaction(True, "p.leadscore-0-2"),
            "p.leadscore-0-3": transaction(False, "p.leadscore-0-3"),
        },
    )
    forms, clicks, other = TP("p.leads.forms", 1), TP("p.leads.email-clicks", 1), TP("x", 2)
    ended = TP("p.leads.forms", 3)
    offsets = {forms: 10, clicks: 4, other: 7, ended: 3}
    assert await manager.commit(offsets) is True
    committed = {forms: 10, clicks: 4, other: 7}
    assert calls[0] == "hand over" and calls[-2:] == ["end", ("listener", committed)]
    middle = calls[1:-2]
    assert sorted(middle, key=str) == [
        ("flush", "p.leadscore-0-1"),
        ("flush", "p.leadscore-0-2"),
        ("p.leadscore", {"p.leadscore-0-1": {forms: 10, clicks: 4}}),
        ("p.leadscore", {"p.leadscore-0-2": {other: 7}}),
    ]
    for tid in ("p.leadscore-0-1", "p.leadscore-0-2"):
        flushed = middle.index(("flush", tid))
        assert all(tid not in c[1] for c in middle[:flushed] if c[0] == "p.leadscore"), (
            f"{tid} committed before its producer was flushed"
        )


def test_aiokafka_commits_a_transaction_without_flushing() -> None:
    """Upstream behaviour FlushingTransactionManager works around: aiokafka's
    `commit_transaction` only moves the transaction manager to COMMITTING, and its sender
    sends EndTxn whatever batches are still queued or in flight (Java's producer flushes
    first). When this fails, aiokafka flushes itself and the explicit flush can go."""
    import inspect

    from aiokafka import AIOKafkaProducer

    source = inspect.getsource(AIOKafkaProducer.commit_transaction)
    assert "committing_transaction()" in source and "flush" not in source


def test_faust_commits_transactions_without_the_buffer_one_at_a_time() -> None:
    """Upstream behaviour FlushingTransactionManager.commit works around: Faust's
    `TransactionManager.commit` commits the offsets without handing the producer buffer
    over, and its producer commits the transactions one after another (a few coordinator
    round trips each, while the buffer holds newer events' messages). When this fails,
    upstream hands the buffer over (and commits at once) and the override can go."""
    import inspect

    from faust.transport.consumer import TransactionManager
    from faust.transport.drivers.aiokafka import Producer

    commit = inspect.getsource(TransactionManager.commit)
    assert "producer.commit_transactions(" in commit
    assert "buffer" not in commit and "flush" not in commit
    one_by_one = inspect.getsource(Producer.commit_transactions)
    assert "for transactional_id, offsets in tid_to_offset_map.items():" in one_by_one
    assert "await transaction_producer.commit_transaction()" in one_by_one


def test_faust_forgets_revoked_acks_then_commits_as_its_streams_finish() -> None:
    """Upstream behaviour `DrainingBuffer.covering` works around: on a revocation Faust's
    consumer drops the revoked partitions' acks first, then waits for its streams to finish
    their events, committing as they do: a commit of some of a transaction's partitions,
    whose messages of the other partitions' events then commit without their offsets.
    When this fails, upstream commits every partition a transaction holds and the covering
    can go."""
    import inspect

    from faust import App
    from faust.transport.consumer import Consumer

    revoked = inspect.getsource(Consumer.on_partitions_revoked)
    assert revoked.index("self._acked.pop(tp, None)") < revoked.index("self._on_partitions_revoked")
    assert "_consumer_wait_empty" in inspect.getsource(App._on_partitions_revoked)
    assert "await T(self.commit)()" in inspect.getsource(Consumer.wait_empty)


def test_faust_leaves_transactions_open_across_a_rebalance() -> None:
    """Upstream behaviour FlushingTransactionManager.on_rebalance works around: Faust stops
    a revoked partition's transactional producer without aborting its transaction, and
    keeps a retained partition's transaction open while its events are replayed from the
    committed offset. When this fails, upstream aborts them and the override can go."""
    import inspect

    from faust.transport.consumer import TransactionManager
    from faust.transport.drivers.aiokafka import Producer

    assert "abort" not in inspect.getsource(TransactionManager.on_rebalance)
    assert "abort" not in inspect.getsource(Producer.stop_transaction)


def test_faust_buffers_a_hundred_messages() -> None:
    """Upstream behaviour TRANSACTIONAL_BUFFER_MESSAGES works around: Faust's producer
    buffer holds 100 messages before the agent waits, and under exactly_once it holds newer
    events' messages while each commit runs. When this fails (upstream holds far more), the
    larger buffer can go."""
    import inspect

    from streams.upstream.buffer import TRANSACTIONAL_BUFFER_MESSAGES

    assert ProducerBuffer.max_messages == 100 < TRANSACTIONAL_BUFFER_MESSAGES
    assert "if self.size > self.max_messages:" in inspect.getsource(ProducerBuffer.wait_until_ebb)


async def test_a_commit_covers_every_event_whose_messages_its_transaction_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a rebalance Faust forgets the revoked partitions' acks, then commits the offsets
    of the events its streams still finish: a commit of some of a transaction's partitions.
    The transaction held the messages of the other partitions' events too; replayed from
    their older committed offsets, those events published their outputs a second time (a
    repeated alert in the failover suite). The commit now covers them."""
    from faust.types import TP

    from streams.upstream import buffer as module
    from streams.upstream.buffer import Source
    from streams.upstream.transactions import FlushingTransactionManager

    web, visitors, other = TP("p.leads.web", 2), TP("p.leads.visitors", 2), TP("p.leads.web", 5)
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(in_transaction=True, conf=SimpleNamespace(producer_threaded=False))
    made_by = [(visitors, 105), (web, 40), (other, 9)]  # one message each
    sources = iter(Source(f"p.leadscore-0-{tp.partition}", tp, offset) for tp, offset in made_by)
    monkeypatch.setattr(module, "source_of", lambda app: next(sources))
    for _ in range(3):
        buffer.put(SimpleNamespace(message=None))  # type: ignore[arg-type]
    assert buffer.uncommitted_ends == {visitors: 106, web: 41, other: 10}

    committed: list[dict[TP, int]] = []

    async def commit_all(offsets: Any, start_new_transaction: bool) -> dict[TP, int]:
        committed.append(dict(offsets))
        return dict(offsets)

    async def hand_over(offsets: Any) -> None:
        return None

    buffer.hand_over_for_commit = hand_over  # type: ignore[method-assign]
    buffer.end_commit = lambda: None  # type: ignore[method-assign]
    manager = object.__new__(FlushingTransactionManager)
    manager.app = SimpleNamespace(producer=SimpleNamespace(buffer=buffer))
    # p.leads.web-5 was revoked: its events are not this worker's to commit any more.
    manager.consumer = SimpleNamespace(assignment=lambda: {web, visitors})
    manager._commit_all = commit_all  # type: ignore[method-assign]
    # Faust's offsets after it forgot the acks of leads.visitors-2: leads.web-2 only.
    assert await manager.commit({web: 41}) is True
    assert committed == [{web: 41, visitors: 106}]
    assert buffer.uncommitted_ends == {other: 10}, "covered events are forgotten"
    assert buffer.covering({web: 50}, {web, visitors}) == {web: 50}


def test_a_table_write_kept_for_the_commit_does_not_lower_the_covered_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A table write kept for the commit (exactly_once, LEADSCORE_STATE_WRITES=per_commit)
    is buffered as the event that made it, after the outputs of later events. Had its older
    offset lowered the end, a commit whose offsets Faust left behind (a partition with
    commit markers, say) would not cover those later events: their outputs held back, and
    the kept writes queued behind them with them, while the commit passed their events.
    The fault suite's worker kills lost whole runs of leads' events that way."""
    from faust.types import TP

    from streams.upstream import buffer as module
    from streams.upstream.buffer import Source

    visitors = TP("p.leads.visitors", 2)
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(in_transaction=True, conf=SimpleNamespace(producer_threaded=False))
    made_by = [130, 131, 117]  # two events' outputs, then a state kept since event 117
    sources = iter(Source("p.leadscore-0-2", visitors, offset) for offset in made_by)
    monkeypatch.setattr(module, "source_of", lambda app: next(sources))
    for _ in made_by:
        buffer.put(SimpleNamespace(message=None))  # type: ignore[arg-type]
    assert buffer.uncommitted_ends == {visitors: 132}
    assert buffer.covering({visitors: 118}, {visitors}) == {visitors: 132}


def test_the_worker_app_uses_them_under_exactly_once(tmp_path: Any) -> None:
    from streams.upstream.transactions import FlushingTransactionManager

    settings = Settings(data_dir=tmp_path, processing_guarantee="exactly_once")
    app = new_app(settings)
    assert app.transport.TransactionManager is FlushingTransactionManager
    assert isinstance(app.producer.buffer, DrainingBuffer)
    assert app.conf.broker_commit_interval == settings.effective_commit_interval == 0.2
    app.in_worker = True  # what faust.Worker sets; only then does the app use transactions
    assert app.in_transaction
    assert new_app(Settings(data_dir=tmp_path)).conf.broker_commit_interval == 2.8


def test_the_producer_linger_is_a_setting(tmp_path: Any) -> None:
    """LEADSCORE_PRODUCER_LINGER_MS (milliseconds) is Faust's producer_linger (seconds)."""
    assert new_app(Settings(data_dir=tmp_path)).conf.producer_linger == 0.02
    quick = new_app(Settings(data_dir=tmp_path, producer_linger_ms=5))
    assert quick.conf.producer_linger == 0.005


async def test_a_commit_carries_exactly_the_outputs_of_the_events_it_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Messages of events past the committed offsets wait for the next transaction."""
    from faust.types import TP

    from streams.upstream import buffer as module

    sent: list[tuple[str, int]] = []

    async def send_in_transaction(fut: Any, tid: str) -> None:
        sent.append((tid, fut.message.value))

    monkeypatch.setattr(module, "_send_in_transaction", send_in_transaction)
    monkeypatch.setattr(module, "TopicT", object)
    tp = TP("p.leads.forms", 0)
    buffer = DrainingBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))
    await buffer.start()
    try:

        def event_output(offset: int) -> None:
            fut = SimpleNamespace(message=SimpleNamespace(channel=object(), value=offset))
            fut.source = module.Source("t-0-0", tp, offset)  # type: ignore[attr-defined]
            buffer.put(fut)  # type: ignore[arg-type]

        event_output(7)
        event_output(8)
        # Faust commits the offsets of the events acked so far: 7 and 8 (next offset 9).
        await asyncio.wait_for(buffer.hand_over_for_commit({tp: 9}), timeout=10)
        assert sent == [("t-0-0", 7), ("t-0-0", 8)], "the commit's transaction: 7 and 8"
        event_output(9)  # the agent goes on while the transaction commits
        await asyncio.sleep(0.1)
        assert len(sent) == 2, "offset 9 waits for the next transaction"
        buffer.end_commit()
        await asyncio.wait_for(buffer.flush(), timeout=10)
        assert sent[-1] == ("t-0-0", 9)
    finally:
        await buffer.stop()


def test_faust_transaction_manager_sends_by_destination_partition() -> None:
    """Upstream behaviour `_send_in_transaction` avoids: under exactly_once
    `app.maybe_start_producer()` is the TransactionManager, whose `send` ignores the
    transactional id it is given and picks the transaction of the message's *destination*
    partition. A lead's forward to another partition (leads.visitors) or its account's
    contribution then joins a transaction that does not commit its input's offset, or one
    this worker does not own (the message is dropped while the input offset commits: the
    fault suite lost state that way). When this fails, Faust routes by source itself."""
    import inspect

    from faust import App
    from faust.transport.consumer import TransactionManager

    send = inspect.getsource(TransactionManager.send)
    assert "group = transactional_id = None" in send
    assert "key_partition(topic, key, partition)" in send
    assert "return self.consumer.transactions" in inspect.getsource(App.maybe_start_producer)


async def test_outputs_go_through_their_source_partitions_transactional_producer() -> None:
    from streams.upstream.buffer import _send_in_transaction

    sends: list[dict[str, Any]] = []

    class Producer:
        async def send(self, topic: str, key: bytes, value: bytes, **kwargs: Any) -> Any:
            sends.append({"topic": topic, "key": key, **kwargs})
            return asyncio.get_running_loop().create_future()

    async def maybe_start_producer() -> Any:
        raise AssertionError("the TransactionManager routes by destination")

    app = SimpleNamespace(
        producer=Producer(),
        maybe_start_producer=maybe_start_producer,
        sensors=SimpleNamespace(on_send_initiated=lambda *a, **k: None),
    )
    channel = SimpleNamespace(app=app, get_topic_name=lambda: "p.leads.visitors")
    message = SimpleNamespace(
        channel=channel, key=b"lead-9", value=b"{}", partition=5, timestamp=None, headers=None
    )
    await _send_in_transaction(SimpleNamespace(message=message), "p.leadscore-1-2")  # type: ignore[arg-type]
    assert sends == [
        {
            "topic": "p.leads.visitors",
            "key": b"lead-9",
            "partition": 5,
            "timestamp": None,
            "headers": None,
            "transactional_id": "p.leadscore-1-2",
        }
    ]


def test_faust_recovers_under_transactions_to_a_cached_stable_offset() -> None:
    """Upstream behaviour StableEndsThread replaces: with transactions Faust's recovery
    takes each changelog's end from aiokafka's `last_stable_offset`, which aiokafka knows
    only after a fetch of the partition has returned (None before: a highwater of -1, an
    empty table recovered). When this fails, upstream asks the broker and the override
    can go."""
    import inspect

    from aiokafka import AIOKafkaConsumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    assert "last_stable_offset" in inspect.getsource(AIOKafkaConsumerThread._highwaters)
    doc = AIOKafkaConsumer.last_stable_offset.__doc__ or ""
    assert "not be available until some messages are" in " ".join(doc.split())


async def test_the_worker_recovers_to_where_the_changelog_data_ends(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The highwater is the broker's stable end read back to the last data record (a
    commit marker ends the changelog, and Faust waited 10 s for it); at_least_once keeps
    the end offset (no markers)."""
    from faust.types import TP

    from streams.upstream import consumer as module
    from streams.upstream.consumer import StableEndsThread

    app = new_app(Settings(data_dir=tmp_path, processing_guarantee="exactly_once"))
    thread = app.consumer._thread
    assert isinstance(thread, StableEndsThread)
    reader = thread._tail_reader()
    assert (reader._group_id, reader._isolation_level) == (None, "read_committed")
    asked: list[list[TP]] = []
    changelog = TP("p.leadscore-leads-changelog", 0)

    class Consumer:
        async def end_offsets(self, partitions: list[TP]) -> dict[TP, int]:
            asked.append(list(partitions))
            return {tp: 958 for tp in partitions}

        def last_stable_offset(self, tp: TP) -> None:
            raise AssertionError("known only after a fetch")

    class Reader:
        started = stopped = False

        async def start(self) -> None:
            self.started = True

        async def stop(self) -> None:
            self.stopped = True

    tail = Reader()

    async def after_last_records(consumer: Any, ends: dict[TP, int]) -> dict[TP, int]:
        assert consumer is tail and consumer.started
        return {tp: end - 1 for tp, end in ends.items()}  # a commit marker at 957

    monkeypatch.setattr(module, "after_last_records", after_last_records)
    thread = object.__new__(StableEndsThread)
    thread._consumer = Consumer()
    thread._tail_reader = lambda: tail
    thread.consumer = SimpleNamespace(in_transaction=True)
    assert await thread._highwaters([changelog]) == {changelog: 957}
    assert tail.stopped
    thread.consumer = SimpleNamespace(in_transaction=False)
    assert await thread._highwaters([changelog]) == {changelog: 958}
    assert asked == [[changelog], [changelog]]


def test_faust_resumes_stream_partitions_before_their_seek_and_empties_queues() -> None:
    """Upstream behaviour StableEndsConsumer works around: at the end of a recovery Faust
    resumes the stream partitions, then seeks them to their committed offsets, and the
    flow's resume empties every stream's queue. Events fetched in between were handled from
    the old positions, and those queued at the resume were dropped, then committed past.
    When this fails, upstream seeks first (or keeps the queues) and the override can go."""
    import inspect

    from faust.tables.recovery import Recovery
    from mode.utils.queues import FlowControlEvent, FlowControlQueue

    for method in (Recovery.on_recovery_completed, Recovery._resume_streams):
        source = inspect.getsource(method)
        seek = source.index("perform_seek")
        assert source.index("resume_partitions") < seek
        # ...and after the seek resumes the flow (StableEndsConsumer resumes them there).
        assert seek < source.rindex("flow_control.resume()") < source.rindex("resume_flow()")
    flow = FlowControlEvent()
    flow.resume()
    queue: FlowControlQueue[int] = FlowControlQueue(flow_control=flow, clear_on_resume=True)
    queue.put_nowait(1)
    flow.resume()  # already flowing: a resume all the same
    assert queue.empty()


async def test_stream_partitions_resume_only_once_sought(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From an assignment until its recovery's seek, resuming a stream partition is held
    back (changelogs resume: recovery reads them); it resumes, at its committed offset, when
    the flow resumes after the seek (which empties the streams' queues)."""
    from faust.transport.drivers.aiokafka import Consumer as FaustConsumer
    from faust.types import TP

    from schemas import topics
    from streams.app.worker import leads_table
    from streams.upstream.consumer import StableEndsConsumer

    settings = Settings(data_dir=tmp_path)
    app = new_app(settings)
    consumer = app.consumer
    assert isinstance(consumer, StableEndsConsumer)
    changelog = TP(leads_table(app, settings).changelog_topic.get_topic_name(), 0)
    stream = TP(settings.topic(topics.FORMS.name), 0)

    async def upstream_assigned(*args: Any) -> None:
        return None

    async def committed() -> dict[TP, int]:
        return {stream: 7, changelog: 3}

    monkeypatch.setattr(FaustConsumer, "on_partitions_assigned", upstream_assigned)
    monkeypatch.setattr(consumer._thread, "seek_to_committed", committed)
    monkeypatch.setattr(consumer._thread, "assignment", lambda: {stream, changelog})
    await consumer.on_partitions_assigned({stream, changelog})
    consumer._set_active_tps(set())
    await consumer.perform_seek()  # getmany's, on a fetch dropped while the flow stopped
    consumer.resume_flow()  # the recovery's standby phase
    assert consumer._get_active_partitions() == set(), "a seek before the resume ends nothing"
    consumer.resume_partitions({stream, changelog})
    assert consumer._get_active_partitions() == {changelog}
    consumer.resume_flow()  # recovery resumes the flow while it reads the changelogs
    assert consumer._get_active_partitions() == {changelog}
    await consumer.perform_seek()
    assert consumer._get_active_partitions() == {changelog}
    consumer.resume_flow()
    assert consumer._get_active_partitions() == {stream, changelog}
    assert consumer._read_offset[stream] == 7
    consumer.pause_partitions({stream})
    consumer.resume_partitions({stream})  # sought: no longer held back
    assert stream in consumer._get_active_partitions()


def test_faust_hands_aiokafka_its_live_set_of_active_partitions() -> None:
    """Upstream behaviour StableEndsThread works around: Faust passes its own set of active
    partitions to the consumer thread, aiokafka reads an empty set as every partition, and
    Faust drops the records of partitions not active (after aiokafka moved past them)."""
    import inspect

    from aiokafka.consumer.fetcher import Fetcher
    from faust.transport.consumer import Consumer

    assert "active_partitions = self._get_active_partitions()" in inspect.getsource(
        Consumer._wait_next_records
    )
    assert "if partitions and tp not in partitions" in inspect.getsource(Fetcher.fetched_records)
    assert "tp in active_partitions" in inspect.getsource(Consumer.getmany)


async def test_the_consumer_thread_fetches_for_a_copy_of_the_active_partitions() -> None:
    from contextlib import nullcontext

    from faust.types import TP

    from streams.upstream.consumer import StableEndsThread

    asked: list[Any] = []

    class Fetcher:
        _closed = False
        _subscriptions = SimpleNamespace(fetch_context=nullcontext)

        async def fetched_records(self, partitions: Any, **kwargs: Any) -> dict[Any, Any]:
            asked.append(partitions)
            return {}

    thread = object.__new__(StableEndsThread)
    thread.consumer = SimpleNamespace(flow_active=True)
    consumer = SimpleNamespace(_closed=False, _fetcher=Fetcher())
    active = {TP("p.leads.forms", 0)}
    assert await thread._fetch_records(consumer, set(), timeout=1.0) == {}
    assert asked == []  # none active: nothing fetched (aiokafka would fetch every one)
    await thread._fetch_records(consumer, active, timeout=1.0)
    assert asked == [active] and asked[0] is not active


async def test_a_failed_transaction_commit_stops_the_worker() -> None:
    """aiokafka's transactional sender dies when the broker goes away mid-commit, and the
    tables hold events whose changelog writes were not committed: the worker stops (a
    restart recovers the committed state) instead of going on from there."""
    from aiokafka.errors import KafkaError
    from faust.types import TP

    from streams.upstream.transactions import FlushingTransactionManager

    crashed: list[BaseException] = []
    heard: list[Any] = []

    async def noop(*args: Any) -> None:
        return None

    async def commit_transactions(*args: Any, **kwargs: Any) -> None:
        raise KafkaError("Unexpected error during batch delivery")

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    manager = object.__new__(FlushingTransactionManager)
    buffer = DrainingBuffer()
    buffer.hand_over_for_commit = noop  # type: ignore[method-assign]
    buffer.end_commit = lambda: None  # type: ignore[method-assign]
    manager.consumer = SimpleNamespace(assignment=set)
    manager.app = SimpleNamespace(
        producer=SimpleNamespace(buffer=buffer),
        conf=SimpleNamespace(id="p.leadscore"),
        assignor=SimpleNamespace(group_for_topic=lambda topic: 0),
        transactions_committed=[heard.append],
        crash=crash,
    )
    open_ = SimpleNamespace(
        _txn_manager=SimpleNamespace(is_in_transaction=lambda: True), flush=noop
    )
    manager.producer = SimpleNamespace(
        commit_transactions=commit_transactions, _transaction_producers={"p.leadscore-0-1": open_}
    )
    await manager.commit({TP("p.leads.forms", 1): 10})
    assert [type(e) for e in crashed] == [KafkaError]
    assert heard == [], "nothing was committed"


async def test_stream_partitions_without_a_committed_offset_are_sought_to_their_start() -> None:
    from faust.types import TP

    from streams.upstream.consumer import StableEndsThread

    committed_one, never, at_zero = (
        TP("p.leads.forms", 0),
        TP("p.leads.forms", 1),
        TP("p.leads.visitors", 0),
    )
    changelog = TP("p.leadscore-leads-changelog", 0)
    to_start: list[tuple[TP, ...]] = []

    class Consumer:
        async def seek_to_committed(self) -> dict[TP, int | None]:
            return {committed_one: 12, never: None, at_zero: 0, changelog: None}

        async def seek_to_beginning(self, *partitions: TP) -> bool:
            to_start.append(partitions)
            return True

    thread = object.__new__(StableEndsThread)
    thread._consumer = Consumer()
    thread.consumer = SimpleNamespace(_is_changelog_tp=lambda tp: "changelog" in tp.topic)
    committed = await thread._seek_to_committed()
    assert committed == {committed_one: 12, never: None, at_zero: 0, changelog: None}
    assert [set(partitions) for partitions in to_start] == [{never, at_zero}]


def test_aiokafka_seeks_only_to_committed_offsets_above_zero() -> None:
    """Upstream behaviour StableEndsThread._seek_to_committed works around: aiokafka's
    `seek_to_committed` leaves a partition without a committed offset (or with 0) where its
    last fetch left it (the kafka test below shows it on a broker). When this fails,
    upstream seeks it and the override can go."""
    import inspect

    from aiokafka import AIOKafkaConsumer

    source = inspect.getsource(AIOKafkaConsumer.seek_to_committed)
    assert "if offset and offset > 0:" in source
    assert "seek_to_beginning" not in source


@pytest.mark.kafka
async def test_a_fetched_partition_without_a_committed_offset_is_read_again(
    kafka_bootstrap: str, unique: str
) -> None:
    """On the real broker: records fetched (and, in Faust, dropped) before the seek are
    fetched again after it, whether their partition has a committed offset or none.
    aiokafka's own `seek_to_committed` leaves a partition without one where the fetch left
    it (asserted too: when that fails, upstream seeks it and the override can go)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    from streams.kafka.clients import client_kwargs
    from streams.upstream.consumer import StableEndsThread
    from tests.kafka_helpers import create_topic, kafka_settings

    settings = kafka_settings(kafka_bootstrap, unique)
    topic = f"{unique}seek"
    await create_topic(kafka_bootstrap, topic, partitions=2)
    never, committed_at_2 = TopicPartition(topic, 0), TopicPartition(topic, 1)
    producer = AIOKafkaProducer(**client_kwargs(settings))
    await producer.start()
    try:
        for tp in (never, committed_at_2):
            for i in range(5):
                await producer.send_and_wait(topic, b"%d" % i, partition=tp.partition)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        **client_kwargs(settings),
        group_id=f"{unique}group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([never, committed_at_2])
        await consumer.commit({committed_at_2: OffsetAndMetadata(2, "")})
        fetched = 0
        while fetched < 5 + 3:  # all of one partition, the other from its committed 2
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, f"{fetched} of 8 records fetched, then none within 10 s"
            fetched += sum(len(records) for records in batches.values())
        await consumer.seek_to_committed()
        assert await consumer.position(never) == 5, "aiokafka left it where the fetch did"
        thread = object.__new__(StableEndsThread)
        thread._consumer = consumer
        thread.consumer = SimpleNamespace(_is_changelog_tp=lambda tp: False)
        assert await thread._seek_to_committed() == {never: None, committed_at_2: 2}
        assert await consumer.position(never) == 0
        assert await consumer.position(committed_at_2) == 2
    finally:
        await consumer.stop()
