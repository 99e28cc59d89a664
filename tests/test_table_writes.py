"""Table writes take their changelog partition from the event being handled, never from
Kafka metadata (streams/upstream/tables.py).

aiokafka's producer keeps metadata only for the topics it has already sent to once any send
has missed (it then asks for those alone), and the group's metadata snapshot counts a topic
it has not seen yet as 0 partitions: Faust's own tables ask one or the other on every write,
and while either lacked a changelog every event touching that table was dead-lettered
`processing_error` (after a failover those events were gone). A worker whose producer has
not even started, and a consumer whose snapshot lacks the changelogs, show whether a write
needs that metadata.
"""

from __future__ import annotations

import weakref
from typing import Any

import pytest
from faust.streams import _current_event

from streams.app.worker import create_app
from streams.core.model import ScoringModel
from streams.settings import Settings


class _Message:
    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition


class _Event:  # what Faust's current_event() hands a table: the message being handled
    def __init__(self, message: _Message) -> None:
        self.message = message


SETTINGS = Settings(topic_prefix="tw.", app_id="tw.leadscore")


@pytest.fixture(scope="module")
def app() -> Any:
    """One app per process: its metrics register once."""
    return create_app(SETTINGS, ScoringModel.load(SETTINGS.model_path))[0]


@pytest.mark.parametrize(("table", "topic"), [("leads", "leads.forms"), ("visitors", "leads.web")])
async def test_a_table_write_goes_to_the_partition_of_its_event(
    app: Any, table: str, topic: str
) -> None:
    settings = SETTINGS
    event = _Event(_Message(settings.topic_prefix + topic, 4))
    token = _current_event.set(weakref.ref(event))
    try:
        app.tables[table][b"key-1"] = b"state"  # the producer is not started
    finally:
        _current_event.reset(token)
    sent = app.producer.buffer.pending.get_nowait()
    assert sent.message.channel.get_topic_name() == f"tw.leadscore-{table}-changelog"
    assert sent.message.partition == 4
    assert sent.message.key == b"key-1"


async def test_a_table_write_needs_no_consumer_metadata(
    app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the group's snapshot says while it has not seen a changelog yet.
    def snapshot(topic: str) -> int:
        return 0 if topic.endswith("-changelog") else SETTINGS.partitions

    monkeypatch.setattr(app.consumer, "topic_partitions", snapshot)
    event = _Event(_Message(SETTINGS.topic_prefix + "accounts.contributions", 2))
    token = _current_event.set(weakref.ref(event))
    try:
        app.tables["accounts"][b"acme.example"] = b"state"
    finally:
        _current_event.reset(token)
    sent = app.producer.buffer.pending.get_nowait()
    assert sent.message.channel.get_topic_name() == "tw.leadscore-accounts-changelog"
    assert sent.message.partition == 2
