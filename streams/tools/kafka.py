"""`leadscore kafka up|down|status`: the local single-node broker (streams/tools/broker.py)."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    NoBrokersAvailable,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
    UnsupportedSaslMechanismError,
)
from pydantic import ValidationError

from streams.kafka.admin import BrokerUnavailableError, TopicAdminError, probe_broker
from streams.kafka.clients import bootstrap_list
from streams.settings import Settings, get_settings, settings_error
from streams.tools.broker import LocalKafka, LocalKafkaError, MissingToolError, UpResult
from streams.tools.secure_broker import SecureKafka

kafka_app = typer.Typer(no_args_is_help=True, add_completion=False)

EXIT_NOT_RUNNING = 3  # LSB status convention: "program is not running"


@contextmanager
def errors_as_exit() -> Iterator[None]:
    """Known failures as one message and an exit code instead of a traceback."""
    try:
        with authorization_told():
            yield
    except AUTHORIZATION_ERRORS as exc:
        typer.echo(f"error: {authorization_failure(exc)}", err=True)
        raise typer.Exit(1) from None
    except MissingToolError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        typer.echo(f"error: invalid LEADSCORE_* settings: {settings_error(exc)}", err=True)
        raise typer.Exit(2) from None
    except (LocalKafkaError, TopicAdminError, BrokerConnectError, KafkaError) as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(1) from None


# --- a broker that cannot be reached or refuses this client ------------------------------

# The broker refused the SASL exchange itself: mechanism or listener mismatch.
_SASL_REFUSED = (
    IllegalSaslStateError,
    UnsupportedSaslMechanismError,
    AuthenticationMethodNotSupported,
)
# The exchange ran and the user name or password was wrong.
_CREDENTIALS_REFUSED = (SaslAuthenticationFailed, AuthenticationFailedError)
CONNECTION_ERRORS = (
    KafkaConnectionError,
    NoBrokersAvailable,
    BrokerUnavailableError,
    *_SASL_REFUSED,
    *_CREDENTIALS_REFUSED,
)


# The broker's authorizer refused this principal an operation: an ACL is missing.
AUTHORIZATION_ERRORS = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
_RESOURCE_KIND = {
    TopicAuthorizationFailedError: "topic",
    GroupAuthorizationFailedError: "consumer group",
    ClusterAuthorizationFailedError: "cluster",
    TransactionalIdAuthorizationFailed: "transactional id",
}


def authorization_failure(exc: BaseException) -> str:
    """One line: which resource the broker refused, and where the missing ACLs are told."""
    kind = next((k for t, k in _RESOURCE_KIND.items() if isinstance(exc, t)), "resource")
    names = ", ".join(str(arg) for arg in exc.args).strip()  # aiokafka's: the resources
    plural = "s" if "," in names else ""
    what = f"{kind}{plural} {names}" if names else f"a {kind}"
    return (
        f"Kafka refused this client's principal access to {what} ({type(exc).__name__}): "
        "an ACL is missing (`leadscore kafka acls worker|operator` lists what each role needs)"
    )


class _NotAuthorizedNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "is not authorized" not in record.getMessage()


@contextmanager
def authorization_told() -> Iterator[None]:
    """Inside, aiokafka's "Topic X is not authorized for this client" warnings are dropped:
    the command tells the refusal in its one line (authorization_failure)."""
    notice = _NotAuthorizedNotice()
    logger = logging.getLogger("aiokafka.cluster")  # where aiokafka logs it
    logger.addFilter(notice)
    try:
        yield
    finally:
        logger.removeFilter(notice)


class BrokerConnectError(RuntimeError):
    """No broker could be used at the bootstrap address; the message is one line naming it
    and the settings to check."""


@contextmanager
def broker_connection(settings: Settings) -> Iterator[None]:
    """Connection failures inside become one BrokerConnectError line (`broker_failure`).

    aiokafka logs an error per failed bootstrap attempt before it raises a bare "Unable to
    bootstrap": those records are held back while inside, read for the cause, and replayed
    unless the failure was a connection failure told in the one line. Wrap only start-up
    work, never a long-running client: held-back records are not shown until the end.
    """
    logger = logging.getLogger("aiokafka")
    held = _Hold()
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(held)
    try:
        with authorization_told():  # a refusal is told by the caller, in its one line
            yield
    except CONNECTION_ERRORS as exc:
        causes = [*held.errors(), exc]
        held.records.clear()
        raise BrokerConnectError(broker_failure(settings, causes)) from None
    finally:
        logger.removeHandler(held)
        logger.propagate = propagate
        for record in held.records:
            logging.getLogger(record.name).handle(record)


def require_broker(settings: Settings) -> None:
    """Return when a broker answers at the bootstrap address now; else BrokerConnectError
    with `broker_failure`'s line. Fast on a closed port (no aiokafka retries)."""
    with broker_connection(settings):
        if asyncio.run(probe_broker(settings)) is None:
            raise BrokerUnavailableError(f"no Kafka broker answers at {settings.kafka_bootstrap}")


