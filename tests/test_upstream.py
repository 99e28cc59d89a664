"""The upstream behaviours the overrides in streams/upstream/ rely on or work around, where
no test closer to the override pins them, and the index of streams/upstream/__init__.py.

Each "Upstream behaviour" test fails when Faust or aiokafka changes what the override was
written for: then the override may be able to go (or must change).
"""

from __future__ import annotations

import ast
import inspect
import logging
import re
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiohttp.test_utils import make_mocked_request
from faust.exceptions import PartitionsMismatch
from faust.streams import _current_event
from faust.types import TP
from prometheus_client import CollectorRegistry

import streams.upstream
from streams.api_tokens import new_token
from streams.app.worker import new_app
from streams.settings import Settings
from streams.upstream.sensor import PREFIX, LeanPrometheusMonitor, faust_metrics
from streams.upstream.tables import EventPartitionTable
from streams.upstream.web import LeadscoreWeb

ROOT = Path(__file__).resolve().parent.parent
UPSTREAM = ROOT / "streams" / "upstream"

# --- tables.py ----------------------------------------------------------------------------


class _Event:  # what Faust's current_event() hands a table (weakly referenced)
    def __init__(self, message: Any) -> None:
        self.message = message


def test_faust_tables_ask_the_group_metadata_on_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upstream behaviour EventPartitionTable replaces: a write to a stock faust.Table (not
    in partitioner mode) compares the partition counts of the source topic and the changelog
    in the group's metadata snapshot, which counts a changelog it has not seen yet as 0
    partitions, and raises. When this fails, upstream writes without the snapshot and the
    override can go."""
    settings = Settings(data_dir=tmp_path)
    app = new_app(settings)
    monkeypatch.setattr(
        app.consumer,
        "topic_partitions",
        lambda topic: 0 if topic.endswith("-changelog") else settings.partitions,
    )
    event = _Event(SimpleNamespace(topic="p.leads.forms", partition=2))
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        stock = faust.Table(app, name="stock", partitions=settings.partitions)
        with pytest.raises(PartitionsMismatch):
            stock.partition_for_key(b"key")
        ours = EventPartitionTable(app, name="ours", partitions=settings.partitions)
        assert ours.partition_for_key(b"key") == 2
    finally:
        _current_event.reset(token)


class _Store:  # the one store method Faust's changelog acknowledgement calls
    def __init__(self) -> None:
        self.persisted: dict[TP, int] = {}

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.persisted[tp] = offset


def test_an_acknowledged_changelog_offset_is_persisted_at_once(tmp_path: Path) -> None:
    """A recovery reads the changelog from the store's persisted offset over the local
    store, which is written at once and so may hold a newer value than the changelog (its
    record not sent when the worker died). A persisted offset behind an acknowledged record
    would have the recovery apply that older record and rewind the lead: its later events
    then applied again, perhaps in another order, an alert with other content. So the
    worker's tables keep Faust's way, each acknowledged offset persisted as it arrives
    (persisting them at commits instead was tried, and the fault suite caught the rewind)."""
    app = new_app(Settings(data_dir=tmp_path))
    table = EventPartitionTable(app, name="ours", partitions=6)
    store = _Store()
    table._data = store
    for offset in (5, 9):
        done = SimpleNamespace(topic_partition=TP("c", 1), offset=offset)
        table._on_changelog_sent(SimpleNamespace(result=lambda done=done: done))
        assert store.persisted == {TP("c", 1): offset}


# --- sensor.py ----------------------------------------------------------------------------


def _series_after_per_message_hooks(monitor_class: type) -> set[str]:
    """Names of the metric series a monitor sets while one message is read, one table key
    written and one message sent (prometheus_client's `_created` series left out)."""
    registry = CollectorRegistry()
    monitor = monitor_class(metrics=faust_metrics(registry, PREFIX))
    tp = TP("p.leads.forms", 3)
    monitor.on_message_in(tp, 7, SimpleNamespace())
    monitor.on_table_set(SimpleNamespace(name="leads"), b"lead-1", b"state")
    monitor.on_send_initiated(None, "p.leads.scores", SimpleNamespace(), 6, 40)
    return {
        sample.name
        for family in registry.collect()
        for sample in family.samples
        if sample.value and not sample.name.endswith("_created")
    }


def test_faust_prometheus_sensor_works_on_every_message() -> None:
    """Upstream behaviour LeanPrometheusMonitor works around: Faust's Prometheus sensor
    updates labelled series in its per-message hooks (a message read, a table key set, a
    send started), a tenth of the worker's CPU. When this fails (the stock hooks got
    cheap), the lean sensor can go."""
    stock = _series_after_per_message_hooks(faust.sensors.prometheus.PrometheusMonitor)
    lean = _series_after_per_message_hooks(LeanPrometheusMonitor)
    per_message = {
        f"{PREFIX}_messages_received_per_topic_total",
        f"{PREFIX}_messages_received_per_topics_partition",
        f"{PREFIX}_active_messages",
        f"{PREFIX}_table_operations_total",
        f"{PREFIX}_topic_messages_sent_total",
    }
    assert per_message <= stock
    assert lean == {f"{PREFIX}_messages_received_total"}, "what the lean sensor keeps"


def test_faust_slow_stream_check_reads_stream_inbound_time() -> None:
    """What the lean sensor keeps: Faust's check for stalled streams reads the monitor's
    `stream_inbound_time`, which its stock `on_stream_event_in` sets (the lean one sets
    only that). When this fails, the lean `on_stream_event_in` must keep what the check
    reads instead."""
    from faust.sensors.monitor import Monitor
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    check = inspect.getsource(AIOKafkaConsumerThread.verify_event_path)
    assert "monitor.stream_inbound_time.get(tp)" in check
    assert "self.stream_inbound_time[tp] = monotonic()" in inspect.getsource(
        Monitor.on_stream_event_in
    )
    monitor = LeanPrometheusMonitor(metrics=faust_metrics(CollectorRegistry(), PREFIX))
    tp = TP("p.leads.forms", 1)
    monitor.on_stream_event_in(tp, 5, None, None)
    assert tp in monitor.stream_inbound_time


def test_faust_latency_histograms_are_in_milliseconds() -> None:
    """Upstream behaviour `faust_metrics` works around: Faust's sensor observes latencies
    in milliseconds into histograms named without a unit (or `_ms`), where Prometheus's base
    unit is the second. When this fails, upstream's histograms are in seconds and the
    conversion can go."""
    from faust.sensors.prometheus import MS_LATENCY_BUCKETS, FaustMetrics

    registry = CollectorRegistry()
    FaustMetrics.create(registry, PREFIX)
    histograms = {f.name for f in registry.collect() if f.type == "histogram"}
    assert f"{PREFIX}_events_runtime_ms" in histograms
    assert f"{PREFIX}_consumer_commit_latency" in histograms
    assert not any(name.endswith("_seconds") for name in histograms)
    assert max(MS_LATENCY_BUCKETS) == 10_000  # 10 s, in milliseconds


# --- web.py and app.py ----------------------------------------------------------------------


def test_faust_web_serves_its_index_with_every_page_setting_off(tmp_path: Path) -> None:
    """Upstream behaviour LeadscoreWeb works around: with every `web_*_enabled` setting off
    (as the worker has them), Faust's aiohttp web still mounts a built-in blueprint, its
    index at "/". When this fails, a setting turns it off and the empty blueprint lists can
    go."""
    from faust.web.drivers.aiohttp import Web

    app = new_app(Settings(data_dir=tmp_path))
    index = ("", "faust.web.apps.production_index:blueprint")
    assert index in Web(app)._enabled_blueprints()
    assert Web.default_blueprints and Web.production_blueprints
    assert LeadscoreWeb(app)._enabled_blueprints() == []


async def test_the_worker_web_has_no_builtin_pages_and_checks_tokens(tmp_path: Path) -> None:
    """The worker's app builds its web through Faust's `_new_web`: LeadscoreWeb, with the
    API tokens' middleware before every view (streams/app/access.py)."""
    secret, token = new_token("ops", ["read:leads"])
    app = new_app(Settings(data_dir=tmp_path, api_tokens=[token]))
    assert isinstance(app.web, LeadscoreWeb)
    assert app.web._enabled_blueprints() == []
    [check] = app.web.web_app.middlewares

    async def handler(request: Any) -> Any:
        return "the view"

    refused = await check(make_mocked_request("GET", "/leads/lead-1"), handler)
    assert refused.status == 401
    allowed = make_mocked_request(
        "GET", "/leads/lead-1", headers={"Authorization": f"Bearer {secret}"}
    )
    assert await check(allowed, handler) == "the view"


def test_faust_builds_its_http_client_without_arguments() -> None:
    """Upstream behaviour LeadscoreApp.http_client works around: Faust builds the client its
    router forwards requests with as `conf.HttpClient()`, with no TLS context to trust the
    peers' certificates by. When this fails, upstream takes one and the property can go."""
    source = inspect.getsource(faust.App.http_client.fget)
    assert "self.conf.HttpClient()" in source


# --- worker.py ----------------------------------------------------------------------------


def test_faust_worker_hands_its_root_logger_to_on_setup_root_logger() -> None:
    """The upstream hook LeadscoreWorker uses: the worker sets up logging, then calls
    `on_setup_root_logger` with the root logger (faust.Worker defines it for its spinner).
    When this fails, the hook moved and repeated log lines are no longer quieted."""
    import mode

    assert "on_setup_root_logger" in vars(faust.Worker)
    setup = inspect.getsource(mode.Worker._setup_logging)
    assert "self.on_setup_root_logger(_logging.root, _loglevel)" in setup
    assert issubclass(faust.Worker, mode.Worker)
    assert logging.root is logging.getLogger()


# --- the index ----------------------------------------------------------------------------


def _test_functions() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
        }
    return names


def test_the_index_names_every_module_and_only_tests_that_exist() -> None:
    index = streams.upstream.__doc__ or ""
    modules = {p.name for p in UPSTREAM.glob("*.py")} - {"__init__.py"}
    assert modules, "the overrides live in streams/upstream/"
    assert {m for m in modules if f"{m}:" not in index} == set(), "a module without entry"
    named_tests = set(re.findall(r"(?<![/\w])test_\w+", index))  # not tests/test_x.py
    assert len(named_tests) >= 15
    assert named_tests - _test_functions() == set(), "the index names a test that is gone"
    files = set(re.findall(r"tests/[\w/]+\.py", index))
    assert files and all((ROOT / f).is_file() for f in files)


def test_the_overrides_import_nothing_from_the_worker_app() -> None:
    """streams/app imports streams/upstream, never the reverse (the app hands its own
    middleware and log filter in)."""
    for path in UPSTREAM.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert not {m for m in imported if m.startswith("streams.app")}, path.name
