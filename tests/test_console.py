"""The console without a browser: its top-N index, its board fed with the pipeline's own
outputs, and its HTTP API (access, emails, a lead's details from a worker API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from schemas import topics
from streams.api_tokens import new_token
from streams.console.board import ConsoleBoard, LeadFilter
from streams.console.index import TopIndex
from streams.console.server import Console, serve
from streams.settings import Settings
from streams.testing import memory_pipeline
from streams.tools.worker_process import free_port
from tests.core_events import FORM_FIELDS, raw
from tests.test_history import feed

# --- the index ----------------------------------------------------------------------------

_updates = st.lists(
    st.tuples(st.sampled_from("abcdefghij"), st.integers(0, 100), st.sampled_from("xyz")),
    max_size=80,
)


@given(_updates, st.integers(1, 12), st.sampled_from([None, "x", "y"]))
def test_top_is_the_full_sort_best_first_newest_first(
    updates: list[tuple[str, int, str]], n: int, facet: str | None
) -> None:
    index: TopIndex[tuple[str]] = TopIndex()
    latest: dict[str, tuple[int, int, str]] = {}
    for seq, (key, score, f) in enumerate(updates):
        if score == 0 and key in latest:  # now and then a removal
            index.remove(key)
            del latest[key]
            continue
        index.put(key, score, (f,))
        latest[key] = (score, seq, f)
    expected = sorted(
        (k for k, (_, _, f) in latest.items() if facet is None or f == facet),
        key=lambda k: (-latest[k][0], -latest[k][1]),
    )[:n]
    assert index.top(n, lambda fs: facet is None or fs[0] == facet) == expected
    assert len(index) == len(latest)


# --- the board, fed with what the pipeline publishes ---------------------------------------


def published(events: list[bytes], leads: list[str]) -> list[tuple[str, bytes, bytes | None]]:
    """The (contract topic, key, value) messages the pipeline sends for `events`."""
    pipe, sent, _ = memory_pipeline()
    for line, lead in zip(events, leads, strict=True):
        feed(pipe, line, lead)
    outputs = {topics.SCORES.name, topics.ALERTS.name, topics.ACCOUNT_SCORES.name}
    named = [(m.topic.removeprefix("p."), m.key, m.value) for m in sent]  # memory_pipeline's
    return [(topic, key, value) for topic, key, value in named if topic in outputs]


def hot_lead(lead: str, email: str = "jane.doe@acme-corp.com") -> list[bytes]:
    """A qualified form, then clicks: an mql alert at least."""
    clicks = [
        raw("email.clicked", lead, i + 1, message_id=f"m{i}", url="https://acme.io/p")
        for i in range(8)
    ]
    answers = {"budget": 5e4, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
    form = FORM_FIELDS | {"email": email, "answers": answers}
    return [raw("form.submitted", lead, 0, **form), *clicks]


def board_with(*leads: str, show_emails: bool = False) -> ConsoleBoard:
    pairs = [(e, lead) for lead in leads for e in hot_lead(lead)]
    events, owners = [e for e, _ in pairs], [lead for _, lead in pairs]
    board = ConsoleBoard(show_emails=show_emails)
    for topic, key, value in published(events, owners):
        board.apply(topic, key, value)
    return board


def test_the_board_keeps_each_leads_latest_score_and_its_alerts() -> None:
    board = board_with("L1", "L2")
    assert set(board.leads) == {"L1", "L2"}
    assert [r.lead_id for r in board.top_leads(10)] != []
    assert board.leads["L1"].score > 0 and board.leads["L1"].top_factors
    assert board.alerts and all(a["contact"]["email"] is None for a in board.alerts)
    assert board.lead_alerts["L1"][0]["lead_id"] == "L1"


def test_emails_are_kept_only_when_shown() -> None:
    board = board_with("L1", show_emails=True)
    assert board.alerts[0]["contact"]["email"] == "jane.doe@acme-corp.com"


def test_a_tombstone_removes_the_lead_and_its_alerts() -> None:
    board = board_with("L1", "L2")
    board.apply(topics.SCORES.name, b"L1", None)
    assert "L1" not in board.leads and "L1" not in board.lead_alerts
    assert all(a["lead_id"] != "L1" for a in board.alerts)
    assert [r.lead_id for r in board.top_leads(10)] == ["L2"]


def test_an_alert_sent_again_is_shown_once_and_garbage_is_counted() -> None:
    board = ConsoleBoard()
    for topic, key, value in published(hot_lead("L1"), ["L1"] * 9):
        board.apply(topic, key, value)
        board.apply(topic, key, value)
    assert len(board.alerts) == len({a["alert_id"] for a in board.alerts})
    board.apply(topics.SCORES.name, b"x", b"{not json")
    board.apply(topics.SCORES.name, b"x", b'{"lead_id": "x"}')
    assert board.unreadable == 2


def test_filters_pick_by_stage_grade_bot_flag_and_contactable() -> None:
    board = board_with("L1")
    lowercase = [raw("form.submitted", "L9", 0, **FORM_FIELDS | {"first_name": "ann"})]
    for topic, key, value in published(lowercase, ["L9"]):
        board.apply(topic, key, value)
    assert [r.lead_id for r in board.top_leads(10, LeadFilter(flagged=True))] == ["L9"]
    assert [r.lead_id for r in board.top_leads(10, LeadFilter(flagged=False))] == ["L1"]
    stage = board.leads["L1"].stage
    assert "L1" in [r.lead_id for r in board.top_leads(10, LeadFilter(stage=stage))]
    assert board.top_leads(10, LeadFilter(contactable=False)) == []


# --- the HTTP API ---------------------------------------------------------------------------

READER, READER_ENTRY = new_token("reader", ["read:leads"])
SALES, SALES_ENTRY = new_token("sales", ["read:leads", "read:accounts", "read:contacts"])
CONSOLE, CONSOLE_ENTRY = new_token("console", ["read:leads"])


def worker_api(board: ConsoleBoard, seen: list[str]) -> web.Application:
    """A stand-in for a worker's API: the lead's score and a one-row history."""

    async def lead(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        row = board.leads.get(request.match_info["lead_id"])
        if row is None:
            return web.json_response({"error": "unknown lead"}, status=404)
        if request.path.endswith("/history"):
            change = {"changed_at": row.updated_at, "score": row.score, "stage": row.stage}
            return web.json_response({"lead_id": row.lead_id, "changes": [change]})
        return web.json_response({**row.as_json(), "factors": []})

    app = web.Application()
    app.router.add_get("/leads/{lead_id}", lead)
    app.router.add_get("/leads/{lead_id}/history", lead)
    return app


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], list[str], Console]]:
    seen: list[str] = []
    board = board_with("L1", "L2", show_emails=True)
    worker = TestServer(worker_api(board, seen), port=free_port())
    await worker.start_server()
    report = tmp_path / "calibration.json"
    report.write_text('{"control_rate": 0.05, "lift": []}')
    settings = Settings(
        api_tokens=[READER_ENTRY, SALES_ENTRY],
        console_api_url=str(worker.make_url("")).rstrip("/"),
        console_api_token=CONSOLE,
        console_show_emails=True,
        console_calibration_report=report,
    )
    console = Console(settings, board, asyncio.Event())
    client = TestClient(TestServer(console.application(), port=free_port()))
    await client.start_server()
    yield client, seen, console
    await client.close()
    await worker.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_api_needs_a_token_and_the_page_does_not(api: Any) -> None:
    client, _, _ = api
    page = await client.get("/")
    assert page.status == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]  # no CDN, no frame
    assert (await client.get("/leads/L1")).status == 200  # the page shell: no data in it
    assert (await client.get("/api/leaderboard")).status == 401
    assert (await client.get("/api/leaderboard", headers=bearer("lst_nope"))).status == 401
    assert (await client.get("/api/accounts", headers=bearer(READER))).status == 403
    answer = await client.get("/api/leaderboard", headers=bearer(READER))
    assert answer.status == 200
    doc = await answer.json()
    assert doc["total"] == 2 and doc["leads"][0]["score"] >= doc["leads"][1]["score"]


async def test_login_sets_a_cookie_that_opens_the_api(api: Any) -> None:
    client, _, _ = api
    assert (await client.post("/api/login", json={"token": "lst_nope"})).status == 401
    answer = await client.post("/api/login", json={"token": READER})
    assert answer.status == 204
    assert "HttpOnly" in answer.headers["Set-Cookie"]
    assert (await client.get("/api/summary")).status == 200  # the cookie jar sends it
    assert (await (await client.get("/api/session")).json()) == {"login_required": False}
    client.session.cookie_jar.clear()
    assert (await (await client.get("/api/session")).json()) == {"login_required": True}


async def test_emails_need_read_contacts(api: Any) -> None:
    client, _, _ = api
    reader = await (await client.get("/api/alerts", headers=bearer(READER))).json()
    sales = await (await client.get("/api/alerts", headers=bearer(SALES))).json()
    assert reader["alerts"] and all(a["contact"]["email"] is None for a in reader["alerts"])
    assert any(a["contact"]["email"] for a in sales["alerts"])


async def test_a_lead_page_brings_the_workers_score_and_history(api: Any) -> None:
    client, seen, _ = api
    answer = await client.get("/api/leads/L1", headers=bearer(READER))
    doc = await answer.json()
    assert doc["lead"]["lead_id"] == "L1" and doc["current"]["lead_id"] == "L1"
    assert doc["history"]["changes"][0]["score"] == doc["lead"]["score"]
    assert doc["worker_error"] is None and "free_mail" in doc["bot_flag_help"]
    assert seen and all(h == f"Bearer {CONSOLE}" for h in seen)  # the console's own token
    assert (await client.get("/api/leads/nobody", headers=bearer(READER))).status == 404


async def test_a_worker_that_does_not_answer_is_said_not_fatal(tmp_path: Path) -> None:
    board = board_with("L1")
    settings = Settings(console_api_url=f"http://127.0.0.1:{free_port()}")
    client = TestClient(TestServer(Console(settings, board, asyncio.Event()).application()))
    await client.start_server()
    try:
        doc = await (await client.get("/api/leads/L1")).json()
    finally:
        await client.close()
    assert doc["lead"]["lead_id"] == "L1" and doc["current"] is None
    assert "no worker API answers" in doc["worker_error"]


async def test_the_model_page_has_the_model_and_the_report(api: Any) -> None:
    client, _, _ = api
    doc = await (await client.get("/api/model", headers=bearer(READER))).json()
    assert doc["model"]["thresholds"]["levels"]["mql"] > 0
    assert doc["calibration"]["control_rate"] == 0.05 and doc["diff"] is None


async def test_the_stream_says_hello_then_sends_each_new_alert(api: Any) -> None:
    client, _, console = api
    answer = await client.get("/api/stream", headers=bearer(READER))
    first = await answer.content.readuntil(b"\n\n")
    assert b"event: tick" in first and b'"leads":2' in first
    for topic, key, value in published(hot_lead("L3", "x.y@acme-corp.com"), ["L3"] * 9):
        console.on_message(topic, key, value)
    alert = await asyncio.wait_for(answer.content.readuntil(b"\n\n"), 5)
    assert alert.startswith(b"event: alert\n")
    doc = orjson.loads(alert.split(b"data: ", 1)[1])
    assert doc["lead_id"] == "L3" and doc["contact"]["email"] is None  # never on the stream
    answer.close()


async def test_stopping_the_console_ends_open_streams() -> None:
    # Else the server would wait for each browser's stream before it stops.
    port = free_port()
    console = Console(Settings(console_port=port), ConsoleBoard(), asyncio.Event())
    runner = await serve(console)
    async with ClientSession() as session:
        answer = await session.get(f"http://127.0.0.1:{port}/api/stream")
        await answer.content.readuntil(b"\n\n")
        await asyncio.wait_for(runner.cleanup(), 30)
        assert await asyncio.wait_for(answer.content.read(), 5) == b""  # ended, not cut
