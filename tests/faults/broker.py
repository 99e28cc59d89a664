"""The fault suite's own broker: another LocalKafka on free ports, with its home (run and
data dirs) under a temporary dir and the jar cache of the main broker, so that restarting it
never disturbs the shared broker at 127.0.0.1:9092 that other tests use."""

from __future__ import annotations

import random
import time
from pathlib import Path

from streams.tools.broker import DEFAULT_HOST, LocalKafka
from streams.tools.worker_process import port_free

# Below Linux's ephemeral range (32768-60999): an outgoing connection never takes these ports
# while the broker is down for a restart.
PORT_RANGE = (20000, 29999)


def free_adjacent_ports(count: int, rng: random.Random | None = None) -> int:
    """The first of `count` adjacent free ports in PORT_RANGE."""
    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count + 1, count)
        if all(port_free(port + i, DEFAULT_HOST) for i in range(count)):
            return port
    raise AssertionError(f"no {count} free adjacent ports in {PORT_RANGE}")


def free_port_pair(rng: random.Random | None = None) -> tuple[int, int]:
    """Two adjacent free ports (broker, controller) in PORT_RANGE."""
    port = free_adjacent_ports(2, rng)
    return port, port + 1


class FaultBroker:
    """A dedicated single-node broker that the tests may stop and restart at will."""

    def __init__(self, home: Path) -> None:
        port, controller = free_port_pair()
        shared = LocalKafka()  # the main broker's layout: only its jar cache is used
        self.kafka = LocalKafka(
            home, port=port, controller_port=controller, libs=shared.layout.libs
        )
        self.restarts = 0

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def start(self, timeout: float = 120.0) -> float:
        """Start (or restart on the same data dir); seconds until it answered."""
        began = time.monotonic()
        result = self.kafka.up(timeout=timeout)
        assert result.started, f"a broker already answered at {self.bootstrap}"
        return time.monotonic() - began

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (a clean shutdown), SIGKILL only after `timeout`."""
        self.kafka.down(timeout=timeout)

    def restart(self, down_for: float = 0.0) -> float:
        """SIGTERM, stay down `down_for` seconds, start again; seconds it was unavailable."""
        began = time.monotonic()
        self.stop()
        time.sleep(down_for)
        self.start()
        self.restarts += 1
        return time.monotonic() - began
