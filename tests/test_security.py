"""Security checks on a running worker (shared broker): input never reaches the log, emails
never reach /metrics, erasure leaves only a marker in the table and its changelog and a
tombstone on leads.scores, and the web server serves only the worker's own pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from streams.core import LeadState
from streams.settings import Settings
from tests.kafka_helpers import (
    Consumed,
    Record,
    consume_until,
    neighbour,
    produce,
    read_all,
)
from tests.test_hostile_input import widest_id
from tests.worker_proc import WorkerProcess, module_worker

pytestmark = pytest.mark.kafka

MARK = "zq7"  # in every hostile value below; the log and /metrics must not contain it
BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
EMAIL = f"{MARK}.secret-person@acme-corp.com"
ALLOWED_PAGES = ("/healthz", "/readyz", "/metrics")
FAUST_PAGES = (
    "/", "/router/", "/router/topics", "/router/leads/", "/router/leads/x/", "/table/",
    "/table/leads/", "/table/leads/x/", "/graph/", "/stats/", "/assignment/", "/performance/",
)  # fmt: skip


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(kafka_bootstrap, tmp_path_factory, "security", log_level="DEBUG") as proc:
        yield proc


@pytest.fixture(scope="module")
def settings(worker: WorkerProcess) -> Settings:
    return worker.settings


def doc(kind: str, lead: str, eid: str, minutes: float = 0, **fields: Any) -> bytes:
    when = (BASE + timedelta(minutes=minutes)).isoformat()
    return orjson.dumps(
        {"event_id": eid, "lead_id": lead, "type": kind, "occurred_at": when, **fields}
    )


def personal_form(lead: str, eid: str, minutes: float = 0) -> bytes:
    return doc(
        "form.submitted",
        lead,
        eid,
        minutes,
        form_id="demo",
        email=EMAIL,
        first_name=f"<script>alert('{MARK}')</script>",
        last_name=f"\x1b[31m{MARK}Smith\x1b[0m\r\nX-Injected: {MARK}",
        company=f"{MARK} Corp <b>bold</b>",
        job_title=f"CEO \u202e{MARK}",
        company_size=500,
        country="US",
        answers={"budget": 90000, "authority": "decision_maker", "need": [MARK], "timeline": "now"},
    )


async def scores_until(settings: Settings, what: str, done: Any) -> list[Consumed]:
    return await consume_until(
        settings.kafka_bootstrap, settings.topic("leads.scores"), done, timeout=45, what=what
    )


def latest(records: list[Consumed], key: str) -> Consumed | None:
    mine = [r for r in records if r.key_text == key]
    return mine[-1] if mine else None


async def test_input_reaches_neither_the_log_nor_metrics(
    settings: Settings, worker: WorkerProcess
) -> None:
    lead = f"lead-{MARK}-{uuid.uuid4().hex[:6]}"
    topic = settings.topic
    good = [
        (topic("leads.forms"), personal_form(lead, f"{MARK}-f1")),
        (topic("leads.signups"), doc("signup", lead, f"{MARK}-s", 1, email=EMAIL,
                                     first_name=f"{MARK}Ann\x00", last_name="<i>x</i>")),
        (topic("leads.email-clicks"), doc("email.clicked", lead, f"{MARK}-c", 2,
                                          url=f"https://x.test/?u={MARK}", user_agent=MARK)),
    ]  # fmt: skip
    bad = [
        (topic("leads.forms"), f'{{"lead_id": "{MARK}", "email": "{EMAIL}"'.encode()),
        (topic("leads.forms"), personal_form(lead, f"{MARK}-f2").replace(b"acme-corp.com", b"")),
        (topic("leads.signups"), doc("signup", lead, f"{MARK}-bad", email=f"{MARK} at nowhere")),
        (topic("leads.forms"), personal_form(lead, f"{MARK}-f3").replace(b"2026-", b"1999-")),
        (topic("leads.social"), doc("social.interaction", lead, f"{MARK}-n", network=MARK,
                                    action="like")),
        (topic("leads.email-opens"), f"\xff\xfe{MARK}".encode("latin-1")),
        (topic("leads.email-opens"), doc("email.opened", lead, f"{MARK}-big", x=MARK * 30_000)),
        (topic("leads.forms"), doc("email.opened", lead, f"{MARK}-wrongtopic")),
    ]  # fmt: skip
    for name, value in good + bad:
        await produce(settings.kafka_bootstrap, name, [Record(lead, value)])
    await produce(
        settings.kafka_bootstrap,
        topic("leads.email-opens"),
        [Record(f"other-{MARK}", doc("email.opened", lead, f"{MARK}-key"))],  # key mismatch
    )
    await scores_until(
        settings,
        "the lead's 3 events applied",
        lambda s: (r := latest(s, lead)) is not None and r.json()["events_counted"] == 3,
    )
    dead = await consume_until(
        settings.kafka_bootstrap,
        topic("leads.dead-letter"),
        lambda s: len(s) >= len(bad) + 1,
        timeout=30,
        what="every bad message dead-lettered",
    )
    assert all(MARK not in d["detail"] for d in (r.json() for r in dead)), "detail echoes input"
    status, metrics_text = worker.get("/metrics")
    assert status == 200
    assert MARK not in metrics_text.decode().lower() and "acme-corp" not in metrics_text.decode()
    assert b"leadscore_events_total" in metrics_text
    # No wait for the log: the worker logs a message's trouble (unbuffered) before it buffers
    # the message's dead letter, and every dead letter has been read above.
    log = worker.log_path.read_bytes()
    assert log, "the worker wrote no log"
    found = [m.start() for m in re.finditer(MARK.encode(), log, re.IGNORECASE)]
    assert not found, f"input in the log: {log[max(0, found[0] - 200) : found[0] + 200]!r}"
    assert b"acme-corp" not in log and b"<script>" not in log
    controls = set(re.findall(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", log))
    assert not controls, f"control characters in the log: {controls}"


async def test_erasure_leaves_a_marker_and_a_tombstone(
    settings: Settings, worker: WorkerProcess
) -> None:
    lead = f"erase-{uuid.uuid4().hex[:8]}"
    forms = settings.topic("leads.forms")
    events = [personal_form(lead, f"{lead}-f"), personal_form(lead, f"{lead}-f2", minutes=5)]
    events.append(doc("email.clicked", lead, f"{lead}-c", 6, url=f"https://x.test/{MARK}"))
    await produce(settings.kafka_bootstrap, forms, [Record(lead, e) for e in events[:2]])
    await produce(
        settings.kafka_bootstrap, settings.topic("leads.email-clicks"), [Record(lead, events[2])]
    )
    await scores_until(
        settings,
        "3 events applied",
        lambda s: (
            (r := latest(s, lead)) is not None and (r.json() or {}).get("events_counted") == 3
        ),
    )
    assert worker.get(f"/leads/{lead}")[0] == 200
    erased = doc("lead.erased", lead, f"{lead}-x", 10)
    await produce(
        settings.kafka_bootstrap, settings.topic("leads.lifecycle"), [Record(lead, erased)]
    )
    await scores_until(
        settings,
        "a tombstone",
        lambda s: (r := latest(s, lead)) is not None and r.value is None,
    )
    # A late event (older than the erasure), on another topic, must not bring the lead back.
    late = doc("email.opened", lead, f"{lead}-late", 8)
    # Then a sentinel on the same partition: once it is scored, the late event was handled.
    sentinel = neighbour(lead, settings.partitions)
    opened = doc("email.opened", sentinel, f"{sentinel}-o", 8)
    await produce(
        settings.kafka_bootstrap,
        settings.topic("leads.email-opens"),
        [Record(lead, late), Record(sentinel, opened)],
    )
    await scores_until(settings, "the sentinel's score", lambda s: latest(s, sentinel) is not None)
    assert worker.get(f"/leads/{lead}")[0] == 404
    scores = await read_all(settings.kafka_bootstrap, settings.topic("leads.scores"))
    last = latest(scores, lead)
    assert last is not None and last.value is None, "the latest score is not the tombstone"
    changelog = f"{settings.app_id}-leads-changelog"
    records = await read_all(settings.kafka_bootstrap, changelog)
    mine = [r for r in records if r.key is not None and r.key.decode(errors="replace") == lead]
    assert mine, f"no changelog record for {lead} in {changelog}"
    marker = LeadState.from_bytes(mine[-1].value or b"")
    assert marker.lead_id == lead and marker.erased_at is not None
    assert marker == LeadState(lead, erased_at=marker.erased_at), "the marker keeps more"
    raw = (mine[-1].value or b"").lower()
    assert MARK.encode() not in raw and b"acme" not in raw and b"smith" not in raw


def test_only_the_workers_own_pages_are_served(worker: WorkerProcess) -> None:
    for page in ALLOWED_PAGES:
        assert worker.get(page)[0] == 200, page
    assert worker.get("/leads/no-such-lead")[0] == 404
    served = {page: worker.get(page)[0] for page in FAUST_PAGES}
    assert all(status == 404 for status in served.values()), served


async def test_a_lead_with_the_widest_ids_does_not_crash_the_worker(
    settings: Settings, worker: WorkerProcess
) -> None:
    """A full dedupe window of 128-character ids of 4-byte characters: the lead's state, one
    changelog record, used to exceed Kafka's 1 MB and crash the worker on every write."""
    lead = f"wide-{uuid.uuid4().hex[:8]}"
    n = 1050
    values = [
        doc("email.clicked", lead, widest_id(i), i / 60, message_id=widest_id(i + 7))
        for i in range(n)
    ]
    await produce(
        settings.kafka_bootstrap,
        settings.topic("leads.email-clicks"),
        [Record(lead, v) for v in values],
    )
    await scores_until(
        settings,
        f"{n} events applied",
        lambda s: (r := latest(s, lead)) is not None and r.json()["events_counted"] == n,
    )
    assert worker.alive() and worker.get("/readyz")[0] == 200
