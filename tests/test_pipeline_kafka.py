"""The pipeline end to end on the real broker, checked from outside with plain aiokafka.

One worker process serves the module; each test uses its own lead ids.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.outputs import SCORE_STATE_FIELDS as SCORE_FIELDS
from streams.core.model import ScoringModel
from streams.kafka.partitioning import partition_for
from streams.settings import Settings
from streams.tools.score import score_lines, topic_for
from tests.core_events import raw
from tests.kafka_helpers import (
    Consumed,
    Record,
    consume_until,
    neighbour,
    produce,
    read_all,
)
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(kafka_bootstrap, tmp_path_factory, "pipeline") as proc:
        yield proc


@pytest.fixture(scope="module")
def settings(worker: WorkerProcess) -> Settings:
    return worker.settings


def lead(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def send(settings: Settings, events: list[bytes]) -> None:
    """Each event to its contract topic, keyed by lead_id (murmur2, like the Java client)."""
    for event in events:
        doc = orjson.loads(event)
        topic = settings.topic(topic_for(event))
        await produce(settings.kafka_bootstrap, topic, [Record(doc["lead_id"], event)])


def latest(records: list[Consumed]) -> dict[str, Any]:
    """Final value per key, as a compacted-topic consumer sees it (None = tombstone)."""
    out: dict[str, Any] = {}
    for r in records:
        out[r.key_text or ""] = r.json()
    return out


async def scores_for(
    settings: Settings, leads: dict[str, int], timeout: float = 45
) -> dict[str, Any]:
    """Wait until each lead's latest score counts `leads[lead]` events; return latest values."""

    def done(seen: list[Consumed]) -> bool:
        last = latest(seen)
        return all(
            last.get(k) is not None and last[k]["events_counted"] >= n for k, n in leads.items()
        )

    seen = await consume_until(
        settings.kafka_bootstrap,
        settings.topic("leads.scores"),
        done,
        timeout=timeout,
        what=f"scores for {sorted(leads)}",
    )
    return latest(seen)


def fields(score: dict[str, Any]) -> dict[str, Any]:
    return {k: score[k] for k in SCORE_FIELDS}


def form_doc(lead_id: str, minutes: float, eid: str, **kw: Any) -> bytes:
    fields_: dict[str, Any] = {
        "form_id": "demo",
        "email": "jane.doe@acme-corp.com",
        "first_name": "Jane",
        "last_name": "Doe",
        "company_size": 250,
        "industry": "software",
        "country": "US",
        "job_title": "VP Marketing",
        "fill_seconds": 40.0,
    }
    fields_.update(kw)
    return raw("form.submitted", lead_id, minutes, eid, **fields_)


async def test_click_scores_above_open(settings: Settings, worker: WorkerProcess) -> None:
    a, b = lead("click"), lead("open")
    await send(
        settings,
        [
            raw("email.clicked", a, 0, f"{a}-1", message_id="m"),
            raw("email.opened", b, 0, f"{b}-1", message_id="m"),
        ],
    )
    got = await scores_for(settings, {a: 1, b: 1})
    assert 0 <= got[b]["score"] < got[a]["score"] <= 100


async def test_bot_lead_below_until_verified(settings: Settings, worker: WorkerProcess) -> None:
    good, bot = lead("human"), lead("bot")
    await send(
        settings,
        [
            form_doc(good, 0, f"{good}-f"),
            form_doc(bot, 0, f"{bot}-f", first_name="jane", last_name="doe", email="jd@gmail.com"),
        ],
    )
    got = await scores_for(settings, {good: 1, bot: 1})
    assert got[bot]["score"] < got[good]["score"]
    assert set(got[bot]["bot_flags"]) == {"lowercase_name", "free_mail"}
    await send(
        settings,
        [raw("lead.verified", x, 5, f"{x}-v", method="double_opt_in") for x in (good, bot)],
    )
    got = await scores_for(settings, {good: 2, bot: 2})
    assert got[bot]["score"] == got[good]["score"] and got[bot]["bot_flags"] == []


