"""Faust's Prometheus sensor, without its per-message bookkeeping.

Faust calls its sensor eight times for each applied event (message in and out, stream event
in and out, table get and set, two sends started and completed), and each call updates
counters, timings and labelled series. On this worker that was about a tenth of all CPU
(bench --profile). leadscore measures the per-event path itself (streams.app.metrics), so
this sensor keeps what it adds for operators: messages received, the per-partition end and
committed offsets (lag), commit latency and rebalances. The per-message hooks do no more
than Faust itself needs: the time a stream last took an event feeds its stall warnings.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import faust
from aiohttp.web import Response
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.web import Request, View
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

PREFIX = "leadscore_faust"


class LeanPrometheusMonitor(PrometheusMonitor):  # type: ignore[misc]  # faust is untyped
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        self._metrics.messages_received.inc()

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        self.stream_inbound_time[tp] = monotonic()  # read by Faust's slow-stream check

    def on_stream_event_out(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_send_initiated(self, *args: Any, **kwargs: Any) -> None:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None


def install_sensor(app: faust.App) -> None:
    """Mount the lean sensor and serve every registered metric at /metrics."""
    app.monitor = LeanPrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, PREFIX))

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset in content_type=; Faust's own handler sets the header.
            headers = {"Content-Type": CONTENT_TYPE_LATEST}
            return Response(body=generate_latest(REGISTRY), headers=headers)
