"""Metric names and units: Faust's latency histograms in seconds, no `_created` series.
(tests/test_prometheus_scrape.py runs `promtool check metrics` on a real worker's /metrics.)"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest

from streams.app import metrics  # noqa: F401  (importing it turns `_created` series off)
from streams.upstream.sensor import PREFIX, SECONDS_HISTOGRAMS, faust_metrics


def test_faust_latency_histograms_are_in_seconds() -> None:
    registry = CollectorRegistry()
    sensor = faust_metrics(registry, PREFIX)
    histograms = {f.name for f in registry.collect() if f.type == "histogram"}
    assert histograms == {f"{PREFIX}_{name}" for name, _ in SECONDS_HISTOGRAMS.values()}
    assert all(name.endswith("_seconds") for name in histograms)
    sensor.consumer_commit_latency.observe(250.0)  # Faust observes milliseconds
    text = generate_latest(registry).decode()
    assert f"{PREFIX}_consumer_commit_latency_seconds_sum 0.25" in text
    assert f'{PREFIX}_consumer_commit_latency_seconds_bucket{{le="0.25"}} 1.0' in text
    assert f"{PREFIX}_consumer_commit_latency " not in text and "_ms_" not in text
    # Faust's other series keep their names (rules and dashboards read them).
    assert f"{PREFIX}_topic_partition_offset_commited" in text
    assert f"{PREFIX}_messages_received_total" in text


def test_no_created_series() -> None:
    registry = CollectorRegistry()
    Counter("hygiene_probe", "a counter", ["kind"], registry=registry).labels("a").inc()
    text = generate_latest(registry).decode()
    assert "hygiene_probe_total" in text and "_created" not in text
