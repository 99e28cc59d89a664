"""The real `leadscore` command on bad input: one clear line on stderr and a non-zero exit,
never a traceback. Each case runs the console script's module in a subprocess (the
environment's LEADSCORE_* variables left out), so stderr is what a user would see."""

from __future__ import annotations

import os
import pty
import select
import ssl
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)

from streams.settings import Settings
from streams.tools.kafka import authorization_failure, broker_failure
from tests.core_events import FORM_FIELDS, raw

UNREACHABLE = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once
DEFAULT_MODEL = Path(__file__).parents[1] / "streams" / "core" / "default_model.yaml"


def leadscore(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *map(str, args)],
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The only non-empty stderr line (asserted), with no traceback anywhere."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def summary_and_verdict(
    result: subprocess.CompletedProcess[str],
) -> tuple[dict[str, Any], str | None]:
    """`leadscore score`'s stderr: the JSON summary, then the failing verdict if any."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    return orjson.loads(lines[0]), (lines[1] if len(lines) == 2 else None)


def click(lead: str, minutes: float = 1) -> bytes:
    return raw("email.clicked", lead, minutes, message_id="m1", url="https://acme.test/x")


def form(lead: str) -> bytes:
    return raw("form.submitted", lead, 0, **FORM_FIELDS)


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


# --- leadscore score ---------------------------------------------------------------------


def test_score_missing_file(tmp_path: Path) -> None:
    result = leadscore("score", tmp_path / "nope.jsonl")
    assert result.returncode == 2
    assert (
        one_line(result)
        == f"error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory"
    )


def test_score_directory(tmp_path: Path) -> None:
    result = leadscore("score", tmp_path)
    assert result.returncode == 2
    assert one_line(result) == f"error: cannot read {tmp_path}: Is a directory"


def test_score_read_error() -> None:
    # Opens fine, fails on the first read (EIO): a file that cannot be read, even as root
    # (who can read a file whatever its mode, so a chmod test would prove nothing here).
    result = leadscore("score", "/proc/self/mem")
    assert result.returncode == 2
    assert one_line(result) == "error: cannot read /proc/self/mem: Input/output error"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("model_version: x\nengagement: {half_life_days: -1}\n", "invalid model: "),
        ("a: [\n", "not valid YAML: expected the node content"),
    ],
)
def test_score_bad_model(tmp_path: Path, text: str, needle: str) -> None:
    model = tmp_path / "m.yaml"
    model.write_text(text)
    events = write_lines(tmp_path / "e.jsonl", [form("L1")])
    result = leadscore("score", "--model", model, events)
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith(f"error: {model}: ") and needle in line
    assert line.count(str(model)) == 1 and line.count(needle) == 1
    assert result.stdout == ""


def test_score_all_lines_invalid(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "e.jsonl", [b'{"type": "email.clicked"}', b"", b"{not json"])
    result = leadscore("score", events)
    assert result.returncode == 1
    summary, verdict = summary_and_verdict(result)
    assert summary["invalid"] == {"schema": 1, "invalid_json": 1}
    assert summary["invalid_lines"] == [1, 3] and summary["lines"] == 2
    assert verdict == "error: nothing scored: all 2 lines are invalid (lines 1, 3)"
    assert result.stdout == ""


def test_score_empty_file_is_not_a_failure(tmp_path: Path) -> None:
    result = leadscore("score", write_lines(tmp_path / "e.jsonl", []))
    assert result.returncode == 0
    summary, verdict = summary_and_verdict(result)
    assert verdict is None and summary["lines"] == 0 and summary["invalid_lines"] == []


def mixed(tmp_path: Path) -> Path:
    """Lines 1 and 4 valid, 2 blank, 3 bad JSON, 5 schema, 6 dated after --now, 7 valid."""
    future = raw("email.clicked", "L2", 60 * 24 * 40, message_id="m2", url="https://a.test/")
    lines = [form("L1"), b"", b"{oops", click("L1"), b'{"type": "signup"}', future, form("L3")]
    return write_lines(tmp_path / "mixed.jsonl", lines)


NOW = "2026-11-02T00:00:00"  # a day after the events of core_events.BASE; line 6 is 40 days on


def test_score_names_invalid_line_numbers(tmp_path: Path) -> None:
    result = leadscore("score", "--now", NOW, mixed(tmp_path))
    assert result.returncode == 0  # some lines scored: invalid ones are reported, not fatal
    summary, verdict = summary_and_verdict(result)
    assert verdict is None
    assert summary["invalid"] == {"invalid_json": 1, "schema": 1, "future_event": 1}
    assert summary["invalid_lines"] == [3, 5, 6] and summary["lines"] == 6
    assert {"outcomes", "alerts"} <= summary.keys()  # the summary's fields so far stay
    scored = [orjson.loads(line)["lead_id"] for line in result.stdout.splitlines()]
    assert scored == ["L1", "L3"]


def test_score_strict_fails_on_any_invalid_line(tmp_path: Path) -> None:
    result = leadscore("score", "--strict", "--now", NOW, mixed(tmp_path))
    assert result.returncode == 1
    summary, verdict = summary_and_verdict(result)
    assert summary["invalid_lines"] == [3, 5, 6]
    assert verdict == "error: 3 of 6 lines invalid (--strict): lines 3, 5, 6"
    assert len(result.stdout.splitlines()) == 2  # the scores are still printed


def test_score_strict_passes_a_clean_file(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "e.jsonl", [form("L1"), click("L1")])
    result = leadscore("score", "--strict", "--now", NOW, events)
    assert result.returncode == 0, result.stderr
    summary, verdict = summary_and_verdict(result)
    assert verdict is None and summary["invalid_lines"] == [] and summary["invalid"] == {}


def test_score_names_the_first_20_invalid_lines(tmp_path: Path) -> None:
    events = write_lines(tmp_path / "e.jsonl", [form("L1"), *([b"[]"] * 25)])
    result = leadscore("score", "--strict", events)
    assert result.returncode == 1
    summary, verdict = summary_and_verdict(result)
    assert summary["invalid"] == {"schema": 25}
    assert summary["invalid_lines"] == list(range(2, 22))
    assert verdict is not None and verdict.startswith("error: 25 of 26 lines invalid (--strict)")
    assert verdict.endswith(", 21, ...")


def test_score_stdin(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "score", "-"],
        input=b"{bad\n" + form("L1") + b"\n",
        capture_output=True,
        env=clean,
        timeout=60,
    )
    assert result.returncode == 0
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and orjson.loads(lines[0])["invalid_lines"] == [1]


def test_score_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    """stderr a terminal and a file over 1 MiB: a transient bar is drawn, stdout keeps only
    the scores, and the summary still ends stderr."""
    lines = [form(f"L{i}") for i in range(4000)]
    events = write_lines(tmp_path / "big.jsonl", lines)
    assert events.stat().st_size > 1 << 20
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    clean.update(TERM="xterm-256color", COLUMNS="100")
    scores = tmp_path / "scores.jsonl"
    controller, terminal = pty.openpty()
    with scores.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "score", str(events)],
            stdout=out,
            stderr=terminal,
            env=clean,
        )
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert proc.wait(timeout=10) == 0, seen[-3000:]
    finally:
        proc.kill()
        os.close(controller)
    text = seen.decode("utf-8", "replace")
    assert "Traceback" not in text
    assert "━" in text  # rich's bar, drawn while scoring
    assert text.rindex('{"outcomes"') > text.rindex("━")  # the summary comes after it
    assert len(scores.read_bytes().splitlines()) == 4000


# --- leadscore model check ---------------------------------------------------------------


def test_model_check_names_the_file_once(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("model_version: x\nengagement: {half_life_days: -1}\n")
    result = leadscore("model", "check", model)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(f"error: {model}: invalid model: ")
    assert line.count(str(model)) == 1 and line.count("invalid model") == 1
    assert "engagement.half_life_days" in line


def test_model_check_yaml_error_is_one_line(tmp_path: Path) -> None:
    model = tmp_path / "m.yaml"
    model.write_text("a: [\n")
    result = leadscore("model", "check", model)
    assert result.returncode == 1
    assert one_line(result) == (
        f"error: {model}: not valid YAML: expected the node content, but found '<stream end>' "
        "(line 2, column 1)"
    )


def test_model_check_missing_file(tmp_path: Path) -> None:
    result = leadscore("model", "check", tmp_path / "none.yaml")
    assert result.returncode == 1
    assert one_line(result) == (
        f"error: {tmp_path / 'none.yaml'}: cannot read model file: No such file or directory"
    )


def test_model_check_ok() -> None:
    result = leadscore("model", "check", DEFAULT_MODEL)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"{DEFAULT_MODEL}: ok, model_version ")


# --- --version ---------------------------------------------------------------------------


def test_version() -> None:
    result = leadscore("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"leadscore {version('leadscore')}\n"


# --- a broker that cannot be reached -----------------------------------------------------

NO_BROKER = f"no Kafka broker answers at {UNREACHABLE}: check LEADSCORE_KAFKA_BOOTSTRAP"


def test_worker_unreachable_broker_is_one_line() -> None:
    result = leadscore("worker", env={"LEADSCORE_KAFKA_BOOTSTRAP": UNREACHABLE}, timeout=90)
    assert result.returncode == 2
    assert one_line(result).startswith(f"leadscore worker: refusing to start: {NO_BROKER}")


@pytest.mark.parametrize(
    "command",
    [
        ("topics", "list"),
        ("topics", "create"),
        ("model", "publish", str(DEFAULT_MODEL)),
        ("simulate", "--leads", "1", "--quiet"),
        ("tail", "--duration", "1"),
        ("console", "--duration", "1"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_tools_unreachable_broker_is_one_line(command: tuple[str, ...]) -> None:
    result = leadscore(*command, env={"LEADSCORE_KAFKA_BOOTSTRAP": UNREACHABLE}, timeout=90)
    assert result.returncode == 1
    assert one_line(result).startswith(f"error: {NO_BROKER}")


@pytest.mark.kafka
def test_console_without_its_topics_is_one_line(kafka_bootstrap: str) -> None:
    env = {"LEADSCORE_KAFKA_BOOTSTRAP": kafka_bootstrap, "LEADSCORE_TOPIC_PREFIX": "t-none."}
    result = leadscore("console", "--duration", "1", env=env, timeout=90)
    assert result.returncode == 1
    assert one_line(result) == (
        "leadscore console: missing topic t-none.leads.scores (leadscore topics create)"
    )


def test_tools_bad_settings_are_one_line() -> None:
    result = leadscore("topics", "list", env={"LEADSCORE_SECURITY_PROTOCOL": "SASL_SSL"})
    assert result.returncode == 2
    line = one_line(result)
    assert line.startswith("error: invalid LEADSCORE_* settings: ")
    assert "LEADSCORE_SASL_USERNAME" in line


SASL_ENV = {
    "LEADSCORE_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "LEADSCORE_SASL_MECHANISM": "PLAIN",
    "LEADSCORE_SASL_USERNAME": "u",
    "LEADSCORE_SASL_PASSWORD": "s3cr3t-Pa55word",
}


@pytest.mark.kafka
@pytest.mark.parametrize("command", [("worker",), ("topics", "list")], ids=" ".join)
def test_sasl_against_a_plaintext_listener_is_one_line(
    kafka_bootstrap: str, command: tuple[str, ...]
) -> None:
    env = {**SASL_ENV, "LEADSCORE_KAFKA_BOOTSTRAP": kafka_bootstrap}
    result = leadscore(*command, env=env, timeout=90)
    assert result.returncode != 0
    line = one_line(result)
    assert f"Kafka at {kafka_bootstrap} refused the SASL handshake" in line
    assert "LEADSCORE_SECURITY_PROTOCOL=SASL_PLAINTEXT" in line
    assert SASL_ENV["LEADSCORE_SASL_PASSWORD"] not in result.stderr


# The classification, from what aiokafka raises and logs (no broker needed).


def test_refused_credentials_name_the_sasl_settings() -> None:
    settings = Settings(
        kafka_bootstrap="k1:9092",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="u",
        sasl_password=SASL_ENV["LEADSCORE_SASL_PASSWORD"],  # type: ignore[arg-type]
    )
    refused = SaslAuthenticationFailed("Authentication failed: Invalid username or password")
    line = broker_failure(settings, [refused, KafkaConnectionError("Unable to bootstrap")])
    assert line == (
        "Kafka at k1:9092 refused the credentials (SaslAuthenticationFailed: Authentication "
        "failed: Invalid username or password): check LEADSCORE_SASL_USERNAME and "
        "LEADSCORE_SASL_PASSWORD (LEADSCORE_SASL_MECHANISM=SCRAM-SHA-512, "
        "LEADSCORE_SECURITY_PROTOCOL=SASL_SSL)"
    )
    assert SASL_ENV["LEADSCORE_SASL_PASSWORD"] not in line


def test_sasl_handshake_refused_names_protocol_and_mechanism() -> None:
    settings = Settings(kafka_bootstrap="k1:9092")
    line = broker_failure(settings, [IllegalSaslStateError("<AIOKafkaConnection host=k1>")])
    assert line.startswith("Kafka at k1:9092 refused the SASL handshake (IllegalSaslStateError)")
    assert "LEADSCORE_SECURITY_PROTOCOL=PLAINTEXT" in line and "<" not in line


def test_tls_failure_names_the_ssl_settings() -> None:
    settings = Settings(kafka_bootstrap="k1:9093", security_protocol="SSL")
    failed = ssl.SSLCertVerificationError(1, "certificate verify failed")
    line = broker_failure(settings, [failed])
    assert line.startswith("TLS handshake with Kafka at k1:9093 failed (SSLCertVerificationError")
    assert "LEADSCORE_SSL_CAFILE" in line and "LEADSCORE_SECURITY_PROTOCOL=SSL" in line


def test_a_connection_closed_after_tls_asks_for_a_client_certificate() -> None:
    settings = Settings(kafka_bootstrap="k1:9093", security_protocol="SSL")
    closed = KafkaConnectionError("Connection at k1:9093 closed")
    line = broker_failure(settings, [closed])
    assert "probably requires a client certificate" in line
    assert "LEADSCORE_SSL_CERTFILE" in line


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TopicAuthorizationFailedError("leads.web"), "access to topic leads.web ("),
        (TopicAuthorizationFailedError("a, b"), "access to topics a, b ("),
        (GroupAuthorizationFailedError("leadscore"), "access to consumer group leadscore ("),
        (TopicAuthorizationFailedError(), "access to a topic ("),
    ],
)
def test_a_missing_acl_names_the_resource(error: Exception, expected: str) -> None:
    line = authorization_failure(error)
    assert expected in line, line
    assert "leadscore kafka acls" in line


def test_nothing_listening_names_the_bootstrap_setting() -> None:
    line = broker_failure(Settings(kafka_bootstrap=UNREACHABLE), [ConnectionRefusedError(111)])
    assert line.startswith(NO_BROKER)
