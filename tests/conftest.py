"""Shared fixtures. `kafka_bootstrap` gives a real broker (started here when none answers);
`unique` keeps tests' topics and groups apart on that shared broker."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from streams.settings import Settings
from streams.tools.broker import DEFAULT_BOOTSTRAP, LocalKafka, LocalKafkaError
from tests.browser import browser_page  # noqa: F401  (fixture for the browser tests)
from tests.kafka_helpers import (
    broker_answers,
    delete_topics_with_prefixes,
    kafka_settings,
    short_name,
)

# No deadline on hypothesis examples: a per-example time limit is a timed assertion, and
# these 2-core machines stall now and then (speed is measured by the bench instead).
hypothesis_settings.register_profile("leadscore", deadline=None)
hypothesis_settings.load_profile("leadscore")

BOOTSTRAP_ENV = "LEADSCORE_KAFKA_BOOTSTRAP"
KEEP_TOPICS_ENV = "LEADSCORE_KEEP_TEST_TOPICS"  # set to keep test topics for a post-mortem

# Prefixes handed out by `unique`; their topics are deleted when the session ends.
_PREFIXES: set[str] = set()


def _start_local_broker(bootstrap: str) -> LocalKafka | None:
    """Start the local broker; the LocalKafka to stop later, or None if it was already up."""
    if bootstrap != DEFAULT_BOOTSTRAP:
        pytest.fail(
            f"no Kafka broker answers at {BOOTSTRAP_ENV}={bootstrap}, and the harness only "
            f"starts one at {DEFAULT_BOOTSTRAP}: start that broker or unset {BOOTSTRAP_ENV}",
            pytrace=False,
        )
    local = LocalKafka()
    try:
        result = local.up()
    except LocalKafkaError as exc:
        pytest.fail(f"could not start the local Kafka broker: {exc}", pytrace=False)
    return local if result.started else None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of a broker answering metadata requests. Started with streams.tools.broker
    when none answers, and stopped at session end only in that case. Never skips."""
    bootstrap = os.environ.get(BOOTSTRAP_ENV, DEFAULT_BOOTSTRAP)
    # Sync fixture with its own loop: no session-scoped event loop to manage.
    started = None if asyncio.run(broker_answers(bootstrap)) else _start_local_broker(bootstrap)
    yield bootstrap
    if _PREFIXES and not os.environ.get(KEEP_TOPICS_ENV):
        asyncio.run(delete_topics_with_prefixes(bootstrap, _PREFIXES))
    if started is not None:
        started.down()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A per-test prefix such as `t-create-topics-1a2b3c4d.`, for topic prefixes, app ids and
    group ids; topics under it are deleted at session end."""
    prefix = f"t-{short_name(request.node.name)}-{uuid.uuid4().hex[:8]}."
    _PREFIXES.add(prefix)
    return prefix


@pytest.fixture
def kafka_test_settings(kafka_bootstrap: str, unique: str, tmp_path: Path) -> Settings:
    """Settings for this test: the broker, topics and app id under `unique`, and a private
    worker data dir."""
    return kafka_settings(kafka_bootstrap, unique, data_dir=tmp_path / "worker")
