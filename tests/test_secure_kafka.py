"""leadscore against a secured broker (streams/tools/secure_broker.py): SCRAM-SHA-512 over
TLS, mutual TLS, ACLs enforced. Workers score a stream over either listener; the tools
work as the operator; each refusal (wrong password, untrusted CA, no client certificate,
missing ACLs) ends in one clear line and a non-zero exit; the HTTP API answers 401/403/200
by token; no secret reaches a log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.api_tokens import Scope, new_token
from streams.settings import Settings
from streams.tools.broker import LocalKafka
from streams.tools.certs import CertificateAuthority
from streams.tools.secure_broker import SecureKafka
from streams.tools.worker_process import free_port
from tests.faults.broker import free_adjacent_ports
from tests.test_cli_errors import leadscore, one_line
from tests.worker_proc import WorkerProcess

pytestmark = pytest.mark.kafka

LEADS = 12
SEED = 7
MIN_SCORED = 4  # leads with a score message from this seed: 5


@dataclass
class Deployment:
    kafka: SecureKafka
    prefix: str
    tokens: dict[str, str]  # scope set name -> token
    entries: list[Any]  # the settings' hashed entries

    @property
    def app_id(self) -> str:
        return f"{self.prefix}leadscore"

    def env(self, principal: str, *, mtls: bool = False, **extra: str) -> dict[str, str]:
        env = self.kafka.env_for(principal, mtls=mtls)
        env |= {"LEADSCORE_TOPIC_PREFIX": self.prefix, "LEADSCORE_APP_ID": self.app_id}
        return env | extra

    def secrets(self) -> list[str]:
        return [*self.kafka.kit.passwords().values(), *self.tokens.values()]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    home = tmp_path_factory.mktemp("secure-kafka")
    kafka = SecureKafka(home, port=free_adjacent_ports(3), libs=LocalKafka().layout.libs)
    kafka.up(timeout=120)
    try:
        prefix = f"sec{uuid.uuid4().hex[:8]}."
        settings = Settings.model_construct(topic_prefix=prefix, app_id=f"{prefix}leadscore")
        kafka.grant_role("worker", "worker", settings)
        kafka.grant_role("operator", "operator", settings)
        grants: dict[str, list[Scope]] = {
            "reader": ["read:leads", "read:metrics"],
            "accounts": ["read:accounts"],
        }
        made = {name: new_token(name, scopes) for name, scopes in grants.items()}
        tokens = {name: token for name, (token, _entry) in made.items()}
        yield Deployment(kafka, prefix, tokens, [entry for _token, entry in made.values()])
    finally:
        kafka.down()


@pytest.fixture(scope="module")
def streamed(deployment: Deployment) -> Deployment:
    """Topics created and a simulated stream sent, by the operator's tools."""
    env = deployment.env("operator")
    created = leadscore("topics", "create", env=env, timeout=120)
    assert created.returncode == 0, created.stderr
    sent = leadscore("simulate", "--leads", str(LEADS), "--seed", str(SEED), env=env, timeout=120)
    assert sent.returncode == 0, sent.stderr
    model = Path(__file__).parents[1] / "streams" / "core" / "default_model.yaml"
    published = leadscore("model", "publish", model, env=env, timeout=120)
    assert published.returncode == 0, published.stderr
    return deployment


def _worker(
    d: Deployment, tmp: Path, *, mtls: bool, app_id: str | None = None, **extra: Any
) -> WorkerProcess:
    base = d.kafka.settings_for("worker", mtls=mtls)
    fields = {k: getattr(base, k) for k in base.model_fields_set}
    settings = Settings(
        **fields,
        topic_prefix=d.prefix,
        app_id=app_id or d.app_id,
        data_dir=tmp / "worker",
        web_port=free_port(),
        api_tokens=d.entries,
        sweep_interval_seconds=0,
        **extra,
    )
    return WorkerProcess(settings, tmp / "worker.log").start(timeout=120)