async def test_order_and_duplicates_do_not_change_scores(
    settings: Settings, worker: WorkerProcess
) -> None:
    a, b = lead("ordered"), lead("shuffled")

    def story(x: str) -> list[bytes]:
        return [
            form_doc(x, 0, f"{x}-f"),
            raw("email.opened", x, 60, f"{x}-o", message_id="m1"),
            raw("email.clicked", x, 90, f"{x}-c", message_id="m1"),
            raw("social.interaction", x, 120, f"{x}-s", network="linkedin", action="share"),
            form_doc(x, 200, f"{x}-f2", job_title="CEO", company_size=1200),
        ]

    shuffled = story(b) + story(b)[:3]
    random.Random(7).shuffle(shuffled)
    await send(settings, story(a))
    await send(settings, shuffled)
    got = await scores_for(settings, {a: 5, b: 5})
    assert fields(got[a]) == fields(got[b])


async def test_one_alert_per_crossing(settings: Settings, worker: WorkerProcess) -> None:
    x = lead("hot")
    answers = {"budget": 90000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
    events = [form_doc(x, 0, f"{x}-f", answers=answers)]
    events += [
        raw("email.clicked", x, 60 * i + 30, f"{x}-c{i}", message_id=f"m{i}") for i in range(4)
    ]
    events += [raw("email.opened", x, 60 * i + 10, f"{x}-o{i}") for i in range(6)]
    await send(settings, events)
    await scores_for(settings, {x: len(events)})
    alerts = [
        r.json()
        for r in await read_all(
            settings.kafka_bootstrap, settings.topic("leads.alerts"), settle=2.0
        )
        if r.key_text == x
    ]
    assert sorted(a["threshold"] for a in alerts) == ["mql", "sql"]
    assert len({a["alert_id"] for a in alerts}) == 2
    assert all(a["contact"]["email"] == "jane.doe@acme-corp.com" for a in alerts)


async def test_malformed_messages_are_dead_lettered(
    settings: Settings, worker: WorkerProcess
) -> None:
    x = lead("dl")
    topic = settings.topic("leads.email-clicks")
    bad = [
        Record(x, b"{not json"),
        Record(x, raw("email.opened", x, 0, f"{x}-wrongtopic")),
        Record(
            x,
            orjson.dumps(
                {
                    "event_id": f"{x}-naive",
                    "lead_id": x,
                    "type": "email.clicked",
                    "occurred_at": "2026-11-01T10:00:00",
                }
            ),
        ),
        Record("someone-else", raw("email.clicked", x, 0, f"{x}-key")),
        Record(x, b"\xff\xfe\x00binary"),
    ]
    good = Record(x, raw("email.clicked", x, 1, f"{x}-good"))
    await produce(settings.kafka_bootstrap, topic, [bad[0], bad[1], good, *bad[2:]])
    await scores_for(settings, {x: 1})

    def mine(seen: list[Consumed]) -> list[dict[str, Any]]:
        return [d for d in (r.json() for r in seen) if x in d["payload"] or d["key"] == x]

    seen = await consume_until(
        settings.kafka_bootstrap,
        settings.topic("leads.dead-letter"),
        lambda s: len(mine(s)) >= 5,
        timeout=30,
        what="5 dead letters",
    )
    errors = sorted(d["error"] for d in mine(seen))
    assert errors == ["invalid_json", "invalid_json", "key_mismatch", "schema", "wrong_topic"]
    binary = next(d for d in mine(seen) if d["payload_encoding"] == "base64")
    assert binary["source_topic"] == topic and binary["detail"]


async def test_erased_lead_gets_tombstone_and_no_more_output(
    settings: Settings, worker: WorkerProcess
) -> None:
    x = lead("erase")
    # Two topics, so one at a time: the history lists changes in the order they were applied.
    await send(settings, [form_doc(x, 0, f"{x}-f")])
    await scores_for(settings, {x: 1})
    await send(settings, [raw("email.clicked", x, 5, f"{x}-c")])
    await scores_for(settings, {x: 2})
    status, body = worker.get(f"/leads/{x}/history")
    assert status == 200, body
    assert [c["event_id"] for c in orjson.loads(body)["changes"]] == [f"{x}-f", f"{x}-c"]
    await send(settings, [raw("lead.erased", x, 10, f"{x}-x")])
    scores_topic = settings.topic("leads.scores")
    await consume_until(
        settings.kafka_bootstrap,
        scores_topic,
        lambda s: x in latest(s) and latest(s)[x] is None,
        timeout=30,
        what="a tombstone",
    )
    await send(settings, [raw("email.opened", x, 7, f"{x}-late")])  # older than the erasure
    # A sentinel on the late event's partition: once it is scored, the late event was handled.
    sentinel = neighbour(x, settings.partitions)
    await send(settings, [raw("email.opened", sentinel, 7, f"{sentinel}-o")])
    await scores_for(settings, {sentinel: 1})
    status, _ = worker.get(f"/leads/{x}")
    assert status == 404
    assert worker.get(f"/leads/{x}/history")[0] == 404, "the history outlived the erasure"
    after = [r for r in await read_all(settings.kafka_bootstrap, scores_topic) if r.key_text == x]
    assert after[-1].value is None, "output after erasure"


async def test_wrong_partition_is_rerouted(settings: Settings, worker: WorkerProcess) -> None:
    x = lead("reroute")
    owner = partition_for(x, settings.partitions)
    wrong = (owner + 1) % settings.partitions
    topic = settings.topic("leads.email-clicks")
    await produce(
        settings.kafka_bootstrap,
        topic,
        [Record(x, raw("email.clicked", x, 0, f"{x}-c"), partition=wrong)],
    )
    got = await scores_for(settings, {x: 1})
    assert got[x]["events_counted"] == 1
    status, body = worker.get(f"/leads/{x}")
    assert status == 200 and orjson.loads(body)["lead_id"] == x


async def test_stream_agrees_with_offline_scorer(
    settings: Settings, worker: WorkerProcess, tmp_path: Path
) -> None:
    rnd = random.Random(11)
    leads = [lead(f"mix{i}") for i in range(12)]
    kinds = ["email.opened", "email.clicked", "social", "form", "verify"]
    events: list[bytes] = []
    for n in range(300):
        x, kind, minutes = rnd.choice(leads), rnd.choice(kinds), rnd.randint(0, 60 * 24 * 60)
        eid = f"{x}-{n}"
        if kind == "form":
            events.append(
                form_doc(
                    x,
                    minutes,
                    eid,
                    first_name=rnd.choice(["Ann", "ann"]),
                    company_size=rnd.randint(1, 3000),
                )
            )
        elif kind == "social":
            events.append(raw("social.interaction", x, minutes, eid, network="x", action="like"))
        elif kind == "verify":
            events.append(raw("lead.verified", x, minutes, eid, method="manual"))
        else:
            events.append(raw(kind, x, minutes, eid, message_id=f"m{n % 5}"))
    events += events[:30]  # redelivered
    await send(settings, events)
    offline = {
        s.lead_id: s.model_dump(mode="json")
        for s in score_lines(events, ScoringModel.load()).final_scores()
    }
    expected_counts = {k: v["events_counted"] for k, v in offline.items()}
    got = await scores_for(settings, expected_counts, timeout=60)
    for x, want in offline.items():
        assert fields(got[x]) == fields(want), x
    status, body = worker.get(f"/leads/{leads[0]}")
    assert status == 200 and orjson.loads(body)["score"] == offline[leads[0]]["score"]
    assert worker.get("/leads/no-such-lead")[0] == 404
