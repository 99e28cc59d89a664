"""`leadscore demo` as CI runs it (no terminal, ends by itself, cleans up after itself), and
the tail view it shows."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from schemas.codec import encode
from schemas.outputs import (
    AccountAlert,
    AccountScore,
    Alert,
    Contact,
    Factor,
    ScoreUpdate,
    TopLead,
)
from streams.kafka.admin import list_topics
from streams.tools import tail
from streams.tools.demo import parse_counts
from streams.tools.tail import Board, View, follow, json_line, render
from tests.kafka_helpers import kafka_settings

NOW = datetime(2026, 11, 1, 9, tzinfo=UTC)
EMAIL = "jane.doe@acme-corp.com"


def _score(lead: str, score: int) -> bytes:
    update = ScoreUpdate(
        lead_id=lead, score=score, fit=50, engagement=50, validity=1.0, grade="B",
        stage="engaged", bot_flags=[], factors=[Factor(factor="email.clicked", points=10.0)],
        model_version="m1", events_counted=3, last_event_at=NOW, cause_event_id="e1",
        updated_at=NOW,
    )  # fmt: skip
    return encode(update)


def _alert(lead: str, alert_id: str | None = None) -> bytes:
    contact = Contact(name="Jane Doe", email=EMAIL, company="Acme Corp")
    alert = Alert(
        alert_id=alert_id or f"a-{lead}", lead_id=lead, threshold="mql", level=60, score=72,
        previous_score=55, factors=[], contact=contact, occurred_at=NOW, emitted_at=NOW,
    )  # fmt: skip
    return encode(alert)


def test_board_keeps_latest_scores_and_forgets_erased_leads() -> None:
    board = Board()
    for lead, score in (("a", 10), ("b", 70), ("a", 90), ("c", 50)):
        board.apply("leads.scores", lead.encode(), _score(lead, score))
    board.apply("leads.scores", b"c", None)  # tombstone
    board.apply("leads.alerts", b"b", _alert("b"))
    board.apply("leads.scores", b"x", b"not json")

    assert [(u.lead_id, u.score) for u in board.top(5)] == [("a", 90), ("b", 70)]
    assert board.alerts_by_threshold == {"mql": 1}
    assert board.counts["unreadable"] == 1 and board.counts["tombstones"] == 1


def test_an_alert_sent_again_is_shown_and_counted_once() -> None:
    board = Board()
    shown = [board.apply("leads.alerts", b"b", _alert("b", "id-1")) for _ in range(3)]
    assert shown[0] is not None and shown[1:] == [None, None]
    assert board.apply("leads.alerts", b"b", _alert("b", "id-2")) is not None
    assert len(board.alerts) == 2 and board.counts["alerts"] == 2
    assert board.counts["alerts_repeated"] == 2


def test_plain_view_and_json_lines_never_print_emails() -> None:
    out = io.StringIO()
    with View(Board(), live=False, out=out) as view:
        view.message("leads.alerts", b"b", _alert("b"))
        view.refresh(force=True)
    assert "ALERT mql lead=b score=55->72 contact=Jane Doe / Acme Corp" in out.getvalue()
    assert EMAIL not in out.getvalue()

    line = orjson.loads(json_line("leads.alerts", b"b", _alert("b")))
    assert line["topic"] == "leads.alerts" and line["key"] == "b"
    assert line["value"]["contact"] == {"name": "Jane Doe", "company": "Acme Corp",
                                        "job_title": None}  # fmt: skip
    assert orjson.loads(json_line("leads.scores", b"c", None)) == {
        "topic": "leads.scores", "key": "c", "value": None,
    }  # fmt: skip


def _account(account_id: str, score: int, people: int = 3, engaged: int = 2) -> bytes:
    update = AccountScore(
        account_id=account_id, score=score, fit=80, engagement=40, people=people,
        engaged_people=engaged, roles=["decision_maker", "user"],
        top_leads=[TopLead(lead_id="lead-1", score=81), TopLead(lead_id="lead-2", score=40)],
        factors=[Factor(factor="fit (best person)", points=40.0),
                 Factor(factor="engagement (top 3 people)", points=20.0)],
        stage="mqa" if score >= 60 else "engaged", model_version="m1", updated_at=NOW,
    )  # fmt: skip
    return encode(update)


def _account_alert(account_id: str, score: int, alert_id: str | None = None) -> bytes:
    alert = AccountAlert(
        alert_id=alert_id or f"acc-{account_id}", account_id=account_id, threshold="mqa",
        level=60, score=score, previous_score=48,
        top_leads=[TopLead(lead_id="lead-1", score=81), TopLead(lead_id="lead-2", score=40)],
        occurred_at=NOW, emitted_at=NOW,
    )  # fmt: skip
    return encode(alert)


def test_board_keeps_latest_account_scores_and_forgets_emptied_accounts() -> None:
    board = Board()
    for account, score in (("acme.com", 40), ("acct-0042", 70), ("beta.io", 30), ("acme.com", 64)):
        board.apply("accounts.scores", account.encode(), _account(account, score))
    board.apply("accounts.scores", b"beta.io", None)  # tombstone: no one left
    board.apply("accounts.scores", b"x", b"{}")

    assert [(a.account_id, a.score) for a in board.top_accounts(5)] == [
        ("acct-0042", 70), ("acme.com", 64),
    ]  # fmt: skip
    assert board.top_accounts(1)[0].account_id == "acct-0042"
    assert board.counts["account_scores"] == 4 and board.counts["account_tombstones"] == 1
    assert board.counts["unreadable"] == 1
    assert board.scores == {} and board.counts["tombstones"] == 0  # leads untouched


def test_account_alerts_join_the_alerts_marked_as_accounts() -> None:
    board = Board()
    board.apply("leads.alerts", b"b", _alert("b"))
    shown = [board.apply("accounts.alerts", b"acme.com", _account_alert("acme.com", 64))]
    shown.append(board.apply("accounts.alerts", b"acme.com", _account_alert("acme.com", 64)))
    assert isinstance(shown[0], AccountAlert) and shown[1] is None  # re-sent: shown once
    assert [type(a) for a in board.alerts] == [AccountAlert, Alert]  # newest first
    assert board.counts["alerts"] == 1 and board.counts["account_alerts"] == 1
    assert board.counts["alerts_repeated"] == 1
    assert board.alerts_by_threshold == {"mql": 1, "mqa": 1}

    out = io.StringIO()
    with View(Board(), live=False, out=out) as view:
        view.message("accounts.scores", b"acme.com", _account("acme.com", 64))
        view.message("accounts.alerts", b"acme.com", _account_alert("acme.com", 64))
        view.refresh(force=True)
    text = out.getvalue()
    assert "ACCOUNT mqa acme.com 64 (was 48) top leads: lead-1 81, lead-2 40" in text
    assert "accounts=1 account_updates=1 account_alerts=1" in text
    assert re.search(
        r"account acme\.com +score= 64 people=3 engaged=2 "
        r"roles=decision_maker,user stage=mqa +why: fit \(best person\) \+40",
        text,
    )


def test_the_live_view_shows_the_top_accounts_and_account_alerts() -> None:
    board = Board()
    board.apply("leads.scores", b"a", _score("a", 90))
    board.apply("accounts.scores", b"acme.com", _account("acme.com", 64, people=4, engaged=3))
    board.apply("accounts.scores", b"beta.io", _account("beta.io", 20))
    board.apply("accounts.alerts", b"acme.com", _account_alert("acme.com", 64))
    console = Console(file=io.StringIO(), width=180, color_system=None)
    console.print(render(board, top=10))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Top 5 accounts by score" in text and "2 accounts · 1 account alerts" in text
    row = next(line for line in text.splitlines() if "acme.com" in line and "people" not in line)
    assert re.search(r"acme\.com +│ +64 │ +4 │ +3 │ decision maker, user +│ mqa +│ fit", row)
    assert text.index("acme.com") < text.index("beta.io")  # the top account first
    assert "ACCOUNT mqa" in text and "top leads: lead-1 81" in text
    assert text.index("Top 10 leads") < text.index("Top 5 accounts") < text.index("Latest alerts")

    empty = Console(file=io.StringIO(), width=180, color_system=None)
    empty.print(render(Board(), top=10))
    assert "Top accounts (none yet)" in empty.file.getvalue()  # type: ignore[attr-defined]


def test_json_lines_carry_account_scores_alerts_and_tombstones() -> None:
    line = orjson.loads(json_line("accounts.scores", b"acme.com", _account("acme.com", 64)))
    assert line["topic"] == "accounts.scores" and line["key"] == "acme.com"
    assert line["value"]["score"] == 64 and line["value"]["stage"] == "mqa"
    alert = orjson.loads(json_line("accounts.alerts", b"acme.com", _account_alert("acme.com", 64)))
    assert alert["value"]["top_leads"][0] == {"lead_id": "lead-1", "score": 81}
    assert orjson.loads(json_line("accounts.scores", b"acme.com", None))["value"] is None


class _FakeConsumer:
    """Stands in for AIOKafkaConsumer: one batch of a record per topic, then stops."""

    subscribed: tuple[str, ...] = ()

    def __init__(self, *topics: str, **_kwargs: object) -> None:
        _FakeConsumer.subscribed = topics
        self.stop_event: asyncio.Event | None = None
        self.polls = 0

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[object]]:
        self.polls += 1
        if self.polls > 1:
            assert self.stop_event is not None
            self.stop_event.set()
            return {}
        records = [
            type("Record", (), {"topic": t, "key": t.encode(), "value": b"{}"})()
            for t in self.subscribed
        ]
        return {"tp": records}


def test_follow_reads_the_account_topics_too(monkeypatch: pytest.MonkeyPatch) -> None:
    consumers: list[_FakeConsumer] = []
    stop = asyncio.Event()

    def make(*topics: str, **kwargs: object) -> _FakeConsumer:
        consumer = _FakeConsumer(*topics, **kwargs)
        consumer.stop_event = stop
        consumers.append(consumer)
        return consumer

    monkeypatch.setattr(tail, "AIOKafkaConsumer", make)
    seen: list[tuple[str, bytes | None]] = []
    settings = kafka_settings("localhost:9", "t1.")

    asyncio.run(follow(settings, lambda t, k, _v: seen.append((t, k)), from_beginning=True,
                       stop=stop))  # fmt: skip
    assert set(_FakeConsumer.subscribed) == {
        "t1.leads.scores", "t1.leads.alerts", "t1.accounts.scores", "t1.accounts.alerts",
    }  # fmt: skip
    # Each record is handed over under its contract name (the prefix taken off).
    assert sorted(t for t, _ in seen) == [
        "accounts.alerts", "accounts.scores", "leads.alerts", "leads.scores",
    ]  # fmt: skip
    assert all(k == f"t1.{t}".encode() for t, k in seen)


def test_worker_counters_are_read_from_prometheus_text() -> None:
    text = """\
