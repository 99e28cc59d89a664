"""The connection kwargs every aiokafka client (admin, producer, consumer) is built with,
and the worker's retry pacing for aiokafka's metadata refresh."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka.client import AIOKafkaClient
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


def back_off_failed_metadata_updates() -> None:
    """Make every aiokafka client in this process wait retry_backoff_ms after a failed
    metadata update.

    aiokafka refreshes metadata as soon as any caller asks (its fetcher, sender and group
    coordinator all do, in loops), and against an unreachable broker each attempt fails at
    once: about 5,000 attempts a second, a whole core, while the broker is down. With the
    pause each client tries about ten times a second; a broker that comes back is seen
    within 0.1 s. Idempotent.
    """
    original = AIOKafkaClient._metadata_update
    if getattr(original, "backs_off", False):
        return

    async def _metadata_update(self: AIOKafkaClient, cluster: Any, topics: Any) -> bool:
        updated = bool(await original(self, cluster, topics))
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    _metadata_update.backs_off = True  # type: ignore[attr-defined]
    setattr(AIOKafkaClient, "_metadata_update", _metadata_update)  # noqa: B010
