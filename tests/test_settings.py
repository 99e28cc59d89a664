"""Settings: misconfiguration is one clear error at start-up, and secrets never leak."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streams.settings import Settings

SECRET = "s3cr3t-Pa55word"


def start_worker(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        (
            {"LEADSCORE_SECURITY_PROTOCOL": "SASL_SSL", "LEADSCORE_SASL_MECHANISM": "GSSAPI"},
            "LEADSCORE_SASL_MECHANISM",
        ),
        (
            {"LEADSCORE_SECURITY_PROTOCOL": "SSL", "LEADSCORE_SSL_CAFILE": "/nonexistent/ca.pem"},
            "/nonexistent/ca.pem",
        ),
        ({"LEADSCORE_SECURITY_PROTOCOL": "SASL_SSL"}, "LEADSCORE_SASL_USERNAME"),
        ({"LEADSCORE_MODEL_PATH": "/nonexistent/model.yaml"}, "/nonexistent/model.yaml"),
    ],
)
def test_misconfiguration_is_one_clear_error(env: dict[str, str], needle: str) -> None:
    result = start_worker(LEADSCORE_SASL_PASSWORD=SECRET, LEADSCORE_SASL_USERNAME="u", **env)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "refusing to start" in lines[0], result.stderr[-2000:]
    assert needle in lines[0]
    assert SECRET not in result.stderr + result.stdout


def test_secret_is_not_in_repr() -> None:
    s = Settings(sasl_password=SECRET)  # type: ignore[arg-type]
    assert SECRET not in repr(s) and SECRET not in str(s.model_dump())


def test_topic_prefix_applies_to_every_name() -> None:
    assert Settings(topic_prefix="prod.").topic("leads.scores") == "prod.leads.scores"


@pytest.mark.kafka
def test_worker_refuses_missing_topics(kafka_bootstrap: str, unique: str) -> None:
    # Subscribing anyway would auto-create one-partition topics and break co-partitioning.
    result = start_worker(LEADSCORE_KAFKA_BOOTSTRAP=kafka_bootstrap, LEADSCORE_TOPIC_PREFIX=unique)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "leadscore topics create" in result.stderr
