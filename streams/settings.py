"""Every runtime setting, read once from LEADSCORE_* environment variables (12-factor)."""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import Topic
from streams.api_tokens import ApiToken

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
ProcessingGuarantee = Literal["at_least_once", "exactly_once"]
StateWrites = Literal["per_event", "per_commit"]
# Faust's default commit interval; with transactions outputs become visible to read_committed
# consumers only at a commit, so exactly_once commits far more often.
COMMIT_INTERVAL_DEFAULTS: dict[str, float] = {"at_least_once": 2.8, "exactly_once": 0.2}
# How far after its message's broker timestamp an event may be dated (guarantee 8); the
# offline scorer and the test pipeline use the same default.
MAX_FUTURE_SKEW_SECONDS = 86400.0
# An anonymous visitor's views held for a link (the newest), and for how long (a sweep drops
# older ones); with 30-day half-lives a 90-day-old view weighs an eighth of a new one.
VISITOR_MAX_VIEWS = 200
VISITOR_MAX_AGE_DAYS = 90.0
# Bind addresses that mean "every interface": no peer can reach a worker at them.
ANY_ADDRESS = ("0.0.0.0", "::")
# Names a machine may call itself that point back at whoever resolves them.
LOOPBACK_NAMES = ("localhost", "ip6-localhost", "ip6-loopback")


