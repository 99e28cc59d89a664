"""Faust's Prometheus sensor, without its per-message bookkeeping.

Faust calls its sensor eight times for each applied event (message in and out, stream event
in and out, table get and set, two sends started and completed), and each call updates
counters, timings and labelled series. On this worker that was about a tenth of all CPU
(bench --profile). leadscore measures the per-event path itself (streams.app.metrics), so
this sensor keeps what it adds for operators: messages received, the per-partition end and
committed offsets (lag), commit latency and rebalances. The per-message hooks do no more
than Faust itself needs: the time a stream last took an event feeds its stall warnings.

Faust times its latencies in milliseconds; Prometheus's base unit is the second, so each of
its latency histograms is replaced by one in seconds, named `..._seconds`
(`faust_metrics`; `promtool check metrics` passes on the worker's /metrics).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import faust
from aiohttp.web import Response
from faust.sensors.prometheus import MS_LATENCY_BUCKETS, FaustMetrics, PrometheusMonitor
from faust.web import Request, View
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)

PREFIX = "leadscore_faust"

# Faust's latency histograms (FaustMetrics field -> name after the prefix, help), each
# observed in milliseconds by Faust and exposed here in seconds. Faust's own names were
# `events_runtime_ms` and, for the others, these names without `_seconds`.
SECONDS_HISTOGRAMS: dict[str, tuple[str, str]] = {
    "events_runtime_latency": ("events_runtime_seconds", "Events runtime"),
    "producer_send_latency": ("producer_send_latency_seconds", "Producer send latency"),
    "producer_error_send_latency": (
        "producer_error_send_latency_seconds",
        "Producer error send latency",
    ),
    "assign_latency": ("assign_latency_seconds", "Assignment latency"),
    "rebalance_done_consumer_latency": (
        "rebalance_done_consumer_latency_seconds",
        "Consumer replying that rebalance is done to broker",
    ),
    "rebalance_done_latency": ("rebalance_done_latency_seconds", "Rebalance finished latency"),
    "http_latency": ("http_latency_seconds", "Http response latency"),
    "consumer_commit_latency": ("consumer_commit_latency_seconds", "Consumer commit latency"),
}
SECONDS_BUCKETS = tuple(ms / 1000 for ms in MS_LATENCY_BUCKETS)  # 5 ms to 10 s, as Faust's


class MsAsSeconds:
    """A histogram in seconds that Faust's sensor feeds with milliseconds."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def observe(self, milliseconds: float) -> None:
        self.histogram.observe(milliseconds / 1000)


def faust_metrics(registry: CollectorRegistry = REGISTRY, prefix: str = PREFIX) -> Any:
    """Faust's sensor metrics registered in `registry`, its latency histograms in seconds."""
    metrics = FaustMetrics.create(registry, prefix)
    seconds: dict[str, Any] = {}  # FaustMetrics declares Histogram; any .observe() does
    for field, (name, help_text) in SECONDS_HISTOGRAMS.items():
        registry.unregister(getattr(metrics, field))
        histogram = Histogram(
            f"{prefix}_{name}",
            f"{help_text} in seconds",
            registry=registry,
            buckets=SECONDS_BUCKETS,
        )
        seconds[field] = MsAsSeconds(histogram)
    return metrics._replace(**seconds)


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
    app.monitor = LeanPrometheusMonitor(metrics=faust_metrics(REGISTRY, PREFIX))

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset in content_type=; Faust's own handler sets the header.
            headers = {"Content-Type": CONTENT_TYPE_LATEST}
            return Response(body=generate_latest(REGISTRY), headers=headers)
