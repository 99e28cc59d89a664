"""The local broker, secured as a production cluster would be (`leadscore kafka up --secure`).

Three listeners on one node: SASL_SSL (SCRAM-SHA-512 users, server-authenticated TLS),
SSL with client certificates required (mutual TLS; the principal is `User:CN=<name>`) and
the controller's, also mutual TLS. Kafka's StandardAuthorizer denies whatever no ACL
allows. Made at the first start under `<home>/secure/` and kept: a throwaway CA, the
broker's certificate, a certificate and a SCRAM password per principal, and a settings file
per principal and listener (`<name>-sasl.env`, `<name>-mtls.env`) to `source`.

Principals: `admin` (a super user: creates topics and ACLs), `worker` and `operator` (the
roles of streams/kafka/acls.py, granted on every start for the settings given) and
`stranger` (authenticated, no ACL: what a refused principal sees).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from streams.kafka.acls import grant, role_acls
from streams.settings import Settings
from streams.tools.broker import LocalKafka, node_properties
from streams.tools.certs import CertificateAuthority, write_private

SECURE_PORT = 9192  # SASL_SSL; mutual TLS on the next port, the controller on the one after
PRINCIPALS = ("admin", "worker", "operator", "stranger")
BROKER_CN = "broker"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class SecureKit:
    """The secrets of one secured broker, in files (0600) under `directory`."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def broker_keystore(self) -> Path:
        return self.directory / "broker-keystore.pem"

    def certfile(self, principal: str) -> Path:
        return self.directory / f"{principal}.pem"

    def keyfile(self, principal: str) -> Path:
        return self.directory / f"{principal}.key"

    @property
    def passwords_file(self) -> Path:
        return self.directory / "scram-users.json"

    def passwords(self) -> dict[str, str]:
        data: dict[str, str] = json.loads(self.passwords_file.read_text())
        return data

    def ensure(self) -> None:
        """Make the CA, certificates and passwords unless they exist (kept across restarts:
        the SCRAM credentials live in the formatted storage)."""
        if self.passwords_file.is_file():
            return
        authority = CertificateAuthority.create(self.directory)
        broker = authority.issue(self.directory, BROKER_CN, server=True)
        write_private(self.broker_keystore, broker.chain_text().encode())
        for principal in PRINCIPALS:
            authority.issue(self.directory, principal)
        passwords = {p: secrets.token_urlsafe(18) for p in PRINCIPALS}
        write_private(self.passwords_file, (json.dumps(passwords, indent=2) + "\n").encode())


class SecureKafka(LocalKafka):
    """A LocalKafka whose client listeners demand SCRAM over TLS or a client certificate."""

    def __init__(self, home: Path | None = None, *, port: int = SECURE_PORT, **kwargs: Any):
        self.ssl_port, controller = port + 1, port + 2
        if home is None:  # beside the plaintext broker's home, sharing its jar cache
            plain = LocalKafka().layout
            home = plain.home.with_name(plain.home.name + "-secure")
            kwargs.setdefault("libs", plain.libs)
        super().__init__(home, port=port, controller_port=controller, **kwargs)
        self.kit = SecureKit(self.layout.home / "secure")
        # Whose topics and group the worker and operator roles are granted on at start.
        self.acl_settings = Settings.model_construct()

    @property
    def mtls_bootstrap(self) -> str:
        return f"{self.host}:{self.ssl_port}"

    def ports(self) -> tuple[int, ...]:
        return (self.port, self.ssl_port, self.controller_port)

    def write_configs(self) -> None:
        self.kit.ensure()
        super().write_configs()

    def server_properties(self) -> str:
        return node_properties(self.layout.data_dir, self._listeners())

    def _listeners(self) -> str:
        sasl = f"{self.host}:{self.port}"
        mtls = f"{self.host}:{self.ssl_port}"
        controller = f"{self.host}:{self.controller_port}"
        jaas = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        return f"""\
controller.quorum.bootstrap.servers={controller}
listeners=SASL_SSL://{sasl},SSL://{mtls},CONTROLLER://{controller}
advertised.listeners=SASL_SSL://{sasl},SSL://{mtls},CONTROLLER://{controller}
inter.broker.listener.name=SSL
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:SSL,SSL:SSL,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms={MECHANISM}
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config={jaas}
ssl.keystore.type=PEM
ssl.keystore.location={self.kit.broker_keystore}
ssl.truststore.type=PEM
ssl.truststore.location={self.kit.ca}
# Client certificates: required on the mutual-TLS and controller listeners, not with SCRAM.
ssl.client.auth=required
listener.name.sasl_ssl.ssl.client.auth=none
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:CN={BROKER_CN};User:admin
allow.everyone.if.no.acl.found=false
"""

    def format_options(self) -> list[str]:
        """SCRAM users are written into the storage when it is formatted."""
        options: list[str] = []
        for name, password in self.kit.passwords().items():
            options += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        return options

    def client_settings(self) -> Settings:
        return self.settings_for("admin")

    def settings_for(self, principal: str, *, mtls: bool = False, **extra: Any) -> Settings:
        """Settings connecting as `principal`: SCRAM over TLS, or its client certificate."""
        self.kit.ensure()
        values: dict[str, Any] = {"ssl_cafile": self.kit.ca, **extra}
        if mtls:
            values |= {
                "kafka_bootstrap": self.mtls_bootstrap,
                "security_protocol": "SSL",
                "ssl_certfile": self.kit.certfile(principal),
                "ssl_keyfile": self.kit.keyfile(principal),
            }
        else:
            values |= {
                "kafka_bootstrap": self.bootstrap,
                "security_protocol": "SASL_SSL",
                "sasl_mechanism": MECHANISM,
                "sasl_username": principal,
                "sasl_password": SecretStr(self.kit.passwords()[principal]),
            }
        return Settings.model_construct(**values)

    def env_for(self, principal: str, *, mtls: bool = False) -> dict[str, str]:
        """The same settings as LEADSCORE_* environment variables."""
        settings = self.settings_for(principal, mtls=mtls)
        names = ["kafka_bootstrap", "security_protocol", "ssl_cafile"]
        names += ["ssl_certfile", "ssl_keyfile"] if mtls else ["sasl_mechanism", "sasl_username"]
        env = {f"LEADSCORE_{n.upper()}": str(getattr(settings, n)) for n in names}
        if not mtls:
            env["LEADSCORE_SASL_PASSWORD"] = self.kit.passwords()[principal]
        return env

    def on_ready(self) -> None:
        for principal in ("worker", "operator"):
            self.grant_role(principal, principal, self.acl_settings)
        self._write_env_files()

    def grant_role(self, principal: str, role: str, settings: Settings) -> None:
        """Grant `role`'s ACLs on `settings`' topics and group to the principal, under both
        of its names (SCRAM user and certificate)."""
        acls = role_acls(role, settings)
        for name in (f"User:{principal}", f"User:CN={principal}"):
            asyncio.run(grant(self.client_settings(), name, acls))

    def _write_env_files(self) -> None:
        for principal in PRINCIPALS:
            for mtls, suffix in ((False, "sasl"), (True, "mtls")):
                path = self.kit.directory / f"{principal}-{suffix}.env"
                lines = [f"{k}={v}" for k, v in self.env_for(principal, mtls=mtls).items()]
                write_private(path, ("\n".join(lines) + "\n").encode())
