"""The connection kwargs every aiokafka client (admin, producer, consumer) is built with."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from streams.settings import Settings


def bootstrap_list(bootstrap: str) -> list[str]:
    """`host:port` entries from a comma- or semicolon-separated list (a `kafka://` scheme is
    dropped, so Faust-style broker URLs work too)."""
    entries = bootstrap.replace(";", ",").split(",")
    return [e.strip().removeprefix("kafka://") for e in entries if e.strip()]


def client_kwargs(settings: Settings, *, bootstrap: str | None = None) -> dict[str, Any]:
    """bootstrap_servers, security_protocol, SASL and TLS kwargs shared by all aiokafka clients.

    `bootstrap` overrides `settings.kafka_bootstrap` (e.g. to probe one broker).
    """
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return {
        "bootstrap_servers": bootstrap_list(bootstrap or settings.kafka_bootstrap),
        "security_protocol": settings.security_protocol,
        # aiokafka's own default; it only matters for SASL_* protocols, and SCRAM reuses
        # the sasl_plain_* fields.
        "sasl_mechanism": settings.sasl_mechanism or "PLAIN",
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": password,
        "ssl_context": _ssl_context(settings),
    }


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.security_protocol.endswith("SSL"):
        return None
    # No files: the system CA store, which is what managed clusters need.
    context: ssl.SSLContext = create_ssl_context(
        cafile=settings.ssl_cafile,
        certfile=settings.ssl_certfile,
        keyfile=settings.ssl_keyfile,
    )
    return context
