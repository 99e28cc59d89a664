"""Guarantee 1 on a real broker: every input message ends in exactly one counted outcome.

A simulated stream with every kind of fault the contract names (re-sent events, messages out
of order, broken JSON and schema errors, a message on the wrong topic, one on the wrong
partition, one whose key is not its lead, a null value, one over the size limit, one dated
decades ahead, Segment calls that translate, that are ignored and that are broken) is
produced to a worker. Per input topic, the worker's `leadscore_events_total` outcomes add up
to the messages that reached it: those produced there, and the translated Segment call that
the worker itself sends on. A re-routed message is counted `rerouted` where it was found and
once more where it lands, so the `rerouted` count is set aside.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.topics import INPUTS, SEGMENT
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.tools.simulate import Faults, generate
from tests.core_events import raw
from tests.kafka_helpers import Record, produce, read_all
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    # A small size limit, so one message can be over it without a huge payload.
    with module_worker(
        kafka_bootstrap, tmp_path_factory, "accounting", max_message_bytes=8192
    ) as proc:
        yield proc


def outcomes(worker: WorkerProcess) -> dict[str, Counter[str]]:
    """leadscore_events_total as topic -> outcome -> count."""
    status, body = worker.get("/metrics")
    assert status == 200
    out: dict[str, Counter[str]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "leadscore_events_total":
                topic, outcome = sample.labels["topic"], sample.labels["outcome"]
                out.setdefault(topic, Counter())[outcome] += int(sample.value)
    return out


def settled(counts: dict[str, Counter[str]], produced: Counter[str]) -> dict[str, int]:
    """Per topic: messages produced minus outcomes counted (rerouted aside); all 0 when
    every message has its one outcome."""
    return {
        topic: n - sum(v for k, v in counts.get(topic, Counter()).items() if k != "rerouted")
        for topic, n in produced.items()
    }


def faulty_extras(settings: Settings) -> list[tuple[str, Record]]:
    """One message of each fault kind the simulator does not make, (contract topic, record)."""
    lead = "acct-lead"
    clicks, forms = "leads.email-clicks", "leads.forms"
    owner = partition_for(lead, settings.partitions)
    click = raw("email.clicked", lead, 0, "acct-c1")
    far = raw("email.clicked", lead, 40 * 365 * 24 * 60, "acct-future")
    big = raw("email.clicked", lead, 1, "acct-big", url="https://x.test/" + "a" * 9000)
    segment_ok = {"type": "page", "messageId": "acct-s1", "userId": lead,
                  "timestamp": "2026-11-19T10:00:00Z",
                  "properties": {"url": "https://leadscore.example/pricing"}}  # fmt: skip
    segment_ignored = {"type": "track", "event": "Cart Viewed", "messageId": "acct-s2",
                       "userId": lead, "timestamp": "2026-11-19T10:00:00Z"}  # fmt: skip
    return [
        (clicks, Record(lead, click)),
        (clicks, Record(lead, click)),  # a producer's retry: a duplicate
        (clicks, Record(lead, raw("email.clicked", lead, 2, "acct-c2"), (owner + 1) % 6)),
        (clicks, Record("someone-else", raw("email.clicked", lead, 3, "acct-c3"))),
        (clicks, Record(lead, raw("email.opened", lead, 4, "acct-o1"))),  # wrong topic
        (clicks, Record(lead, None)),  # a null value
        (clicks, Record(lead, b"\x00\xffnot json")),
        (clicks, Record(lead, far)),
        (clicks, Record(lead, big)),
        (forms, Record(lead, raw("form.submitted", lead, 5, "acct-f1"))),  # no form_id, email
        (SEGMENT.name, Record(lead, segment_ok)),
        (SEGMENT.name, Record(lead, segment_ignored)),
        (SEGMENT.name, Record(lead, b"{broken")),
    ]


async def test_every_message_ends_in_one_counted_outcome(worker: WorkerProcess) -> None:
    settings = worker.settings
    assert settings.partitions == 6, "the wrong-partition message assumes 6 partitions"
    faults = Faults(duplicates=0.05, out_of_order=0.05, malformed=0.03)
    sim = list(generate(seed=11, leads=120, events=2500, faults=faults, now=NOW))
    produced: Counter[str] = Counter(e.topic for e in sim)
    by_topic: dict[str, list[Record]] = {}
    for e in sim:
        by_topic.setdefault(e.topic, []).append(Record(e.key, e.value))
    for topic, record in faulty_extras(settings):
        by_topic.setdefault(topic, []).append(record)
        produced[topic] += 1
    # The Segment page call is translated onto leads.web: one more message there.
    produced["leads.web"] += 1
    for topic, records in by_topic.items():
        await produce(settings.kafka_bootstrap, settings.topic(topic), records)
    assert {t.name for t in INPUTS} <= set(produced), "every input topic gets messages"

    deadline = time.monotonic() + TIMEOUT
    while any(settled(outcomes(worker), produced).values()):
        left = settled(outcomes(worker), produced)
        assert time.monotonic() < deadline, f"messages without an outcome, per topic: {left}"
        assert all(n >= 0 for n in left.values()), f"more outcomes than messages: {left}"
        await asyncio.sleep(0.3)
    counts = outcomes(worker)
    assert settled(counts, produced) == dict.fromkeys(produced, 0), counts

    # Each fault kind ended where the contract says, and every dead letter is on its topic.
    clicks = counts["leads.email-clicks"]
    assert clicks["rerouted"] == 1 and clicks["duplicate"] >= 1
    letters = await read_all(settings.kafka_bootstrap, settings.topic("leads.dead-letter"))
    codes = Counter(orjson.loads(r.value or b"{}")["error"] for r in letters)
    for code in ("invalid_json", "schema", "wrong_topic", "key_mismatch", "too_large"):
        assert codes[code] >= 1, (code, codes)
    assert codes["future_event"] == 1, codes
    dead = sum(c["dead_letter"] for c in counts.values())
    assert sum(codes.values()) == dead, (codes, dead)
    assert counts[SEGMENT.name]["translated"] == 1 and counts[SEGMENT.name]["ignored"] == 1
    assert counts[SEGMENT.name]["dead_letter"] == 1
