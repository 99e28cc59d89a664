"""As a new user would: a scripted stream produced with kcat (librdkafka, an independent
client), every event sent twice as producers' retries do, plus one event dated decades
ahead. One alert per crossing, final scores equal to the stream sent once (the offline
scorer), the far-future event dead-lettered `future_event`."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from schemas.outputs import SCORE_STATE_FIELDS
from streams.core import ScoringModel
from streams.settings import Settings
from streams.tools.score import score_lines, topic_for
from tests.core_events import BASE, raw
from tests.kafka_helpers import consume_until, read_all
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka

MODEL = ScoringModel.load()
ANSWERS = {"budget": 90000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
FORM = {
    "form_id": "demo",
    "email": "jane.doe@acme-corp.com",
    "first_name": "Jane",
    "last_name": "Doe",
    "company": "Acme",
    "job_title": "VP Marketing",
    "company_size": 250,
    "industry": "software",
    "country": "US",
    "fill_seconds": 40.0,
}


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(kafka_bootstrap, tmp_path_factory, "kcat") as proc:
        yield proc


def stream(tag: str) -> list[bytes]:
    """Three leads: one that crosses mql then sql, one that stays low, one that gets an
    event dated 40 years ahead among its clicks."""
    hot, low, odd = f"{tag}-hot", f"{tag}-low", f"{tag}-odd"
    events = [raw("form.submitted", hot, 0, f"{hot}-f", answers=ANSWERS, **FORM)]
    events += [
        raw("email.clicked", hot, 30 + i, f"{hot}-c{i}", message_id=f"m{i}") for i in range(4)
    ]
    events += [raw("email.opened", hot, 60 + i, f"{hot}-o{i}") for i in range(6)]
    events += [raw("email.opened", low, i, f"{low}-o{i}") for i in range(3)]
    events += [raw("email.clicked", odd, i, f"{odd}-c{i}", message_id="m") for i in range(3)]
    events.append(raw("email.clicked", odd, 40 * 365 * 24 * 60, f"{odd}-future", message_id="m"))
    return events


def kcat_produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    """`kcat -P` with keys, murmur2 like the Java client (the contract asks producers to)."""
    exe = shutil.which("kcat")
    assert exe, "kcat is not on PATH: `make test` installs it (Debian's package kcat)"
    payload = b"".join(orjson.loads(v)["lead_id"].encode() + b"\t" + v + b"\n" for v in lines)
    done = subprocess.run(
        [
            exe,
            "-P",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-K",
            "\t",
            "-X",
            "topic.partitioner=murmur2_random",
        ],
        input=payload,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def send_with_kcat(settings: Settings, events: list[bytes]) -> None:
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for value in events:
        by_topic[settings.topic(topic_for(value))].append(value)
    for topic, lines in by_topic.items():
        kcat_produce(settings.kafka_bootstrap, topic, lines)


def events_counter(worker: WorkerProcess, outcome: str) -> float:
    status, body = worker.get("/metrics")
    assert status == 200
    pattern = re.compile(
        rf'^leadscore_events_total\{{[^}}]*outcome="{outcome}"[^}}]*\}} (\S+)$', re.M
    )
    return sum(float(v) for v in pattern.findall(body.decode()))


def wait_for_counter(worker: WorkerProcess, outcome: str, at_least: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen = events_counter(worker, outcome)
    while seen < at_least:
        assert time.monotonic() < deadline, f"{outcome}: {seen} of {at_least} after {timeout} s"
        time.sleep(0.2)
        seen = events_counter(worker, outcome)


async def test_kcat_stream_sent_twice_alerts_once_and_scores_as_once(
    worker: WorkerProcess,
) -> None:
    settings = worker.settings
    events = stream("kc")
    offline = score_lines(events, MODEL)
    expected = {s.lead_id: s for s in offline.final_scores()}
    assert offline.errors == {"future_event": 1} and len(offline.alert_log) == 2

    send_with_kcat(settings, events)
    send_with_kcat(settings, events)  # every event again: producers' retries
    applied = len(events) - 1
    # Each message is counted once handled: all re-sends seen as duplicates, both copies of
    # the future event dead-lettered.
    await asyncio.to_thread(wait_for_counter, worker, "duplicate", applied, 60)
    await asyncio.to_thread(wait_for_counter, worker, "dead_letter", 2, 60)

    def scored(seen: list[Any]) -> bool:
        last = {r.key_text: r.json() for r in seen}
        return all(
            last.get(lead) is not None and last[lead]["events_counted"] == s.events_counted
            for lead, s in expected.items()
        )

    scores = await consume_until(
        settings.kafka_bootstrap, settings.topic("leads.scores"), scored, timeout=30, what="scores"
    )
    final = {r.key_text: r.json() for r in scores}
    for lead, want in expected.items():
        got = {k: final[lead][k] for k in SCORE_STATE_FIELDS}
        assert got == orjson.loads(want.model_dump_json(include=set(SCORE_STATE_FIELDS))), lead

    alerts = [
        r.json() for r in await read_all(settings.kafka_bootstrap, settings.topic("leads.alerts"))
    ]
    ids = [a["alert_id"] for a in alerts]
    assert sorted(ids) == sorted(a.alert_id for a in offline.alert_log), "one alert per crossing"
    assert len(ids) == len(set(ids)) == 2

    letters = [
        r.json()
        for r in await read_all(settings.kafka_bootstrap, settings.topic("leads.dead-letter"))
    ]
    assert [d["error"] for d in letters] == ["future_event", "future_event"]
    assert all(orjson.loads(d["payload"])["event_id"] == "kc-odd-future" for d in letters)


def negative_stream(tag: str) -> list[bytes]:
    """Twins that differ by one email-status event, a bounced lead that signs up again,
    and a hot lead recycled to nurture that comes back."""
    sent = BASE.isoformat()

    def engaged(lead: str) -> list[bytes]:
        return [
            raw("form.submitted", lead, 0, f"{lead}-f", **{**FORM, "email": f"{lead}@acme.com"}),
            raw("email.opened", lead, 60, f"{lead}-o", message_id="m", sent_at=sent),
            raw("email.clicked", lead, 61, f"{lead}-c", message_id="m", sent_at=sent),
        ]

    twin, unsub, scan, bounced = (f"{tag}-{n}" for n in ("twin", "unsub", "scan", "bounced"))
    events = [*engaged(twin), *engaged(unsub), *engaged(scan), *engaged(bounced)]
    events.append(raw("email.unsubscribed", unsub, 120, f"{unsub}-u", message_id="m", sent_at=sent))
    # Five seconds after the send: a mail gateway following the link, not the person.
    events.append(
        raw("email.unsubscribed", scan, 5 / 60, f"{scan}-u", message_id="m", sent_at=sent)
    )
    events.append(raw("email.bounced", bounced, 2, f"{bounced}-b", bounce_type="hard"))
    events.append(raw("signup", bounced, 60 * 48, f"{bounced}-s", email=f"{bounced}@acme.com"))
    return events


def recycled_phases(tag: str) -> list[list[bytes]]:
    """A hot lead (crosses mql), recycled to nurture, then re-engaging: sent in this order,
    as it happens (the alerts a lead gets depend on the path its scores take)."""
    hot = f"{tag}-recycled"
    warm = [raw("form.submitted", hot, 0, f"{hot}-f", answers=ANSWERS, **FORM)]
    warm += [raw("email.clicked", hot, 30 + i, f"{hot}-c{i}", message_id=f"m{i}") for i in range(4)]
    recycled = [raw("lead.recycled", hot, 60 * 24, f"{hot}-r", reason="lost")]
    back = [
        raw("email.clicked", hot, 60 * 48 + i, f"{hot}-n{i}", message_id=f"n{i}") for i in range(4)
    ]
    return [warm, recycled, back]


async def test_kcat_negative_signals_contactability_and_recycling(worker: WorkerProcess) -> None:
    settings = worker.settings
    phases = recycled_phases("ng")
    events = negative_stream("ng") + [e for phase in phases for e in phase]
    offline = score_lines(events, MODEL)
    expected = {s.lead_id: s for s in offline.final_scores()}

    def counted(want: dict[str, int]) -> Callable[[list[Any]], bool]:
        def seen_all(seen: list[Any]) -> bool:
            last = {r.key_text: r.json() for r in seen}
            return all(
                last.get(lead) is not None and last[lead]["events_counted"] == n
                for lead, n in want.items()
            )

        return seen_all

    scores_topic = settings.topic("leads.scores")
    sent = 0
    for n, phase in enumerate(phases):  # one step after the other, each seen applied
        send_with_kcat(settings, phase if n else negative_stream("ng") + phase)
        sent += len(phase)
        await consume_until(
            settings.kafka_bootstrap,
            scores_topic,
            counted({"ng-recycled": sent}),
            timeout=30,
            what=f"the recycled lead's phase {n}",
        )
    want = {lead: s.events_counted for lead, s in expected.items()}
    scores = await consume_until(
        settings.kafka_bootstrap, scores_topic, counted(want), timeout=30, what="scores"
    )
    final = {r.key_text: r.json() for r in scores}
    for lead, want in expected.items():  # the stream and `leadscore score` agree
        got = {k: final[lead][k] for k in SCORE_STATE_FIELDS}
        assert got == orjson.loads(want.model_dump_json(include=set(SCORE_STATE_FIELDS))), lead

    twin, unsub, scan = final["ng-twin"], final["ng-unsub"], final["ng-scan"]
    assert unsub["score"] < twin["score"] and unsub["contactable"] is False
    assert {"factor": "email.unsubscribed", "points": -7.5} in unsub["factors"]
    assert (scan["score"], scan["engagement"], scan["contactable"]) == (
        twin["score"],
        twin["engagement"],
        True,
    ), "an unsubscribe 5 s after the send changed the score"
    assert final["ng-bounced"]["contactable"] is True, "a signup after the bounce"
    assert twin["contactable"] is True
    status, body = worker.get("/leads/ng-unsub")
    assert status == 200 and orjson.loads(body)["contactable"] is False

    offline_ids = sorted(a.alert_id for a in offline.alert_log if a.lead_id == "ng-recycled")

    def recycled_alerts(seen: list[Any]) -> list[dict[str, Any]]:
        return [r.json() for r in seen if r.key_text == "ng-recycled"]

    alerts = recycled_alerts(
        await consume_until(
            settings.kafka_bootstrap,
            settings.topic("leads.alerts"),
            lambda seen: len(recycled_alerts(seen)) >= len(offline_ids),
            timeout=30,
            what="the recycled lead's alerts",
        )
    )
    mql = [a for a in alerts if a["threshold"] == "mql"]
    assert len(mql) == 2 and mql[0]["alert_id"] != mql[1]["alert_id"], alerts
    assert mql[1]["occurred_at"] > "2026-11-02T09:00", "the second crossing is after recycling"
    assert sorted(a["alert_id"] for a in alerts) == offline_ids
