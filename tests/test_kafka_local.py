"""The local broker, the contract topics and the test harness itself.

Tests marked `kafka` run against the session's real broker (see conftest.kafka_bootstrap);
the others check the pure parts (configs, parsing, client kwargs) without one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.partitioner import murmur2

from schemas import topics
from schemas.topics import ACCOUNT_SCORES, MODEL, SCORES
from streams.kafka.admin import create_topics
from streams.kafka.clients import bootstrap_list, client_kwargs
from streams.settings import Settings
from streams.tools.broker import (
    HOME_ENV,
    LocalKafka,
    java_major_version,
    new_cluster_id,
    render_server_properties,
)
from tests.faults.broker import free_port_pair
from tests.kafka_helpers import (
    Record,
    broker_answers,
    consume_until,
    create_contract_topics,
    kafka_settings,
    produce,
    read_all,
)

kafka = pytest.mark.kafka


# -- with a broker ---------------------------------------------------------------------


@kafka
async def test_broker_answers_metadata_from_an_independent_client(kafka_bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        cluster = await admin.describe_cluster()
        topics = await admin.list_topics()
    finally:
        await admin.close()
    assert cluster["cluster_id"]
    assert len(cluster["brokers"]) >= 1
    assert isinstance(topics, list)


@kafka
async def test_create_topics_twice_is_harmless(kafka_bootstrap: str, unique: str) -> None:
    settings = kafka_settings(kafka_bootstrap, unique, partitions=2)
    expected = {settings.topic(t) for t in topics.ALL}

    first = await create_topics(settings)
    second = await create_topics(settings)

    assert set(first.created) == expected and not first.existing
    assert not second.created and set(second.existing) == expected
    assert not second.partition_mismatch


@kafka
async def test_contract_topics_have_the_configured_partitions_and_policies(
    kafka_bootstrap: str, unique: str
) -> None:
    settings = kafka_settings(kafka_bootstrap, unique, partitions=4)
    await create_topics(settings)
    names = [settings.topic(t) for t in topics.ALL]

    partitions, policies = await _describe_independently(kafka_bootstrap, names)

    assert partitions == dict.fromkeys(names, 4)
    compacted = {settings.topic(SCORES), settings.topic(MODEL), settings.topic(ACCOUNT_SCORES)}
    assert {n for n, policy in policies.items() if policy == "compact"} == compacted
    assert all(policies[n] == "delete" for n in set(names) - compacted)


async def _describe_independently(
    bootstrap: str, names: list[str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Partition counts and cleanup.policy read with a bare aiokafka admin client."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(names)
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        responses = await admin.describe_configs(resources)
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in topics}
    policies = {
        resource[3]: entry[1]
        for response in responses
        for resource in response.resources
        for entry in resource[4]
        if entry[0] == "cleanup.policy"
    }
    return partitions, policies


@contextmanager
def project_broker(home: Path) -> Iterator[tuple[LocalKafka, int, dict[str, str] | None]]:
    """A running broker that leadscore started (`leadscore kafka up`, i.e. LocalKafka), its
    pid, and the environment in which the CLI finds it (None: this one's). The session's
    broker when it is that one; else (another program's broker answers at the bootstrap)
    one started here as `kafka up` does, in `home` on free ports, and stopped afterwards."""
    local = LocalKafka()
    pid = local.running_pid()
    if pid is not None:
        yield local, pid, None
        return
    port, controller = free_port_pair()
    own = LocalKafka(home, port=port, controller_port=controller, libs=local.layout.libs)
    try:
        result = own.up()
        assert result.started and result.pid is not None, result
        yield own, result.pid, {**os.environ, HOME_ENV: str(own.layout.home)}
    finally:
        own.down()


@kafka
def test_cli_status_says_running(kafka_bootstrap: str, tmp_path: Path) -> None:
    with project_broker(tmp_path / "kafka") as (local, pid, env):
        assert asyncio.run(broker_answers(local.bootstrap))
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "kafka", "status"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    assert lines[0].startswith(f"Kafka is running: pid {pid}, bootstrap "), lines[0]
    assert lines[0].endswith(f", log {local.layout.server_log}"), lines[0]
    if env is None:  # the default home's broker: the one at 127.0.0.1:9092
        assert f"bootstrap {local.bootstrap}," in lines[0]


@kafka
async def test_helpers_round_trip_json_bytes_tombstones_and_partitions(
    kafka_bootstrap: str, unique: str
) -> None:
    await create_contract_topics(kafka_bootstrap, unique, partitions=3)
    topic = f"{unique}{topics.INPUTS[0].name}"
    records: list[Record | tuple[str, None]] = [
        Record("lead-1", {"event_id": "e1"}),
        Record("lead-2", b"\xff not json", partition=2),
        ("lead-3", None),
    ]

    placed = await produce(kafka_bootstrap, topic, records)
    seen = await consume_until(kafka_bootstrap, topic, lambda recs: len(recs) >= 3, timeout=20)

    by_key = {r.key_text: r for r in seen}
    assert by_key["lead-1"].json() == {"event_id": "e1"}
    assert by_key["lead-2"].value == b"\xff not json" and by_key["lead-2"].partition == 2
    assert by_key["lead-3"].value is None
    # The producer partitions by murmur2 of the key, as the contract requires.
    assert placed[0][0] == (murmur2(b"lead-1") & 0x7FFFFFFF) % 3
    assert len(await read_all(kafka_bootstrap, topic, settle=0.5)) == 3


@kafka
async def test_consume_until_fails_listing_what_it_saw(kafka_bootstrap: str, unique: str) -> None:
    await create_contract_topics(kafka_bootstrap, unique, partitions=1)
    topic = f"{unique}{SCORES.name}"
    await produce(kafka_bootstrap, topic, [("lead-9", {"score": 7})])

    with pytest.raises(AssertionError) as failure:
        await consume_until(
            kafka_bootstrap, topic, lambda recs: len(recs) > 1, timeout=2, what="two scores"
        )

    message = str(failure.value)
    assert "two scores not met" in message and "saw 1 record" in message
    assert "'lead-9'" in message and '{"score":7}' in message


# -- without a broker ------------------------------------------------------------------


def test_topic_specs_cover_the_contract_once() -> None:
    names = [spec.name for spec in topics.ALL]
    assert len(names) == len(set(names)) == 18
    assert {t.name for t in topics.INPUTS} <= set(names)
    compacted = {spec.name for spec in topics.ALL if spec.compacted}
    assert compacted == {SCORES.name, MODEL.name, ACCOUNT_SCORES.name}


def test_cluster_ids_look_like_kafka_uuids() -> None:
    ids = {new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(cid) == 22 and not cid.startswith("-") for cid in ids)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_202"', 8),
        ('openjdk version "21-ea" 2023-09-19', 21),
        ("no java here", None),
    ],
)
def test_java_major_version(output: str, major: int | None) -> None:
    assert java_major_version(output) == major


def test_server_properties_fit_one_node(tmp_path: Path) -> None:
    text = render_server_properties(tmp_path, "127.0.0.1", 9092, 9093)
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props  # dynamic quorum (format --standalone)
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["auto.create.topics.enable"] == "true"
    assert props["log.dirs"] == str(tmp_path)


def test_client_kwargs_carry_security_settings() -> None:
    settings = Settings(
        kafka_bootstrap="kafka://b1:9093; b2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="s3cret",
    )
    kwargs = client_kwargs(settings)
    assert kwargs["bootstrap_servers"] == ["b1:9093", "b2:9093"]
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc", "s3cret")
    assert kwargs["ssl_context"] is not None
    assert client_kwargs(Settings(security_protocol="PLAINTEXT"))["ssl_context"] is None
    assert bootstrap_list("a:1,b:2") == ["a:1", "b:2"]
