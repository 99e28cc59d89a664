"""The Quix Streams peer: the floor's stateful job (per key: read the state, write it,
send one output) as a Quix Streams application, for the bench's like-for-like table.

It runs in its own virtualenv (`make quix`: quixstreams pinned there, confluent-kafka
under it), so it imports nothing of leadscore. Quix's defaults apply (commit every 5 s,
state in RocksDB with a changelog topic written at each checkpoint); the consumer starts
from the earliest offsets of the inputs, as the workers do.

    python bench/quix_peer.py BOOTSTRAP GROUP OUTPUT TOTAL STATE_DIR INPUT...

Prints one JSON line: {"consumed": N, "cpu_s": seconds of process CPU time, "version": ...}.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import quixstreams
from quixstreams import Application, State


def remember(value: bytes, state: State) -> None:
    """The state write of a stateful job: the key's previous value read, the new one kept."""
    state.get("last")
    state.set("last", value.decode("utf-8", "replace"))


def main(argv: list[str]) -> None:
    bootstrap, group, output, total, state_dir, *inputs = argv
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    out = app.topic(output, key_serializer="bytes", value_serializer="bytes")
    for name in inputs:
        topic = app.topic(name, key_deserializer="bytes", value_deserializer="bytes")
        sdf = app.dataframe(topic)
        sdf = sdf.update(remember, stateful=True)
        sdf.to_topic(out)
    started = time.process_time()
    app.run(count=int(total), timeout=600.0, collect=False)
    result: dict[str, Any] = {
        "consumed": int(total),
        "cpu_s": time.process_time() - started,
        "version": quixstreams.__version__,
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
