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
from datetime import timedelta
from typing import Any

import orjson
import pytest

from schemas.codec import parse_event
from schemas.events import routing_key
from schemas.outputs import ACCOUNT_STATE_FIELDS, SCORE_STATE_FIELDS
from schemas.topics import SEGMENT
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
    payload = b"".join(message_key(v).encode() + b"\t" + v + b"\n" for v in lines)
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


def message_key(value: bytes) -> str:
    """The key a producer sets: the contract's (a lead, or a visitor for its anonymous views
    and links), or a Segment message's (userId, else anonymousId)."""
    doc = orjson.loads(value)
    if "messageId" in doc:
        return str(doc.get("userId") or doc["anonymousId"])
    return routing_key(parse_event(value, topic_for(value)))


def send_with_kcat(settings: Settings, events: list[bytes]) -> None:
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for value in events:
        topic = SEGMENT.name if b'"messageId"' in value else topic_for(value)
        by_topic[settings.topic(topic)].append(value)
    for topic, lines in by_topic.items():
        kcat_produce(settings.kafka_bootstrap, topic, lines)


def events_counter(worker: WorkerProcess, outcome: str) -> float:
    return metric_sum(worker, "leadscore_events_total", f'outcome="{outcome}"')


def metric_sum(worker: WorkerProcess, name: str, label: str) -> float:
    """The sum of the series of `name` whose labels include `label` (e.g. 'outcome="x"')."""
    status, body = worker.get("/metrics")
    assert status == 200
    pattern = re.compile(rf"^{name}\{{[^}}]*{re.escape(label)}[^}}]*\}} (\S+)$", re.M)
    return sum(float(v) for v in pattern.findall(body.decode()))


