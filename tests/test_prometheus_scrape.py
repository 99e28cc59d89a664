"""A real Prometheus server scrapes a running worker and sees leadscore's counters move."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from streams.settings import Settings
from tests.kafka_helpers import (
    Record,
    produce,
)
from tests.worker_proc import WorkerProcess, free_port, module_worker

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "leadscore.rules.yml"


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(kafka_bootstrap, tmp_path_factory, "scrape") as proc:
        yield proc


@pytest.fixture(scope="module")
def prometheus(worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    assert binary, "prometheus not on PATH: `make test` installs Debian's prometheus package"
    home = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "leadscore",
                "static_configs": [{"targets": [f"127.0.0.1:{worker.settings.web_port}"]}],
            }
        ],
    }
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (home / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={home / 'prometheus.yml'}",
         f"--storage.tsdb.path={home / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _get(f"{url}/-/ready") is not None, 30, "prometheus ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            body: bytes = resp.read()
            return body
    except OSError:
        return None


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached within {timeout:g} s")


def query(url: str, expr: str) -> float:
    body = _get(f"{url}/api/v1/query?query={urllib.parse.quote(expr)}")
    result = json.loads(body or b"{}").get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_sees_leadscore_counters(worker: WorkerProcess, prometheus: str) -> None:
    settings: Settings = worker.settings
    n = 20
    events = [
        Record(f"scrape-{i}", orjson.dumps({"event_id": f"s{i}", "lead_id": f"scrape-{i}",
               "type": "email.clicked", "occurred_at": "2026-11-20T10:00:00Z"}))
        for i in range(n)
    ]  # fmt: skip
    events.append(Record("scrape-bad", b"{oops"))
    asyncio.run(produce(settings.kafka_bootstrap, settings.topic("leads.email-clicks"), events))
    applied = 'sum(leadscore_events_total{job="leadscore",outcome="applied"})'
    _wait(lambda: query(prometheus, applied) >= n, 45, f"{applied} >= {n}")
    # The bad message may be on another partition, handled a scrape later.
    dead = 'sum(leadscore_dead_letters_total{reason="invalid_json"})'
    _wait(lambda: query(prometheus, dead) >= 1, 30, f"{dead} >= 1")
    assert query(prometheus, "sum(leadscore_score_updates_total)") >= n
    assert query(prometheus, 'up{job="leadscore"}') == 1
    assert query(prometheus, "count(leadscore_faust_topic_partition_end_offset)") > 0
    rules = json.loads(_get(f"{prometheus}/api/v1/rules") or b"{}")
    names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert "LeadscoreWorkerDown" in names and "LeadscoreDeadLetterRateHigh" in names


def test_metrics_pass_promtool_check(worker: WorkerProcess) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool not on PATH: `make test` installs it (deploy/install-tool.sh)"
    settings: Settings = worker.settings
    n = 10
    events = [
        Record(f"lint-{i}", orjson.dumps({"event_id": f"l{i}", "lead_id": f"lint-{i}",
               "type": "email.clicked", "occurred_at": "2026-11-20T10:00:00Z"}))
        for i in range(n)
    ]  # fmt: skip
    events.append(Record("lint-bad", b"{oops"))  # a dead letter: its series too
    asyncio.run(produce(settings.kafka_bootstrap, settings.topic("leads.email-clicks"), events))

    def scrape() -> str:
        status, body = worker.get("/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body.decode()

    def scored() -> bool:
        return all(worker.get(f"/leads/lint-{i}")[0] == 200 for i in range(n))

    def committed() -> bool:
        found = re.search(
            r"^leadscore_faust_consumer_commit_latency_seconds_count (\S+)$", scrape(), re.M
        )
        return found is not None and float(found.group(1)) > 0

    # Lint what a busy worker exposes: events applied, a dead letter, an offset commit timed.
    _wait(scored, 45, f"GET /leads/lint-0..{n - 1} all 200")
    _wait(committed, 30, "an offset commit timed on /metrics")
    text = scrape()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    problems = (result.stdout + result.stderr).strip()
    assert result.returncode == 0 and not problems, (
        f"promtool check metrics exited {result.returncode}:\n{problems}"
    )
    assert "_created" not in text, "prometheus_client's _created series are exposed"
    assert not re.search(r"^leadscore_faust_\w*_ms(_|\s)", text, re.M), "a Faust series in ms"
