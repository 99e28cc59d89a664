"""Faust's own floor for leadscore's shape: the worker's app with the processing taken out.

Same broker settings and TUNING, same RocksDB table (raw bytes, use_partitioner), same
Prometheus sensors, one agent over the input topics; per message it does the I/O of an
applied event and nothing else: read the lead's table entry, write it back (a changelog
message), send one message to the scores topic. What the real worker does beyond this is
leadscore's code; what this costs is Faust's.

The table values and score messages are padded to the sizes the real worker writes
(BENCH_FLOOR_STATE_BYTES, BENCH_FLOOR_SCORE_BYTES: the run's median state blob and score
message), so the floor moves as many bytes through RocksDB and Kafka as the worker does.

With BENCH_FLOOR_STOCK=1 the same agent runs on stock Faust instead (`stock_app`: its
own App and Table classes and default settings, no sensors): the gap between the two is
what leadscore's Faust settings and subclasses cost or save.

Run as `python -m bench.floor` with the worker's LEADSCORE_* environment.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import faust
from faust.web import Request, Response, View

from schemas.topics import INPUTS, SCORES
from streams.app.worker import app_endpoints, is_ready, leads_table, new_app
from streams.settings import Settings
from streams.upstream.sensor import install_sensor


def stock_app(settings: Settings) -> tuple[faust.App, Any]:
    """Faust as it comes: its App, Table and settings' defaults, no sensors; only what the
    bench needs to run it (broker, store, ports, raw bytes, partitions, offsets reset)."""
    app = faust.App(
        settings.app_id,
        **app_endpoints(settings),
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
    )
    # Bytes in, bytes out, as the job's values are (tables default to json).
    table = app.Table("leads", partitions=settings.partitions, key_type=bytes, value_type=bytes)
    return app, table


def create_floor_app(settings: Settings) -> faust.App:
    stock = os.environ.get("BENCH_FLOOR_STOCK") == "1"
    if stock:
        app, table = stock_app(settings)
    else:
        app = new_app(settings)
        table = leads_table(app, settings)
    scores = app.topic(settings.topic(SCORES))
    source = app.topic(*(settings.topic(t) for t in INPUTS))
    state_bytes = int(os.environ.get("BENCH_FLOOR_STATE_BYTES", "0"))
    score_bytes = int(os.environ.get("BENCH_FLOOR_SCORE_BYTES", "0"))

    def sized(value: bytes, size: int) -> bytes:
        if size <= 0 or not value:
            return value
        return (value * (size // len(value) + 1))[:size]

    async def io_only(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            key = message.key or b""
            value = message.value or b""
            table.data.get(key)
            table[key] = sized(value, state_bytes)
            scores.send_soon(key=key, value=sized(value, score_bytes))

    app.agent(source, name="score_events")(io_only)

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ready = is_ready(app)
            return self.json({"ready": ready}, status=200 if ready else 503)

    if not stock:
        install_sensor(app)
    return app


def main() -> None:
    settings = Settings()
    app = create_floor_app(settings)
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = faust.Worker(app, loglevel=settings.log_level, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