def wait_for_metric(
    worker: WorkerProcess, name: str, label: str, at_least: float, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while (seen := metric_sum(worker, name, label)) < at_least:
        assert time.monotonic() < deadline, f"{name}{{{label}}}: {seen} of {at_least}"
        time.sleep(0.2)


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


SITE = "https://www.acme-corp.com"
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def web(kind: str, minutes: float, eid: str, **fields: Any) -> bytes:
    """A leads.web event (no lead_id unless given: a visitor's)."""
    at = (BASE + timedelta(minutes=minutes)).isoformat()
    return orjson.dumps({"event_id": eid, "type": kind, "occurred_at": at, **fields})


def views(lead: str, start: float, **who: str) -> list[bytes]:
    """A visit: pricing, a reload of it, the demo page, then the careers page next day."""
    pages = [("/pricing", 0, "s1"), ("/pricing?ref=nav", 1, "s1"), ("/demo", 3, "s1")]
    pages.append(("/careers", 60 * 24, "s2"))
    return [
        web("page.viewed", start + m, f"{lead}-v{i}", url=SITE + path, session_id=s,
            user_agent=BROWSER, **who)
        for i, (path, m, s) in enumerate(pages)
    ]  # fmt: skip


def link(lead: str, minutes: float, anon: str) -> bytes:
    return web("identity.linked", minutes, f"{lead}-k", anonymous_id=anon, lead_id=lead)


def web_stream(tag: str) -> dict[str, list[bytes]]:
    """Leads that differ by one page view, visitors linked after or before their views
    (and a twin known all along), and a crawler."""

    def lead_form(lead: str) -> bytes:
        return raw("form.submitted", lead, 0, f"{lead}-f", **{**FORM, "email": f"{lead}@acme.com"})

    one = {"pricing": "/pricing", "blog": "/blog/why", "careers": "/careers/sre"}
    out: dict[str, list[bytes]] = {f"{tag}-base": [lead_form(f"{tag}-base")]}
    for name, path in one.items():
        lead = f"{tag}-{name}"
        view = web(
            "page.viewed", 30, f"{lead}-v", url=SITE + path, lead_id=lead, user_agent=BROWSER
        )
        out[lead] = [lead_form(lead), view]
    crawler = f"{tag}-crawled"
    crawled = web("page.viewed", 30, f"{crawler}-v", url=SITE + "/pricing", lead_id=crawler,
                  user_agent=GOOGLEBOT)  # fmt: skip
    out[crawler] = [lead_form(crawler), crawled]
    known, after, before = f"{tag}-known", f"{tag}-after", f"{tag}-before"
    out[known] = [lead_form(known), *views(known, 30, lead_id=known), link(known, 40, f"{known}-a")]
    out[after] = [lead_form(after), *views(after, 30, anonymous_id=f"{after}-a"),
                  link(after, 40, f"{after}-a")]  # fmt: skip
    out[before] = [lead_form(before), link(before, 40, f"{before}-a"),
                   *views(before, 30, anonymous_id=f"{before}-a")]  # fmt: skip
    return out


def segment_twins(tag: str) -> tuple[list[bytes], list[bytes]]:
    """The same facts as Segment messages (identify, anonymous page, Email Spec tracks,
    group) for one lead, and as contract events for its twin."""
    seg, nat = f"{tag}-seg", f"{tag}-nat"

    def at(minutes: float) -> str:
        return (BASE + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    def message(kind: str, minutes: float, mid: str, **fields: Any) -> bytes:
        return orjson.dumps({"type": kind, "messageId": f"{seg}-{mid}", "timestamp": at(minutes),
                             "context": {"userAgent": BROWSER}, **fields})  # fmt: skip

    traits = {"email": f"{seg}@acme.com", "firstName": "Jane", "lastName": "Doe",
              "title": "VP Marketing", "company": {"name": "Acme"}}  # fmt: skip
    segment = [
        message("page", 10, "p", anonymousId=f"{seg}-a",
                properties={"url": SITE + "/pricing", "path": "/pricing", "title": "Pricing"}),
        message("identify", 20, "i", userId=seg, anonymousId=f"{seg}-a", traits=traits),
        message("track", 30, "o", userId=seg, event="Email Opened",
                properties={"email_id": "m1", "campaign_id": "c1"}),
        message("track", 31, "c", userId=seg, event="Email Link Clicked",
                properties={"email_id": "m1", "campaign_id": "c1", "link_url": SITE}),
        message("group", 40, "g", userId=seg, groupId="acme",
                traits={"name": "Acme", "employees": 250, "industry": "software"}),
        message("track", 50, "x", userId=seg, event="Order Completed", properties={}),
    ]  # fmt: skip
    native = [
        web("page.viewed", 10, f"{nat}-p", anonymous_id=f"{nat}-a", url=SITE + "/pricing",
            title="Pricing", user_agent=BROWSER),
        web("identity.linked", 20, f"{nat}-i", anonymous_id=f"{nat}-a", lead_id=nat,
            email=f"{nat}@acme.com", first_name="Jane", last_name="Doe",
            job_title="VP Marketing", company="Acme"),
        raw("email.opened", nat, 30, f"{nat}-o", message_id="m1", campaign_id="c1",
            user_agent=BROWSER),
        raw("email.clicked", nat, 31, f"{nat}-c", message_id="m1", campaign_id="c1", url=SITE,
            user_agent=BROWSER),
        raw("lead.associated", nat, 40, f"{nat}-g", account_id="acme", company="Acme",
            company_size=250, industry="software"),
    ]  # fmt: skip
    return segment, native


def published(update: dict[str, Any]) -> dict[str, Any]:
    return {k: update[k] for k in SCORE_STATE_FIELDS}


async def test_kcat_web_visits_stitching_crawlers_segment_and_erasure(
    worker: WorkerProcess,
) -> None:
    settings = worker.settings
    by_lead = web_stream("wv")
    segment, native = segment_twins("wv")
    events = [e for lead_events in by_lead.values() for e in lead_events]
    offline = score_lines([*events, *native], MODEL)
    expected = {s.lead_id: s for s in offline.final_scores()}
    assert set(expected) == {*by_lead, "wv-nat"}

    send_with_kcat(settings, [*events, *native, *segment])
    want = {lead: s.events_counted for lead, s in expected.items()} | {
        "wv-seg": expected["wv-nat"].events_counted
    }

    def counted(seen: list[Any]) -> bool:
        last = {r.key_text: r.json() for r in seen}
        return all(
            last.get(lead) is not None and last[lead]["events_counted"] == n
            for lead, n in want.items()
        )

    scores_topic = settings.topic("leads.scores")
    scores = await consume_until(
        settings.kafka_bootstrap, scores_topic, counted, timeout=60, what="web scores"
    )
    final = {r.key_text: published(r.json()) for r in scores if r.value is not None}
    for lead, update in expected.items():  # the stream and `leadscore score` agree
        assert final[lead] == orjson.loads(update.model_dump_json(include=set(SCORE_STATE_FIELDS)))

    eng = {lead: final[lead]["engagement"] for lead in final}
    assert eng["wv-pricing"] > eng["wv-blog"] > eng["wv-base"] > eng["wv-careers"]
    crawled, base = final["wv-crawled"], final["wv-base"]
    assert (crawled["score"], crawled["engagement"]) == (base["score"], base["engagement"])
    assert {"factor": "machine_engagement x1", "points": 0.0} in crawled["factors"]
    # A visitor's views count once linked, as if the lead had had them all along.
    assert final["wv-after"] == final["wv-before"] == final["wv-known"]
    assert eng["wv-known"] > eng["wv-base"]
    # Segment-format messages score like their native twin; the unmapped track is ignored.
    assert final["wv-seg"] == final["wv-nat"]
    assert {"factor": "page.pricing", "points": 4.0} in final["wv-seg"]["factors"]

    # Erasure reaches the visitor: a later link of the same cookie to another lead brings
    # none of the erased lead's views along.
    erased = raw("lead.erased", "wv-after", 60 * 24 * 3, "wv-after-x")
    heir = link("wv-heir", 60 * 24 * 4, "wv-after-a")
    send_with_kcat(settings, [erased])
    await consume_until(
        settings.kafka_bootstrap,
        scores_topic,
        lambda seen: any(r.key_text == "wv-after" and r.value is None for r in seen),
        timeout=30,
        what="the erased lead's tombstone",
    )
    # The erasure's command to the visitor, on another topic: seen done before the heir's link.
    await asyncio.to_thread(
        wait_for_metric, worker, "leadscore_visitor_views_total", 'outcome="forgotten"', 4, 30
    )
    send_with_kcat(settings, [heir])
    scores = await consume_until(
        settings.kafka_bootstrap,
        scores_topic,
        lambda seen: any(r.key_text == "wv-heir" for r in seen),
        timeout=30,
        what="the heir's score",
    )
    heir_score = [r.json() for r in scores if r.key_text == "wv-heir"][-1]
    assert heir_score["events_counted"] == 1 and heir_score["engagement"] == 0, heir_score
    status, _ = worker.get("/leads/wv-after")
    assert status == 404


def account_phases(tag: str) -> list[list[bytes]]:
    """One company's people engaging in turn (its account warms up), a free-mail lead,
    then one person erased and another re-associated to an explicit account (a CRM id)."""
    domain = f"{tag}-corp.example"
    dev, ceo, mgr, free = (f"{tag}-{p}" for p in ("dev", "ceo", "mgr", "free"))

    def form(lead: str, title: str, minute: float, email: str | None = None) -> bytes:
        name = lead.rsplit("-", 1)[1]
        details = {**FORM, "email": email or f"{name}@{domain}", "first_name": name.title()}
        details.update(job_title=title, company_size=30, industry="consulting", country="DE")
        return raw("form.submitted", lead, minute, f"{lead}-f", **details)

    people = (dev, ceo, mgr)
    opens = [
        raw("email.opened", p, 60 + i, f"{p}-o{i}", message_id=f"m{i}")
        for p in people
        for i in range(2)
    ]
    clicks = [
        raw("email.clicked", p, 120 + i, f"{p}-c{i}", message_id="n")
        for p in people
        for i in range(3)
    ]
    pricing = "https://leadscore.example/pricing"
    views = [raw("page.viewed", p, 130, f"{p}-p", url=pricing, session_id=f"{p}-s") for p in people]
    return [
        [form(dev, "Software Engineer", 0), form(free, "Founder", 1, "sam.free@gmail.com")],
        [form(ceo, "Chief Executive Officer", 10), form(mgr, "Marketing Manager", 11)],
        opens,
        [*clicks, *views],
        [
            raw("lead.erased", dev, 200, f"{dev}-x"),
            raw("lead.associated", mgr, 201, f"{mgr}-a", account_id=f"{tag}-crm-7"),
        ],
    ]


def account_fields(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ACCOUNT_STATE_FIELDS}


async def test_kcat_account_warms_up_alerts_once_and_follows_erasure_and_moves(
    worker: WorkerProcess,
) -> None:
    settings = worker.settings
    tag = "ka"
    company, moved_to = f"{tag}-corp.example", f"{tag}-crm-7"
    accounts_topic = settings.topic("accounts.scores")
    sent: list[bytes] = []
    seen_scores: list[int] = []
    for phase in account_phases(tag):
        sent += phase
        offline = score_lines(sent, MODEL)
        want = {
            a.account_id: account_fields(a.model_dump(mode="json"))
            for a in offline.final_account_scores()
        }
        send_with_kcat(settings, phase)

        def caught_up(seen: list[Any], want: dict[str, Any] = want) -> bool:
            last = {r.key_text: r.value and account_fields(r.json()) for r in seen}
            return all(last.get(account) == fields for account, fields in want.items())

        got = await consume_until(
            settings.kafka_bootstrap, accounts_topic, caught_up, timeout=60, what="account scores"
        )
        seen_scores.append([r.json() for r in got if r.key_text == company][-1]["score"])

    # The company's account rose as its people engaged, and free mail formed none.
    assert seen_scores[:4] == sorted(seen_scores[:4]) and seen_scores[0] < 60 <= seen_scores[3]
    assert set(want) == {company, moved_to}, want
    final = want[company]
    # The erased lead left (top leads and counts), the re-associated one moved.
    assert [t["lead_id"] for t in final["top_leads"]] == [f"{tag}-ceo"] and final["people"] == 1
    assert [t["lead_id"] for t in want[moved_to]["top_leads"]] == [f"{tag}-mgr"]

    scores = await read_all(settings.kafka_bootstrap, settings.topic("leads.scores"))
    last = {r.key_text: r.json() for r in scores if r.key_text and r.key_text.startswith(tag)}
    assert last[f"{tag}-free"]["account_id"] is None
    assert (
        last[f"{tag}-ceo"]["account_id"] == company and last[f"{tag}-mgr"]["account_id"] == moved_to
    )

    alerts = [
        r.json()
        for r in await read_all(settings.kafka_bootstrap, settings.topic("accounts.alerts"))
    ]
    mine = [a for a in alerts if a["account_id"] == company]
    assert [a["alert_id"] for a in mine] == [
        a.alert_id for a in offline.account_alert_log if a.account_id == company
    ]
    assert len(mine) == 1 and mine[0]["threshold"] == "mqa" and mine[0]["score"] >= 60
    assert all("@" not in orjson.dumps(a).decode() for a in alerts), "no contact details"

    status, body = worker.get(f"/accounts/{company}")
    assert status == 200 and account_fields(orjson.loads(body)) == final
    assert worker.get(f"/accounts/{tag}-nobody.example")[0] == 404
