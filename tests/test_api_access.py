"""The HTTP API's access rules (streams/app/access.py, tokens.py), the ACL roles
(streams/kafka/acls.py) and the throwaway CA (streams/tools/certs.py), without a broker."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from schemas import topics
from streams.api_tokens import SCOPES, ApiToken, new_token, token_digest
from streams.app.access import ApiAccess, required_scope
from streams.kafka.acls import Operation, PatternType, ResourceType, role_acls
from streams.settings import Settings
from streams.tools.certs import CertificateAuthority
from streams.tools.secure_broker import SecureKafka

READER_TOKEN, READER = new_token("reader", ["read:leads"])
ADMIN_TOKEN, ADMIN = new_token("admin", list(SCOPES))


def status(access: ApiAccess, path: str, token: str | None) -> int:
    refused = access.refusal(f"Bearer {token}" if token else None, path)
    return 200 if refused is None else refused.status


def test_without_tokens_the_api_stays_open() -> None:
    assert status(ApiAccess([]), "/leads/l1", None) == 200
    assert status(ApiAccess([]), "/metrics", None) == 200


@pytest.mark.parametrize(
    ("path", "token", "expected"),
    [
        ("/healthz", None, 200),
        ("/readyz", None, 200),
        ("/leads/l1", None, 401),
        ("/leads/l1", "lst_wrong", 401),
        ("/leads/l1", READER_TOKEN, 200),
        ("/accounts/acme.com", READER_TOKEN, 403),
        ("/accounts/acme.com", ADMIN_TOKEN, 200),
        ("/metrics", READER_TOKEN, 403),
        ("/metrics", ADMIN_TOKEN, 200),
        ("/anything-else", None, 401),
        ("/anything-else", READER_TOKEN, 200),  # any valid token; the route then 404s
    ],
)
def test_each_path_asks_for_its_scope(path: str, token: str | None, expected: int) -> None:
    assert status(ApiAccess([READER, ADMIN]), path, token) == expected


def test_metrics_can_be_public() -> None:
    access = ApiAccess([READER], metrics_public=True)
    assert status(access, "/metrics", None) == 200
    assert status(access, "/leads/l1", None) == 401
    assert required_scope("/metrics", metrics_public=False) == "read:metrics"


def test_refusals_say_which_scheme_and_scope() -> None:
    access = ApiAccess([READER])
    missing = access.refusal(None, "/leads/l1")
    assert missing is not None
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong_scope = access.refusal(f"Bearer {READER_TOKEN}", "/accounts/a")
    assert wrong_scope is not None
    assert 'scope="read:accounts"' in wrong_scope.headers["WWW-Authenticate"]


def test_only_the_bearer_scheme_counts() -> None:
    access = ApiAccess([READER])
    assert access.caller(f"Basic {READER_TOKEN}") is None
    assert access.caller(f"bearer {READER_TOKEN}") == READER
    assert access.caller("Bearer ") is None


def test_settings_keep_hashes_not_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = READER.model_dump(mode="json")
    monkeypatch.setenv("LEADSCORE_API_TOKENS", json.dumps([entry]))
    settings = Settings()
    assert settings.api_tokens == [READER]
    assert READER_TOKEN not in repr(settings)
    assert settings.api_tokens[0].sha256 == token_digest(READER_TOKEN)


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "x", "sha256": "not-hex", "scopes": ["read:leads"]},
        {"name": "x", "sha256": "0" * 64, "scopes": ["write:everything"]},
        {"name": "has space", "sha256": "0" * 64, "scopes": ["read:leads"]},
    ],
)
def test_a_bad_token_entry_is_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApiToken.model_validate(entry)


def test_the_api_token_command_prints_a_token_and_its_entry() -> None:
    args = ["api-token", "crm", "--scope", "read:leads", "--scope", "read:accounts"]
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, check=True
    )
    token_line, entry_line = done.stdout.strip().splitlines()
    token = token_line.removeprefix("token: ")
    entry = ApiToken.model_validate(orjson.loads(entry_line.partition(": ")[2]))
    assert entry.sha256 == token_digest(token)
    assert entry.scopes == {"read:leads", "read:accounts"}
    assert ApiAccess([entry]).caller(f"Bearer {token}") == entry


def test_https_needs_both_certificate_and_key(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    with pytest.raises(ValidationError, match="go together"):
        Settings(web_ssl_certfile=cert)
    both = Settings(web_ssl_certfile=cert, web_ssl_keyfile=cert, web_bind="127.0.0.1")
    assert both.effective_advertised_url.startswith("https://127.0.0.1:")


# --- ACL roles -------------------------------------------------------------------------


def test_the_worker_role_is_least_privilege() -> None:
    settings = Settings(topic_prefix="p.", app_id="p.leadscore")
    acls = role_acls("worker", settings)
    assert all(acl.operation is not Operation.ALL for acl in acls)
    topics_named = {acl.name for acl in acls if acl.resource is ResourceType.TOPIC}
    assert topics_named == {settings.topic(t) for t in topics.ALL} | {"p.leadscore-"}
    reads = {acl.name for acl in acls if acl.operation is Operation.READ}
    assert {settings.topic(t) for t in topics.INPUTS} <= reads
    assert settings.topic(topics.SCORES) not in reads  # outputs are written, never read
    writes = {acl.name for acl in acls if acl.operation is Operation.WRITE}
    assert settings.topic(topics.MODEL) not in writes  # the model is the operator's
    prefixed = [acl for acl in acls if acl.pattern is PatternType.PREFIXED]
    assert {acl.name for acl in prefixed} == {"p.leadscore-", "p.leadscore"}
    groups = [acl for acl in acls if acl.resource is ResourceType.GROUP]
    assert [(g.name, g.operation) for g in groups] == [("p.leadscore", Operation.READ)]


def test_acls_print_as_kafka_acls_arguments() -> None:
    acls = role_acls("worker", Settings(app_id="leadscore"))
    args = {acl.kafka_acls_args() for acl in acls}
    assert "--topic 'leads.scores' --operation Write" in args
    assert "--group 'leadscore' --operation Read" in args
    assert "--topic 'leadscore-' --resource-pattern-type prefixed --operation Create" in args
    with pytest.raises(ValueError, match="unknown role"):
        role_acls("root", Settings())


# --- the throwaway CA and the secured broker's configuration -----------------------------


def test_issued_certificates_verify_against_the_ca(tmp_path: Path) -> None:
    ca = CertificateAuthority.create(tmp_path)
    server = ca.issue(tmp_path, "broker", server=True)
    client = ca.issue(tmp_path, "worker")
    context = ssl.create_default_context(cafile=ca.certfile)
    context.load_cert_chain(client.certfile, client.keyfile)  # key matches its certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(server.certfile, server.keyfile)
    assert oct(server.keyfile.stat().st_mode & 0o777) == "0o600"


def test_the_secured_broker_demands_credentials_everywhere(tmp_path: Path) -> None:
    kafka = SecureKafka(tmp_path, port=29100)
    kafka.kit.ensure()
    text = kafka.server_properties()
    assert "listeners=SASL_SSL://127.0.0.1:29100,SSL://127.0.0.1:29101,CONTROLLER://" in text
    assert "PLAINTEXT" not in text
    assert "StandardAuthorizer" in text
    assert "allow.everyone.if.no.acl.found=false" in text
    assert "ssl.client.auth=required" in text
    passwords = kafka.kit.passwords()
    assert set(passwords) == {"admin", "worker", "operator", "stranger"}
    assert all(p not in text for p in passwords.values())  # SCRAM users live in the storage
    options = kafka.format_options()
    assert options.count("--add-scram") == len(passwords)
    env = kafka.env_for("worker", mtls=True)
    assert env["LEADSCORE_SECURITY_PROTOCOL"] == "SSL"
    assert Path(env["LEADSCORE_SSL_CERTFILE"]).is_file()
