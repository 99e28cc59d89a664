"""Async admin helpers on aiokafka: contract topics, broker readiness, topic descriptions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    CoordinatorLoadInProgressError,
    GroupCoordinatorNotAvailableError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)
from aiokafka.protocol.metadata import MetadataRequest

from schemas import topics
from streams.kafka.clients import bootstrap_list, client_kwargs
from streams.settings import Settings

_NOT_AUTHORIZED = TopicAuthorizationFailedError.errno
# Metadata errors that only mean "not propagated yet" right after a topic was created.
_TRANSIENT_TOPIC_ERRORS = frozenset({3, 5})  # UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE


class BrokerUnavailableError(RuntimeError):
    """No broker answered a metadata request in time (or the process serving it died)."""


class TopicAdminError(RuntimeError):
    """The broker refused to create or describe a topic."""


@dataclass(frozen=True)
class CreateTopicsReport:
    """What `create_topics` did, by full (prefixed) topic name."""

    created: tuple[str, ...]
    existing: tuple[str, ...]
    # Existing topics whose partition count differs from the requested one (breaks
    # co-partitioning); name -> actual count.
    partition_mismatch: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: int
    configs: dict[str, str]

    @property
    def cleanup_policy(self) -> str:
        return self.configs.get("cleanup.policy", "delete")


@asynccontextmanager
async def admin_client(
    settings: Settings, *, bootstrap: str | None = None, request_timeout: float = 30.0
) -> AsyncIterator[Any]:
    """A started AIOKafkaAdminClient built from `client_kwargs`, closed on exit."""
    client = AIOKafkaAdminClient(
        **client_kwargs(settings, bootstrap=bootstrap),
        client_id="leadscore-admin",
        request_timeout_ms=int(request_timeout * 1000),
    )
    try:
        await client.start()
        yield client
    finally:
        await client.close()


async def create_topics(settings: Settings, partitions: int | None = None) -> CreateTopicsReport:
    """Create every contract topic (prefixed) with one partition count; existing ones are fine."""
    count = partitions or settings.partitions
    new = [
        NewTopic(
            settings.topic(spec),
            count,
            settings.replication_factor,
            topic_configs=dict(spec.configs),
        )
        for spec in topics.ALL
    ]
    async with admin_client(settings) as admin:
        response = await admin.create_topics(new)
        created, existing = _split_outcomes(response.topic_errors)
        # Also waits until the new topics are in the broker's metadata, so callers can use
        # them at once (creation returns when the controller has them, a bit earlier).
        described = await _describe_partitions(admin, created + existing)
    mismatch = {name: described[name] for name in existing if described[name] != count}
    return CreateTopicsReport(tuple(created), tuple(existing), mismatch)


def _split_outcomes(topic_errors: Iterable[Any]) -> tuple[list[str], list[str]]:
    created: list[str] = []
    existing: list[str] = []
    failures: list[str] = []
    refused: list[str] = []
    for name, code, *rest in topic_errors:
        if code == 0:
            created.append(name)
        elif code == TopicAlreadyExistsError.errno:
            existing.append(name)
        elif code == TopicAuthorizationFailedError.errno:
            refused.append(name)
        else:
            message = rest[0] if rest and rest[0] else for_code(code).__name__
            failures.append(f"{name}: {message} (error {code})")
    if refused:  # told as the authorization failure it is, naming the topics once
        raise TopicAuthorizationFailedError(", ".join(sorted(refused)))
    if failures:
        raise TopicAdminError("could not create topics: " + "; ".join(failures))
    return created, existing


async def _describe_partitions(
    admin: Any, names: Iterable[str], wait: float = 10.0
) -> dict[str, int]:
    """name -> partition count, retrying briefly while fresh topics propagate."""
    wanted = set(names)
    deadline = time.monotonic() + wait
    while True:
        # All topics, never named ones: a metadata request naming a missing topic makes a
        # broker with auto.create.topics.enable create it (aiokafka asks for that).
        found = {t["topic"]: t for t in await admin.describe_topics() if t["topic"] in wanted}
        errors = {name: found[name]["error_code"] if name in found else 3 for name in wanted}
        errors = {name: code for name, code in errors.items() if code}
        if not errors:
            return {name: len(found[name]["partitions"]) for name in wanted}
        transient = set(errors.values()) <= _TRANSIENT_TOPIC_ERRORS
        if not transient or time.monotonic() > deadline:
            raise TopicAdminError(f"cannot describe topics: {_named_errors(errors)}")
        await asyncio.sleep(0.2)


def _named_errors(errors: dict[str, int]) -> str:
    return ", ".join(f"{name}: {for_code(code).__name__}" for name, code in errors.items())


async def _describe_configs(admin: Any, names: Iterable[str]) -> dict[str, dict[str, str]]:
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        # Tuples across protocol versions: (error_code, error_message, type, name, entries),
        # each entry starting (config_name, config_value, ...).
        for code, message, _type, name, entries, *_ in response.resources:
            if code:
                raise TopicAdminError(f"cannot describe configs of {name}: {message}")
            configs[name] = {entry[0]: entry[1] for entry in entries if entry[1] is not None}
    return configs


async def describe_topics(settings: Settings, names: Iterable[str]) -> dict[str, TopicDescription]:
    """Partition count and effective configs of each named topic (full names)."""
    wanted = list(names)
    if not wanted:
        return {}
    async with admin_client(settings) as admin:
        partitions = await _describe_partitions(admin, wanted)
        configs = await _describe_configs(admin, wanted)
    return {n: TopicDescription(n, partitions[n], configs.get(n, {})) for n in wanted}


async def list_topics(settings: Settings) -> list[str]:
    """Sorted non-internal topic names that start with the settings' topic prefix."""
    async with admin_client(settings) as admin:
        names: list[str] = await admin.list_topics()
    prefix = settings.topic_prefix
    return sorted(n for n in names if n.startswith(prefix) and not n.startswith("__"))


