"""`leadscore worker` with named patches applied first: the A/B variants of the bench
(`--variant NAME:BENCH_PATCHES=stock_handover[+...]`). Each patch either puts one of
leadscore's changes to Faust back as upstream has it (`stock_*`), or tries a change not
taken, so that either side of a decision can be measured in one run.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def stock_partitioner() -> None:
    """aiokafka's default partitioner (murmur2 per send) instead of the cached one."""
    from streams.app.worker import TUNING

    TUNING.pop("producer_partitioner")


def buffer_10000() -> None:
    """A producer buffer of 10,000 messages with at_least_once too (Faust's is 100): the
    agent waits for the buffer less often."""
    from streams.upstream.buffer import DrainingBuffer

    DrainingBuffer.max_messages = 10_000


def stock_handover() -> None:
    """Faust's consumer hands each fetched message over through mode's `wait_first` (four
    tasks per message) instead of in place (streams/upstream/handover.py)."""
    from mode import Service

    from streams.upstream.consumer import StableEndsConsumer

    StableEndsConsumer.wait_first = Service.wait_first  # type: ignore[method-assign]


def cython_optimizations() -> None:
    """Faust's opt-in `cython_optimizations`: a message read by several streams is decoded
    once for all of them."""
    from streams.app.worker import TUNING

    TUNING["cython_optimizations"] = True


PATCHES: dict[str, Callable[[], None]] = {
    f.__name__: f for f in (stock_partitioner, stock_handover, buffer_10000, cython_optimizations)
}


def main() -> None:
    for name in filter(None, os.environ.get("BENCH_PATCHES", "").split("+")):
        PATCHES[name]()
    from streams.cli import main as cli

    cli()


if __name__ == "__main__":
    main()
