"""Alert webhook: a real worker posts alerts to a local aiohttp receiver started here.

The receiver runs in its own thread and event loop, so it serves the worker process while
tests await Kafka. Per alert it can fail the first attempts (flaky-* leads) or every attempt
(dead-* leads); it records every POST with its status.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from schemas.codec import encode
from schemas.outputs import Alert, Contact, Factor
from schemas.topics import ALERTS, DEAD_LETTER, EMAIL_CLICKS, FORMS
from streams.app.webhook import (
    Attempt,
    WebhookPolicy,
    deliver,
    post_once,
    retry_after_seconds,
    slack_message,
)
from streams.settings import Settings
from tests.core_events import FORM_FIELDS, raw
from tests.kafka_helpers import (
    Consumed,
    Record,
    consume_until,
    produce,
)
from tests.worker_proc import WorkerProcess, free_port, module_worker

FLAKY_FAILURES = 2  # a flaky-* alert fails this many times, then succeeds
MAX_ATTEMPTS = 3
WEBHOOK_ENV = {
    "LEADSCORE_WEBHOOK_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
    "LEADSCORE_WEBHOOK_BACKOFF_SECONDS": "0.1",
    "LEADSCORE_WEBHOOK_BACKOFF_MAX_SECONDS": "0.5",
    "LEADSCORE_WEBHOOK_TIMEOUT_SECONDS": "3",
}
HOT_ANSWERS = {"budget": 50000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
FORM = {**FORM_FIELDS, "answers": HOT_ANSWERS}


@dataclass(frozen=True)
class Post:
    alert_id: str
    lead_id: str
    status: int
    body: dict[str, Any]


class Receiver:
    """A webhook endpoint in a background thread; `posts` lists every request received."""

    def __init__(self) -> None:
        self.port = free_port()
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        alert_id = request.headers.get("X-Leadscore-Alert-Id", "")
        found = re.match(r"Lead (\S+) crossed", body.get("text", ""))
        lead = found.group(1) if found else ""
        with self._lock:
            tried = sum(1 for p in self.posts if p.alert_id == alert_id)
            failing = lead.startswith("dead-") or (
                lead.startswith("flaky-") and tried < FLAKY_FAILURES
            )
            status = 503 if failing else 200
            self.posts.append(Post(alert_id, lead, status, body))
        return web.Response(status=status, text="ok" if status == 200 else "unavailable")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def of(self, lead: str) -> list[Post]:
        with self._lock:
            return [p for p in self.posts if p.lead_id == lead]

    async def wait_for(
        self, lead: str, count: int, worker: WorkerProcess, timeout: float = 45.0
    ) -> list[Post]:
        """The posts for `lead` once there are at least `count` of them."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.of(lead)) < count:
            if asyncio.get_running_loop().time() > deadline:
                seen = [(p.lead_id, p.status) for p in self.posts[-10:]]
                raise AssertionError(
                    f"{lead}: {len(self.of(lead))} posts, wanted {count}; last posts: {seen}\n"
                    f"worker log:\n{worker.tail(60)}"
                )
            await asyncio.sleep(0.1)
        return self.of(lead)


# --- without a broker --------------------------------------------------------------------


def _alert(lead: str = "L1", alert_id: str = "a1") -> Alert:
    now = datetime(2026, 11, 1, 9, tzinfo=UTC)
    return Alert(
        alert_id=alert_id,
        lead_id=lead,
        threshold="mql",
        level=60,
        score=72,
        previous_score=56,
        factors=[Factor(factor="email.clicked", points=15.0)],
        contact=Contact(name="<!channel> Jane", email="jane@acme-corp.com", company="Acme"),
        occurred_at=now,
        emitted_at=now,
    )


def test_slack_message_has_no_email_and_escapes_mentions() -> None:
    message = slack_message(_alert())
    text = orjson.dumps(message).decode()
    assert message["text"].startswith("Lead L1 crossed mql (60): score 72")
    assert "jane@acme-corp.com" not in text and "@" not in text
    assert "&lt;!channel&gt; Jane" in text and "<!channel>" not in text
    assert {block["type"] for block in message["blocks"]} >= {"header", "section", "context"}


async def test_deliver_retries_with_backoff_then_gives_up() -> None:
    policy = WebhookPolicy(max_attempts=4, backoff_seconds=1.0, backoff_max_seconds=3.0)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def failing() -> Attempt:
        return Attempt(False, True, "HTTP 503")

    result = await deliver(failing, policy, sleep)
    assert (result.ok, result.attempts, result.detail) == (False, 4, "HTTP 503")
    # Doubling with equal jitter, capped: [0.5, 1], [1, 2], [1.5, 3].
    assert len(waits) == 3
    for wait, (low, high) in zip(waits, [(0.5, 1), (1, 2), (1.5, 3)], strict=True):
        assert low <= wait <= high


