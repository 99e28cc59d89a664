"""Fixtures of the fault suite: its own broker (restartable), per-test prefixes, the stream."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.broker import FaultBroker
from tests.faults.harness import FaultSetup, SeededStream, seeded_stream
from tests.kafka_helpers import create_contract_topics

# The processing guarantees the fault tests run under, comma-separated: every test runs
# once with each (LEADSCORE_FAULT_GUARANTEES=at_least_once for one only).
GUARANTEES = os.environ.get("LEADSCORE_FAULT_GUARANTEES", "at_least_once,exactly_once").split(",")
# A fault test's own waits are bounded (each names what it waited for); an exactly_once
# worker-kill run restarts five workers, each recovering its tables from the changelog.
FAULT_TEST_TIMEOUT = 600


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("faults") is not None:
            item.add_marker(pytest.mark.timeout(FAULT_TEST_TIMEOUT))


@pytest.fixture(scope="session")
def fault_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultBroker]:
    """A broker of the suite's own on free ports (never the shared one at :9092)."""
    broker = FaultBroker(tmp_path_factory.mktemp("fault-kafka"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def small_stream() -> SeededStream:
    """10,000 messages of 200 leads (streams.tools.simulate when importable): every
    scenario restarts or runs twice, and runs once per guarantee."""
    return seeded_stream(events=10_000, leads=200)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """Topics and app id of one test on the fault broker (which is thrown away at the end)."""
    return f"f-{request.node.name.removeprefix('test_')[:20]}-{uuid.uuid4().hex[:6]}."


@pytest.fixture(params=GUARANTEES)
async def setup(
    request: pytest.FixtureRequest, fault_broker: FaultBroker, prefix: str, tmp_path: Path
) -> FaultSetup:
    """The common setup of a fault test: contract topics under a fresh prefix, and workers
    of one processing guarantee (every fault test runs once with each of GUARANTEES)."""
    await create_contract_topics(fault_broker.bootstrap, prefix)
    return FaultSetup(fault_broker, prefix, tmp_path, guarantee=request.param)