async def probe_broker(
    settings: Settings, *, bootstrap: str | None = None, timeout: float = 5.0
) -> dict[str, Any] | None:
    """The cluster description if a broker answers a metadata request now, else None."""
    # A closed port is checked first, so aiokafka does not log a connect error per try.
    if not await _any_port_open(bootstrap or settings.kafka_bootstrap):
        return None
    try:
        async with asyncio.timeout(timeout):
            async with admin_client(settings, bootstrap=bootstrap, request_timeout=timeout) as a:
                cluster: dict[str, Any] = await a.describe_cluster()
    except (KafkaError, OSError, TimeoutError):
        return None
    return cluster if cluster.get("brokers") else None


async def wait_for_broker(
    bootstrap: str,
    timeout: float = 90.0,
    *,
    settings: Settings | None = None,
    alive: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Wait until a broker at `bootstrap` answers a metadata request; return the cluster
    description. Raises BrokerUnavailableError on timeout or as soon as `alive()` is False."""
    settings = settings or Settings(kafka_bootstrap=bootstrap)
    deadline = time.monotonic() + timeout
    while True:
        if alive is not None and not alive():
            raise BrokerUnavailableError(f"the broker process exited before {bootstrap} answered")
        cluster = await probe_broker(settings, bootstrap=bootstrap)
        if cluster is not None:
            return cluster
        if time.monotonic() > deadline:
            raise BrokerUnavailableError(f"no broker answered at {bootstrap} within {timeout:g} s")
        await asyncio.sleep(0.25)


async def _any_port_open(bootstrap: str) -> bool:
    for entry in bootstrap_list(bootstrap):
        host, _, port = entry.rpartition(":")
        try:
            connecting = asyncio.open_connection(host.strip("[]"), int(port))
            _reader, writer = await asyncio.wait_for(connecting, 2.0)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


async def missing_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """The named topics (full names) the broker does not have. One the principal may not
    see raises TopicAuthorizationFailedError naming it, not "missing": a listing leaves out
    topics the authorizer hides."""
    async with admin_client(settings) as admin:
        listed = {t["topic"] for t in await admin.describe_topics()}
        missing = [n for n in names if n not in listed]
        await _raise_if_hidden(admin, missing)
    return missing


async def _raise_if_hidden(admin: Any, names: list[str]) -> None:
    if not names:
        return
    # By name, never letting the broker auto-create them; aiokafka's admin client has no
    # public call for it, so its request goes through its sender.
    request = MetadataRequest(names, allow_auto_topic_creation=False)
    response = (await admin._send_request(request)).to_object()
    refused = [t["topic"] for t in response["topics"] if t["error_code"] == _NOT_AUTHORIZED]
    if refused:
        raise TopicAuthorizationFailedError(", ".join(sorted(refused)))


async def _check_group_access(admin: Any, group: str, wait: float = 30.0) -> None:
    """Raises GroupAuthorizationFailedError when no ACL lets this principal use the group.
    A new cluster's group coordinator comes up with its first group: waited for."""
    deadline = time.monotonic() + wait
    while True:
        try:
            await admin.list_consumer_group_offsets(group)
            return
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def check_worker_topics(settings: Settings) -> None:
    """Refuse to run against missing, hidden or mis-partitioned topics, or without access
    to the worker's consumer group.

    Subscribing to a missing topic would make a broker with auto.create.topics.enable
    create it with one partition, silently breaking co-partitioning.
    """
    wanted = [settings.topic(spec) for spec in topics.ALL]
    async with admin_client(settings) as admin:
        found = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
        missing = [n for n in wanted if n not in found]
        await _raise_if_hidden(admin, missing)
        await _check_group_access(admin, settings.app_id)
    if missing:
        raise TopicAdminError(
            f"topics missing: {', '.join(missing)}; run `leadscore topics create` first"
        )
    wrong = {n: found[n] for n in wanted if found[n] != settings.partitions}
    if wrong:
        raise TopicAdminError(
            f"topics must all have LEADSCORE_PARTITIONS={settings.partitions} partitions "
            f"(co-partitioned by lead_id), found {wrong}"
        )