async def test_deliver_stops_at_a_permanent_error() -> None:
    async def gone() -> Attempt:
        return Attempt(False, False, "HTTP 404")

    result = await deliver(gone, WebhookPolicy(max_attempts=5), lambda _s: asyncio.sleep(0))
    assert (result.ok, result.attempts) == (False, 1)


RETRY_NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("Fri, 27 Nov 2026 10:01:30 GMT", 90.0),  # IMF-fixdate
        ("Friday, 27-Nov-26 10:00:45 GMT", 45.0),  # obsolete RFC 850 form
        ("Fri Nov 27 10:00:10 2026", 10.0),  # obsolete asctime form (no zone: UTC)
        ("Fri, 27 Nov 2026 09:59:00 GMT", 0.0),  # already past: retry at once
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, now=RETRY_NOW) == seconds


def test_retry_after_date_is_capped_by_the_max_backoff() -> None:
    policy = WebhookPolicy(backoff_seconds=1.0, backoff_max_seconds=30.0)
    in_an_hour = retry_after_seconds("Fri, 27 Nov 2026 11:00:00 GMT", now=RETRY_NOW)
    assert in_an_hour == 3600.0
    assert policy.delay(1, in_an_hour) == 30.0
    assert policy.delay(1, retry_after_seconds("Fri, 27 Nov 2026 10:00:07 GMT", RETRY_NOW)) == 7


async def test_post_once_honours_a_retry_after_date() -> None:
    """A real HTTP round trip: 503 with Retry-After as an HTTP date 20 s ahead; the attempt
    carries about 20 s, and delivery waits the policy's cap (5 s) before retrying."""
    posts = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal posts
        posts += 1
        if posts > 2:
            return web.Response(status=200)
        later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
        return web.Response(status=503, headers={"Retry-After": later})

    server = web.Application()
    server.router.add_post("/hook", handle)
    runner = web.AppRunner(server)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    try:
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/hook"
            first = await post_once(session, url, b"{}", "a-1")
            assert (first.ok, first.retryable, first.detail) == (False, True, "HTTP 503")
            assert first.retry_after is not None and 18.0 <= first.retry_after <= 20.0
            policy = WebhookPolicy(max_attempts=3, backoff_seconds=0.1, backoff_max_seconds=5.0)
            result = await deliver(lambda: post_once(session, url, b"{}", "a-2"), policy, sleep)
    finally:
        await runner.cleanup()
    # The second POST fails the same way, the wait is capped, the third succeeds.
    assert (result.ok, result.attempts, posts) == (True, 2, 3)
    assert waits == [5.0]


# --- with a broker and a worker ----------------------------------------------------------


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(
        kafka_bootstrap, tmp_path_factory, "webhook", env=WEBHOOK_ENV, webhook_url=receiver.url
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def settings(worker: WorkerProcess) -> Settings:
    return worker.settings


async def make_mql(settings: Settings, lead: str) -> None:
    """A demo request with strong answers and three clicks: one mql alert (score 72 at the
    end; the alert fires at the first event that crosses 60)."""
    bootstrap = settings.kafka_bootstrap
    await produce(
        bootstrap, settings.topic(FORMS), [Record(lead, raw("form.submitted", lead, 0, **FORM))]
    )
    clicks = [Record(lead, raw("email.clicked", lead, i + 1)) for i in range(3)]
    await produce(bootstrap, settings.topic(EMAIL_CLICKS), clicks)


def lead(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:8]}"


def metric(worker: WorkerProcess, result: str) -> float:
    status, body = worker.get("/metrics")
    assert status == 200
    found = re.search(
        rf'leadscore_webhook_deliveries_total{{result="{result}"}} (\S+)', body.decode()
    )
    return float(found.group(1)) if found else 0.0


@pytest.mark.kafka
async def test_alert_is_delivered(
    settings: Settings, worker: WorkerProcess, receiver: Receiver
) -> None:
    who = lead("ok")
    await make_mql(settings, who)

    [post] = await receiver.wait_for(who, 1, worker)

    assert post.status == 200 and post.alert_id
    assert re.fullmatch(rf"Lead {who} crossed mql \(60\): score \d+ \(was \d+\)", post.body["text"])
    text = orjson.dumps(post.body).decode()
    assert "Jane Doe" in text and "Acme Corp" in text and "@" not in text


@pytest.mark.kafka
async def test_retries_through_failures(
    settings: Settings, worker: WorkerProcess, receiver: Receiver
) -> None:
    retries_before = metric(worker, "retry")
    who = lead("flaky")
    await make_mql(settings, who)

    posts = await receiver.wait_for(who, FLAKY_FAILURES + 1, worker)

    assert [p.status for p in posts] == [503] * FLAKY_FAILURES + [200]
    assert len({p.alert_id for p in posts}) == 1
    assert metric(worker, "retry") - retries_before == FLAKY_FAILURES
    await _sentinel_handled(settings, receiver, worker, who, FLAKY_FAILURES + 1)
    again = [p for p in receiver.of(who) if p.alert_id == posts[0].alert_id]
    assert len(again) == FLAKY_FAILURES + 1  # nothing after the success