class _Hold(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def errors(self) -> list[BaseException]:
        """The exceptions aiokafka logged ('Unable connect to "%s:%s": %s', host, port, err)."""
        return [
            r.args[-1]
            for r in self.records
            if isinstance(r.args, tuple) and r.args and isinstance(r.args[-1], BaseException)
        ]


def broker_failure(settings: Settings, causes: Iterable[BaseException]) -> str:
    """One line: which broker, what went wrong, which LEADSCORE_* setting to check."""
    where, protocol = settings.kafka_bootstrap, settings.security_protocol
    seen = list(causes)
    credentials = _first(seen, _CREDENTIALS_REFUSED)
    if credentials is not None:
        return (
            f"Kafka at {where} refused the credentials ({_name(credentials)}): check "
            f"LEADSCORE_SASL_USERNAME and LEADSCORE_SASL_PASSWORD (LEADSCORE_SASL_MECHANISM="
            f"{settings.sasl_mechanism}, LEADSCORE_SECURITY_PROTOCOL={protocol})"
        )
    sasl = _first(seen, _SASL_REFUSED)
    if sasl is not None:
        return (
            f"Kafka at {where} refused the SASL handshake ({_name(sasl)}): check that "
            f"LEADSCORE_SECURITY_PROTOCOL={protocol} and LEADSCORE_SASL_MECHANISM="
            f"{settings.sasl_mechanism} match the broker's listener"
        )
    tls = _first(seen, (ssl.SSLError,))
    if tls is not None:
        return (
            f"TLS handshake with Kafka at {where} failed ({_name(tls)}): check "
            f"LEADSCORE_SECURITY_PROTOCOL={protocol} and LEADSCORE_SSL_CAFILE, "
            "LEADSCORE_SSL_CERTFILE, LEADSCORE_SSL_KEYFILE"
        )
    closed = _first(seen, (KafkaConnectionError,))
    if closed is not None and protocol.endswith("SSL") and settings.ssl_certfile is None:
        # TLS 1.3: the client's handshake ends before the broker checks for a certificate;
        # a listener that requires one then just closes the connection.
        return (
            f"Kafka at {where} closed the connection after the TLS handshake: its listener "
            "probably requires a client certificate; set LEADSCORE_SSL_CERTFILE and "
            "LEADSCORE_SSL_KEYFILE (or use its SASL listener)"
        )
    if not _accepts_connections(where):
        return (
            f"no Kafka broker answers at {where}: check LEADSCORE_KAFKA_BOOTSTRAP "
            "(`leadscore kafka up` starts a local one)"
        )
    cause = _first(seen, (OSError, KafkaError))
    return (
        f"{where} accepts connections but no Kafka session with LEADSCORE_SECURITY_PROTOCOL="
        f"{protocol} could be set up ({_name(cause) if cause else 'no answer'}): check "
        "LEADSCORE_SECURITY_PROTOCOL and the LEADSCORE_SASL_*/LEADSCORE_SSL_* settings against "
        "the broker's listener, and LEADSCORE_KAFKA_BOOTSTRAP"
    )


def _first(
    causes: list[BaseException], kinds: tuple[type[BaseException], ...]
) -> BaseException | None:
    return next((c for c in causes if isinstance(c, kinds)), None)


def _name(exc: BaseException) -> str:
    """The error's class and, when short, its own text (never a connection's repr)."""
    name = type(exc).__name__
    reason = getattr(exc, "reason", None) if isinstance(exc, ssl.SSLError) else None
    text = " ".join(str(reason or exc).split())
    text = text.rpartition(f"{name}: ")[2]  # aiokafka's text repeats the class name
    if text and text != name and len(text) <= 100 and "<" not in text:
        return f"{name}: {text}"
    return name


def _accepts_connections(bootstrap: str, timeout: float = 2.0) -> bool:
    """Whether any bootstrap address takes a TCP connection at all."""
    for entry in bootstrap_list(bootstrap):
        host, _, port = entry.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        except (OSError, ValueError):
            continue
        return True
    return False


def _local(secure: bool = False) -> LocalKafka:
    if secure:
        return SecureKafka(say=typer.echo)
    return LocalKafka(say=typer.echo)


SECURE_HELP = (
    "The secured broker instead (127.0.0.1:9192 SASL_SSL with SCRAM users, :9193 mutual "
    "TLS, ACLs enforced; certificates, passwords and settings files under its home's secure/)."
)


@kafka_app.command()
def up(
    fresh: Annotated[bool, typer.Option("--fresh", help="Wipe the broker's data first.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 90.0,
    secure: Annotated[bool, typer.Option("--secure", help=SECURE_HELP)] = False,
) -> None:
    """Start the local broker (127.0.0.1:9092) unless it runs already."""
    with errors_as_exit():
        kafka = _local(secure)
        if isinstance(kafka, SecureKafka):  # roles are granted on these settings' topics
            kafka.acl_settings = get_settings()
        result = kafka.up(fresh=fresh, timeout=timeout)
    typer.echo(_describe_up(result))
    if isinstance(kafka, SecureKafka):
        folder = kafka.kit.directory
        typer.echo(f"settings per principal: {folder}/<worker|operator|stranger>-<sasl|mtls>.env")


def _describe_up(result: UpResult) -> str:
    if result.started:
        return (
            f"Kafka is up at {result.bootstrap} (pid {result.pid}) after {result.seconds:.1f} s; "
            f"log: {result.log}"
        )
    if result.pid is None:
        return f"Kafka already answers at {result.bootstrap}; nothing started"
    where = f"bootstrap {result.bootstrap}, log {result.log}"
    return f"Kafka is already running: pid {result.pid}, {where}"


@kafka_app.command()
def down(
    timeout: Annotated[float, typer.Option(help="Seconds before SIGKILL.")] = 30.0,
    secure: Annotated[bool, typer.Option("--secure", help="The secured broker.")] = False,
) -> None:
    """Stop the broker that `leadscore kafka up` started."""
    with errors_as_exit():
        stopped = _local(secure).down(timeout=timeout)
    typer.echo("Kafka stopped" if stopped else "Kafka is not running; nothing to stop")


@kafka_app.command()
def status(
    secure: Annotated[bool, typer.Option("--secure", help="The secured broker.")] = False,
) -> None:
    """Say whether the local broker runs (exit 0) or not (exit 3)."""
    with errors_as_exit():
        current = _local(secure).status()
    typer.echo(current.describe())
    if not current.running:
        raise typer.Exit(EXIT_NOT_RUNNING)


@kafka_app.command()
def acls(
    role: Annotated[str, typer.Argument(help="worker or operator")],
    principal: Annotated[str, typer.Option(help="e.g. User:leadscore")] = "User:leadscore",
) -> None:
    """Print the `kafka-acls.sh` commands granting a role what it needs on a real cluster
    (topic names and group from the LEADSCORE_* settings)."""
    from streams.kafka.acls import role_acls

    with errors_as_exit():
        settings = get_settings()
        try:
            rules = role_acls(role, settings)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
    base = f"kafka-acls.sh --bootstrap-server {settings.kafka_bootstrap}"
    base += " --command-config admin.properties"
    for rule in rules:
        typer.echo(f"{base} --add --allow-principal '{principal}' {rule.kafka_acls_args()}")