def _latest_scores(d: Deployment) -> dict[str, int]:
    """Each lead's latest score on leads.scores, read with `leadscore tail --json` as the
    operator."""
    args = ("tail", "--json", "--from-beginning", "--duration", "8")
    result = leadscore(*args, env=d.env("operator"), timeout=120)
    assert result.returncode == 0, result.stderr
    latest: dict[str, int] = {}
    for line in result.stdout.splitlines():
        message = orjson.loads(line)
        if message["topic"].endswith("leads.scores") and message.get("value"):
            latest[message["value"]["lead_id"]] = message["value"]["score"]
    return latest


def _no_secret(d: Deployment, *texts: str) -> None:
    for secret in d.secrets():
        for text in texts:
            assert secret not in text, "a password or token reached a log"


@pytest.mark.parametrize("mtls", [False, True], ids=["sasl_ssl", "mutual_tls"])
def test_worker_scores_the_stream_over_a_secured_listener(
    streamed: Deployment, tmp_path: Path, mtls: bool
) -> None:
    # Each worker its own group (a worker role granted for it), so each scores everything.
    app_id = f"{streamed.prefix}{'mtls' if mtls else 'sasl'}"
    settings = Settings.model_construct(topic_prefix=streamed.prefix, app_id=app_id)
    streamed.kafka.grant_role("worker", "worker", settings)
    worker = _worker(streamed, tmp_path, mtls=mtls, app_id=app_id)
    try:
        latest = _wait_for_scores(streamed, worker)
        lead, score = next(iter(sorted(latest.items())))
        _wait_for_score(worker, lead, score, streamed.tokens["reader"])
    finally:
        worker.stop()
    _no_secret(streamed, worker.log_path.read_text())


def _wait_for_scores(d: Deployment, worker: WorkerProcess) -> dict[str, int]:
    """Each lead's latest score once the worker answers every lead on leads.scores."""
    deadline = time.monotonic() + 90
    while True:
        latest = _latest_scores(d)
        scored = [
            lead for lead in latest if worker.get(f"/leads/{lead}", d.tokens["reader"])[0] == 200
        ]
        if len(scored) == len(latest) >= MIN_SCORED:
            return latest
        assert time.monotonic() < deadline, (
            f"{len(scored)} of {len(latest)} leads scored:\n{worker.tail()}"
        )
        time.sleep(2)


def _wait_for_score(worker: WorkerProcess, lead: str, score: int, token: str) -> None:
    """The worker answers `score` for `lead` (a lead it knows may still have events to go:
    `latest` comes from the whole scores topic, other workers' messages included)."""
    deadline = time.monotonic() + 30
    while True:
        status, body = worker.get(f"/leads/{lead}", token)
        if status == 200 and orjson.loads(body)["score"] == score:
            return
        assert time.monotonic() < deadline, (lead, score, status, body, worker.tail())
        time.sleep(0.5)


def test_the_api_asks_who_you_are(streamed: Deployment, tmp_path: Path) -> None:
    worker = _worker(streamed, tmp_path, mtls=False)
    try:
        latest = _wait_for_scores(streamed, worker)
        lead = sorted(latest)[0]
        reader, accounts = streamed.tokens["reader"], streamed.tokens["accounts"]
        assert worker.get(f"/leads/{lead}")[0] == 401
        assert worker.get(f"/leads/{lead}", "lst_not-a-token")[0] == 401
        assert worker.get(f"/leads/{lead}", accounts)[0] == 403
        assert worker.get(f"/leads/{lead}", reader)[0] == 200
        assert worker.get("/accounts/nobody.example", reader)[0] == 403
        assert worker.get("/accounts/nobody.example", accounts)[0] == 404
        assert worker.get("/metrics")[0] == 401
        scraped, metrics = worker.get("/metrics", reader)
        assert scraped == 200
        _no_secret(streamed, metrics.decode())
        assert worker.get("/healthz")[0] == 200
        assert worker.get("/readyz")[0] == 200
    finally:
        worker.stop()


REFUSALS = {
    "wrong_password": "refused the credentials (SaslAuthenticationFailed",
    "untrusted_ca": "TLS handshake with Kafka at",
    "no_client_certificate": "probably requires a client certificate",
    "no_acl": "refused this client's principal access to topic",
}