class Settings(BaseSettings):
    """One settings model; the README's configuration table mirrors it."""

    # populate_by_name: Settings(web_bind=...) works beside the aliased variables.
    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_", extra="ignore", populate_by_name=True
    )

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    app_id: str = Field("leadscore", description="Faust app id = consumer group id")
    data_dir: Path = Field(Path("var/worker"), description="worker-local state (RocksDB)")
    # LEADSCORE_WEB_HOST is this setting's former name, still read (LEADSCORE_WEB_BIND wins).
    web_bind: str = Field(
        "127.0.0.1",
        min_length=1,
        validation_alias=AliasChoices("LEADSCORE_WEB_BIND", "LEADSCORE_WEB_HOST"),
        description="address the worker's HTTP server binds (0.0.0.0 in containers)",
    )
    web_port: int = Field(6066, ge=1, le=65535, description="worker HTTP port")
    # Faust's table routing (GET /leads/{id} on a worker that does not own the lead) forwards
    # to the owner's advertised URL: it must be one every peer can reach. None: derived, see
    # effective_advertised_url (a property, so a copy with another port or bind follows).
    advertised_url: str | None = Field(
        None,
        description="URL peers reach this worker's HTTP server at, e.g. http://worker-1:6066 "
        "[default: http://WEB_BIND:WEB_PORT, the host name when binding 0.0.0.0 or ::]",
    )
    store: Literal["rocksdb://", "memory://"] = Field("rocksdb://", description="table store")
    # RocksDB keeps one database per table partition; each has its own block cache and
    # write buffers (README: sizing). Faust's defaults (2 GiB cache, 3 x 64 MiB buffers per
    # partition) are sized for far bigger states than ~600-byte leads.
    rocksdb_block_cache_mb: int = Field(
        16, ge=1, description="block cache of each partition's database (MiB)"
    )
    rocksdb_write_buffer_mb: int = Field(
        8, ge=1, description="memtable size of each partition's database (MiB)"
    )
    rocksdb_write_buffers: int = Field(
        2, ge=2, description="memtables per database before writes wait for a flush"
    )

    topic_prefix: str = Field("", description="prefix for every topic name")
    partitions: int = Field(6, ge=1, description="partitions of every topic")
    replication_factor: int = Field(1, ge=1, description="replication of created topics")

    model_path: Path | None = Field(None, description="scoring model file (YAML)")
    max_message_bytes: int = Field(65536, ge=256, description="larger inputs are dead-lettered")
    max_future_skew_seconds: float = Field(
        MAX_FUTURE_SKEW_SECONDS,
        ge=0,
        description="events dated further after their broker timestamp: dead letters",
    )
    # A sweep re-scores every lead (bench: about 10,000 leads/s per core); with the default
    # 30-day half-life a score moves by under 0.1 point an hour, so hourly is plenty.
    sweep_interval_seconds: float = Field(
        3600.0, ge=0, description="decay sweep period; 0 disables it"
    )
    visitor_max_age_days: float = Field(
        VISITOR_MAX_AGE_DAYS, gt=0, description="anonymous views held for a link at most this long"
    )
    visitor_max_views: int = Field(
        VISITOR_MAX_VIEWS, ge=1, description="anonymous views held per visitor (the newest)"
    )
    standby_replicas: int = Field(0, ge=0, description="Faust table standby replicas")
    processing_guarantee: ProcessingGuarantee = Field(
        "at_least_once",
        description="at_least_once, or exactly_once with Kafka transactions",
    )
    commit_interval_seconds: float | None = Field(
        None, gt=0, description="offset commit period [default: 2.8 s, 0.2 s with exactly_once]"
    )
    state_writes: StateWrites | None = Field(
        None,
        description="table writes: per_event, or per_commit (exactly_once only) "
        "[default: per_commit with exactly_once]",
    )
    producer_linger_ms: float = Field(
        20.0,
        ge=0,
        le=1000,
        description="how long an output waits to fill a batch: latency against throughput",
    )
    session_timeout_seconds: float = Field(
        60.0, ge=6, description="consumer group session timeout: how long a dead worker holds"
    )
    heartbeat_interval_seconds: float = Field(3.0, gt=0, description="group heartbeat period")
    webhook_url: str | None = Field(None, description="optional alert webhook (Slack-style)")
    webhook_max_attempts: int = Field(5, ge=1, le=20, description="POSTs per alert")
    webhook_backoff_seconds: float = Field(0.5, gt=0, description="wait before the 1st retry")
    webhook_backoff_max_seconds: float = Field(30.0, gt=0, description="cap of any wait")
    webhook_timeout_seconds: float = Field(10.0, gt=0, description="per POST")

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    # The HTTP API: bearer tokens (hashed) and TLS. No tokens: the API is open.
    api_tokens: list[ApiToken] = Field(
        default_factory=list,
        description='JSON list of {"name", "sha256", "scopes"} (`leadscore api-token` makes '
        "one); every path but /healthz and /readyz then needs a token",
    )
    metrics_public: bool = Field(
        False, description="with API tokens, serve /metrics without one (a private network)"
    )
    web_ssl_certfile: Path | None = Field(None, description="serve HTTPS with this certificate")
    web_ssl_keyfile: Path | None = Field(None, description="the certificate's private key")
    web_ssl_cafile: Path | None = Field(
        None, description="CA that peers' HTTPS certificates are checked with [default: system]"
    )

    # `leadscore console`: the web console for people (streams/console/).
    console_bind: str = Field("127.0.0.1", min_length=1, description="console HTTP bind address")
    console_port: int = Field(6070, ge=1, le=65535, description="console HTTP port")
    console_api_url: str | None = Field(
        None,
        description="a worker's HTTP API, asked for a lead's factors and history "
        "[default: the worker at WEB_BIND:WEB_PORT]",
    )
    console_api_token: SecretStr | None = Field(
        None, description="token the console presents to workers (read:leads)"
    )
    console_show_emails: bool = Field(
        False,
        description="show alert contacts' emails (with API tokens, to read:contacts only)",
    )
    console_top: int = Field(50, ge=1, le=1000, description="leaderboard rows")
    console_calibration_report: Path | None = Field(
        None, description="`leadscore calibrate --report` JSON shown on the model page"
    )
    console_model_diff: Path | None = Field(
        None, description="`leadscore model diff --json` output shown on the model page"
    )

    log_level: str = Field("INFO", description="worker log level")

    @field_validator("advertised_url")
    @classmethod
    def _check_advertised_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError("not a valid URL (check its host and port)") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an http:// or https:// URL with a host, e.g. http://worker-1:6066"
            )
        if parts.username is not None:
            raise ValueError("must not carry credentials")
        if parts.path or parts.query or parts.fragment:
            raise ValueError("must be scheme, host and port only, e.g. http://worker-1:6066")
        if not port:
            raise ValueError("must name the port (1-65535), e.g. http://worker-1:6066")
        return value

    @model_validator(mode="after")
    def _check_state_writes(self) -> Settings:
        if self.state_writes == "per_commit" and self.processing_guarantee != "exactly_once":
            # Without a transaction the outputs reach consumers before the state that made
            # them: a crash would then publish them again with other content.
            raise ValueError("LEADSCORE_STATE_WRITES=per_commit needs exactly_once")
        return self

    @model_validator(mode="after")
    def _check_security(self) -> Settings:
        uses_sasl = self.security_protocol.startswith("SASL_")
        if uses_sasl and (self.sasl_mechanism is None or not self.sasl_username):
            raise ValueError(
                f"LEADSCORE_SECURITY_PROTOCOL={self.security_protocol} needs "
                "LEADSCORE_SASL_MECHANISM, LEADSCORE_SASL_USERNAME and LEADSCORE_SASL_PASSWORD"
            )
        if (self.web_ssl_certfile is None) != (self.web_ssl_keyfile is None):
            raise ValueError("LEADSCORE_WEB_SSL_CERTFILE and LEADSCORE_WEB_SSL_KEYFILE go together")
        names = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        for name in (*names, *(f"web_{n}" for n in names)):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"LEADSCORE_{name.upper()}: no such file: {path}")
        return self

    @property
    def effective_advertised_url(self) -> str:
        """The URL peers use to reach this worker (Faust's canonical_url): the setting, else
        http(s)://WEB_BIND:WEB_PORT (https with a web certificate), or the machine's host
        name when the bind is every interface (0.0.0.0 or ::), which no peer could use."""
        if self.advertised_url is not None:
            return self.advertised_url
        host = machine_name() if self.web_bind in ANY_ADDRESS else self.web_bind
        return self._url(host, self.web_port)

    @property
    def effective_console_api_url(self) -> str:
        """The worker API the console asks: the setting, else this machine's worker."""
        if self.console_api_url is not None:
            return self.console_api_url.rstrip("/")
        return self._local_url(self.web_bind, self.web_port)

    @property
    def console_url(self) -> str:
        """Where a browser on this machine opens the console."""
        return self._local_url(self.console_bind, self.console_port) + "/"

    def _local_url(self, bind: str, port: int) -> str:
        """A server of this machine bound to `bind` as a local client reaches it (the
        loopback address when it binds every interface)."""
        return self._url("127.0.0.1" if bind in ANY_ADDRESS else bind, port)

    def _url(self, host: str, port: int) -> str:
        """http(s)://host:port, https with the web certificate (leadscore's servers share
        it), an IPv6 literal in brackets."""
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self.web_ssl_certfile is not None else "http"
        return f"{scheme}://{host}:{port}"

    @property
    def web_host(self) -> str:
        """The former name of `web_bind` (read-only)."""
        return self.web_bind

    @property
    def effective_state_writes(self) -> StateWrites:
        """How tables are written: the setting, else per_commit with exactly_once."""
        if self.state_writes is not None:
            return self.state_writes
        return "per_commit" if self.processing_guarantee == "exactly_once" else "per_event"

    @property
    def effective_commit_interval(self) -> float:
        """The commit period in force: the setting, else the guarantee's default."""
        if self.commit_interval_seconds is not None:
            return self.commit_interval_seconds
        return COMMIT_INTERVAL_DEFAULTS[self.processing_guarantee]

    def topic(self, topic: Topic | str) -> str:
        """The full name of a contract topic, e.g. topic(topics.SCORES) or topic('leads.scores')."""
        name = topic if isinstance(topic, str) else topic.name
        return f"{self.topic_prefix}{name}"


def machine_name() -> str:
    """This machine's name as peers would look it up: its fully qualified name, else its
    host name (getfqdn() says `localhost` on hosts whose name maps to a loopback address)."""
    fqdn = socket.getfqdn()
    if fqdn and fqdn.partition(".")[0] not in LOOPBACK_NAMES:
        return fqdn
    return socket.gethostname()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests build their own Settings)."""
    return Settings()


def settings_error(exc: ValidationError) -> str:
    """A one-line description naming the variables, never their values (secrets)."""
    parts = []
    for err in exc.errors():
        # A field's name, or the variable itself for a field read under aliases (web_bind).
        var = "".join(
            str(p).upper() if str(p).upper().startswith("LEADSCORE_") else f"LEADSCORE_{p}".upper()
            for p in err["loc"][:1]
        )
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{var}: {msg}" if var else msg)
    return "; ".join(parts)
