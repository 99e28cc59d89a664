"""Run `leadscore worker` as a real process for integration and fault tests.

The process control lives in streams.tools.worker_process (the demo uses it too); here failures
are AssertionErrors, which pytest reports with the worker's log.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from streams.settings import Settings
from streams.tools.worker_process import WorkerProcess as _WorkerProcess
from streams.tools.worker_process import free_port, settings_env
from tests.kafka_helpers import create_contract_topics, delete_topics_with_prefixes, kafka_settings


class WorkerProcess(_WorkerProcess):
    error = AssertionError

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        """Start, and on a port another process took since `free_port()` chose it (the
        choice cannot hold the port for the child), start again on another port."""
        for _ in range(PORT_TRIES - 1):
            try:
                return super().start(timeout)
            except AssertionError:
                if "address already in use" not in self.tail(80).lower():
                    raise
                self.stop()
                self.settings = _another_port(self.settings)
        return super().start(timeout)


PORT_TRIES = 3


def _another_port(settings: Settings) -> Settings:
    old, new = settings.web_port, free_port()
    url = settings.advertised_url
    if url is not None and url.endswith(f":{old}"):
        url = url.removesuffix(f":{old}") + f":{new}"
    return settings.model_copy(update={"web_port": new, "advertised_url": url})


@contextmanager
def module_worker(
    kafka_bootstrap: str,
    tmp: pytest.TempPathFactory,
    name: str,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Iterator[WorkerProcess]:
    """A worker on its own topic prefix for one test module (decay sweep off unless set);
    its topics are deleted afterwards."""
    prefix = f"t-{name}-{uuid.uuid4().hex[:8]}."
    values: dict[str, Any] = {"sweep_interval_seconds": 0, **overrides}
    settings = kafka_settings(
        kafka_bootstrap, prefix, data_dir=tmp.mktemp("worker"), web_port=free_port(), **values
    )
    asyncio.run(create_contract_topics(kafka_bootstrap, prefix))
    proc = WorkerProcess(settings, tmp.mktemp("logs") / "worker.log", env=env)
    try:
        yield proc.start()
    finally:
        proc.stop()
        asyncio.run(delete_topics_with_prefixes(kafka_bootstrap, [prefix]))


__all__ = ["WorkerProcess", "free_port", "module_worker", "settings_env"]