@pytest.mark.kafka
async def test_redelivered_alert_is_not_posted_again(
    settings: Settings, worker: WorkerProcess, receiver: Receiver
) -> None:
    who = lead("ok")
    await make_mql(settings, who)
    [first] = await receiver.wait_for(who, 1, worker)
    alerts = settings.topic(ALERTS)
    [original] = await _alerts_of(settings, who, 1)

    # The same message again (a redelivery), then a new alert of the same lead: it is on the
    # same partition, so once it is posted the redelivered one has been handled.
    sentinel = _alert(who, f"sentinel-{uuid.uuid4().hex[:6]}")
    await produce(settings.kafka_bootstrap, alerts, [Record(who, original.value)])
    await produce(settings.kafka_bootstrap, alerts, [Record(who, encode(sentinel))])
    posts = await receiver.wait_for(who, 2, worker)

    assert [p.alert_id for p in posts] == [first.alert_id, sentinel.alert_id]
    assert orjson.loads(original.value or b"{}")["alert_id"] == first.alert_id


@pytest.mark.kafka
async def test_gives_up_into_a_dead_letter(
    settings: Settings, worker: WorkerProcess, receiver: Receiver
) -> None:
    who = lead("dead")
    await make_mql(settings, who)

    posts = await receiver.wait_for(who, MAX_ATTEMPTS, worker)
    records = await consume_until(
        settings.kafka_bootstrap,
        settings.topic(DEAD_LETTER),
        lambda recs: any(_is_webhook_failure(r, who) for r in recs),
        what=f"webhook_failed dead letter for {who}",
    )

    [letter] = [r.json() for r in records if _is_webhook_failure(r, who)]
    assert letter["source_topic"] == settings.topic(ALERTS)
    assert letter["detail"] == f"webhook gave HTTP 503 after {MAX_ATTEMPTS} attempt(s)"
    assert orjson.loads(letter["payload"])["alert_id"] == posts[0].alert_id
    assert metric(worker, "failed") >= 1
    await _sentinel_handled(settings, receiver, worker, who, MAX_ATTEMPTS)
    assert len([p for p in receiver.of(who) if p.alert_id == posts[0].alert_id]) == MAX_ATTEMPTS


async def _sentinel_handled(
    settings: Settings, receiver: Receiver, worker: WorkerProcess, who: str, attempts: int
) -> None:
    """Send a new alert of the same lead and wait for its `attempts` posts: it is on the
    same partition, handled in order, so every post of the alerts before it has been made.
    (What a negative check waits for instead of a fixed sleep.)"""
    sentinel = _alert(who, f"sentinel-{uuid.uuid4().hex[:6]}")
    await produce(settings.kafka_bootstrap, settings.topic(ALERTS), [Record(who, encode(sentinel))])
    deadline = asyncio.get_running_loop().time() + 45.0
    while len([p for p in receiver.of(who) if p.alert_id == sentinel.alert_id]) < attempts:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the sentinel alert of {who} was not posted {attempts} times")
        await asyncio.sleep(0.1)


def _is_webhook_failure(record: Consumed, who: str) -> bool:
    doc = record.json()
    return bool(doc and doc.get("error") == "webhook_failed" and record.key_text == who)


async def _alerts_of(settings: Settings, who: str, count: int) -> list[Consumed]:
    records = await consume_until(
        settings.kafka_bootstrap,
        settings.topic(ALERTS),
        lambda recs: sum(r.key_text == who for r in recs) >= count,
        what=f"{count} alert(s) for {who}",
    )
    return [r for r in records if r.key_text == who]


@pytest.mark.kafka
async def test_a_new_worker_remembers_delivered_alerts(
    settings: Settings, worker: WorkerProcess, receiver: Receiver, tmp_path: Path
) -> None:
    """The delivered ids live in a changelogged table: a worker with an empty data dir (as
    after losing a machine) recovers them and does not post a replayed alert again."""
    who = lead("ok")
    await make_mql(settings, who)
    [first] = await receiver.wait_for(who, 1, worker)
    [original] = await _alerts_of(settings, who, 1)
    worker.stop()

    fresh = settings.model_copy(update={"data_dir": tmp_path / "new-worker"})
    replacement = WorkerProcess(fresh, tmp_path / "worker.log", env=WEBHOOK_ENV)
    try:
        replacement.start()
        sentinel = _alert(who, f"sentinel-{uuid.uuid4().hex[:6]}")
        alerts = settings.topic(ALERTS)
        await produce(settings.kafka_bootstrap, alerts, [Record(who, original.value)])
        await produce(settings.kafka_bootstrap, alerts, [Record(who, encode(sentinel))])
        posts = await receiver.wait_for(who, 2, replacement)
    finally:
        replacement.stop()
        # The module's worker again, for whichever test runs next (it keeps its data dir).
        await asyncio.to_thread(worker.start)

    assert [p.alert_id for p in posts] == [first.alert_id, sentinel.alert_id]