def refused_env(d: Deployment, principal: str, case: str, tmp: Path) -> dict[str, str]:
    """`principal`'s settings broken as `case` says."""
    if case == "no_client_certificate":
        env = d.env(principal, mtls=True)
        del env["LEADSCORE_SSL_CERTFILE"], env["LEADSCORE_SSL_KEYFILE"]
        return env
    env = d.env("stranger" if case == "no_acl" else principal)
    if case == "wrong_password":
        env["LEADSCORE_SASL_PASSWORD"] = "not-the-password"
    elif case == "untrusted_ca":
        env["LEADSCORE_SSL_CAFILE"] = str(CertificateAuthority.create(tmp / "ca").certfile)
    return env


@pytest.mark.parametrize("case", [*REFUSALS, "no_group_acl"])
def test_a_refused_worker_says_why_in_one_line(
    streamed: Deployment, tmp_path: Path, case: str
) -> None:
    d = streamed
    if case == "no_group_acl":  # the worker's topics are granted, this group is not
        env = d.env("worker", LEADSCORE_APP_ID=f"{d.prefix}ungranted")
        expected = "refused this client's principal access to consumer group"
    else:
        env, expected = refused_env(d, "worker", case, tmp_path), REFUSALS[case]
    env |= {"LEADSCORE_DATA_DIR": str(tmp_path), "LEADSCORE_WEB_PORT": str(free_port())}
    result = leadscore("worker", env=env, timeout=90)
    assert result.returncode == 2, result.stderr[-2000:]
    line = one_line(result)
    assert expected in line, line
    _no_secret(d, result.stdout + result.stderr)


TOOLS = {
    "simulate": ("simulate", "--leads", "2", "--seed", "1"),
    "tail": ("tail", "--json", "--duration", "3"),
    "model_publish": ("model", "publish", "streams/core/default_model.yaml"),
    "topics_create": ("topics", "create"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
@pytest.mark.parametrize("tool", list(TOOLS))
def test_a_refused_tool_says_why_in_one_line(
    streamed: Deployment, tmp_path: Path, tool: str, case: str
) -> None:
    env = refused_env(streamed, "operator", case, tmp_path)
    result = leadscore(*TOOLS[tool], env=env, timeout=120)
    assert result.returncode == 1, result.stderr[-2000:]
    line = one_line(result)
    assert REFUSALS[case] in line, line
    _no_secret(streamed, result.stdout + result.stderr)


def test_either_worker_answers_by_token_over_https(streamed: Deployment, tmp_path: Path) -> None:
    """Two workers serving HTTPS: each answers every lead, routing a GET to the lead's owner
    with the caller's token (the owner checks it again), and refuses callers without one."""
    d = streamed
    kit = d.kafka.kit
    web = CertificateAuthority(kit.ca, kit.directory / "ca.key").issue(tmp_path, "web", server=True)
    tls = {"web_ssl_certfile": web.certfile, "web_ssl_keyfile": web.keyfile}
    tls["web_ssl_cafile"] = kit.ca
    app_id = f"{d.prefix}pair"
    d.kafka.grant_role(
        "worker", "worker", Settings.model_construct(topic_prefix=d.prefix, app_id=app_id)
    )
    first = _worker(d, tmp_path / "a", mtls=False, app_id=app_id, **tls)
    second = _worker(d, tmp_path / "b", mtls=True, app_id=app_id, **tls)
    try:
        assert first.url.startswith("https://"), first.url
        latest = _wait_for_scores(d, second)
        reader, accounts = d.tokens["reader"], d.tokens["accounts"]
        for lead, score in latest.items():
            for worker in (first, second):
                _wait_for_score(worker, lead, score, reader)
                assert worker.get(f"/leads/{lead}")[0] == 401
                assert worker.get(f"/leads/{lead}", accounts)[0] == 403
    finally:
        second.stop()
        first.stop()
    _no_secret(d, first.log_path.read_text(), second.log_path.read_text())
