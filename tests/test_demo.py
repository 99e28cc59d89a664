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

from schemas.codec import encode
from schemas.outputs import Alert, Contact, Factor, ScoreUpdate
from streams.kafka.admin import list_topics
from streams.tools.demo import parse_counts
from streams.tools.tail import Board, View, json_line
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
    assert "\x1b[" not in out  # plain lines, no terminal control codes
    assert "@" not in out  # plain output never shows a lead's email

    pid = re.search(r"worker pid (\d+) ready", out)
    prefix = re.search(r"topics created under (demo-[0-9a-f]+\.)", out)
    assert pid and prefix, out
    assert _pid_gone(int(pid.group(1)))
    assert _topics_left(kafka_bootstrap, prefix.group(1)) == []
    assert not (tmp_path / "var" / "demo" / prefix.group(1).rstrip(".")).exists()