# TYPE leadscore_events_total counter
leadscore_events_total{topic="leads.forms",outcome="applied"} 7.0
leadscore_events_total{topic="leads.social",outcome="applied"} 3.0
leadscore_events_total{topic="leads.forms",outcome="dead_letter"} 2.0
leadscore_events_total{topic="leads.forms",outcome="rerouted"} 1.0
# TYPE leadscore_alerts_total counter
leadscore_alerts_total{threshold="mql"} 4.0
# TYPE leadscore_score_updates_total counter
leadscore_score_updates_total 9.0
# TYPE leadscore_republished_total counter
leadscore_republished_total{kind="score"} 2.0
"""
    counts = parse_counts(text)
    assert counts.outcomes == {"applied": 10, "dead_letter": 2, "rerouted": 1}
    assert counts.processed == 12 and counts.alerts == {"mql": 4} and counts.score_updates == 9
    assert counts.republished == {"score": 2}


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"


def _topics_left(bootstrap: str, prefix: str, wait: float = 10.0) -> list[str]:
    """Topics under `prefix` once deletion has settled (Kafka deletes asynchronously)."""
    deadline = time.monotonic() + wait
    while True:
        left = asyncio.run(list_topics(kafka_settings(bootstrap, prefix)))
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


@pytest.mark.kafka
def test_demo_runs_without_a_terminal_and_cleans_up(kafka_bootstrap: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env["LEADSCORE_KAFKA_BOOTSTRAP"] = kafka_bootstrap
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", "--duration", "12", "--rate", "100",
         "--every", "4"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=240,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"

    sent = re.search(r"events sent:\s+(\d+)", out)
    updates = re.search(r"score updates:\s+(\d+) published.*, (\d+) leads scored", out)
    processed = re.search(r"worker processed: (\d+):", out)
    assert sent and int(sent.group(1)) >= 1000, out
    assert updates and int(updates.group(1)) > 0 and int(updates.group(2)) > 0, out
    assert processed and processed.group(1) == sent.group(1), out  # the worker caught up
    assert "top 5 leads:\n  1. lead-" in out
    assert re.search(r"accounts:\s+[1-9]\d* scored", out), out  # the simulator's companies
    assert "top 3 accounts:\n  1. " in out
    console = re.search(r"console:\s+(\d+) leads on the leaderboard", out)
    assert console and int(console.group(1)) == int(updates.group(2)), out  # saw every lead
    assert re.search(r"console at http://127\.0\.0\.1:\d+/", out), out
    assert "\x1b[" not in out  # plain lines, no terminal control codes
    assert "@" not in out  # plain output never shows a lead's email

    pid = re.search(r"worker pid (\d+) ready", out)
    prefix = re.search(r"topics created under (demo-[0-9a-f]+\.)", out)
    assert pid and prefix, out
    assert _pid_gone(int(pid.group(1)))
    assert _topics_left(kafka_bootstrap, prefix.group(1)) == []
    assert not (tmp_path / "var" / "demo" / prefix.group(1).rstrip(".")).exists()
