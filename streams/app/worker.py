"""The Faust app: one agent per concern, one table of lead state, thin web views.

- `score_events`: the input topics (co-partitioned by key) and the internal visitor
  forwards -> Pipeline; two tables: leads, and anonymous visitors.
- `translate_segment`: Segment Spec messages -> contract events on their topics.
- `sweep`: a timer that re-scores owned leads at wall-clock time (decay).
- `watch_model`: every worker reads the whole compacted model topic and swaps
  in each valid model it finds, then re-scores its leads.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import ssl
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import faust
import orjson
from aiokafka import AIOKafkaConsumer
from faust.web import Request, Response, View
from pydantic import BaseModel

from schemas import topics
from schemas.codec import encode
from schemas.topics import Topic
from streams.app import metrics
from streams.app.access import (
    ApiAccess,
    access_middleware,
    peer_ssl_context,
    server_ssl_context,
)
from streams.app.logs import quiet_repeats
from streams.app.pipeline import Pipeline
from streams.app.segment import SegmentTranslator
from streams.app.tables import TableStore
from streams.app.webhook import install_webhook
from streams.core.model import ModelError, ScoringModel
from streams.kafka.admin import check_worker_topics
from streams.kafka.clients import client_kwargs
from streams.kafka.partitioning import key_partitioner, partition_for
from streams.settings import Settings
from streams.upstream.app import LeadscoreApp
from streams.upstream.metadata import back_off_failed_metadata_updates
from streams.upstream.sensor import install_sensor
from streams.upstream.tables import EventPartitionTable
from streams.upstream.worker import LeadscoreWorker

log = logging.getLogger(__name__)

# Faust settings for throughput (the producer's linger is LEADSCORE_PRODUCER_LINGER_MS).
# bench/ measures them, and its raw-client limit uses the same client settings.
TUNING: dict[str, Any] = {
    "producer_max_batch_size": 256 * 1024,
    "stream_buffer_maxsize": 16384,
    "table_key_index_size": 100_000,
    "producer_partitioner": key_partitioner,  # murmur2 as aiokafka's, cached per key
}


def broker_credentials(settings: Settings) -> Any:
    """Faust's credentials object for SSL/SASL clusters (None for PLAINTEXT)."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile)
    if settings.ssl_certfile is not None:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    if proto == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=context if proto == "SASL_SSL" else None,
    )


def app_endpoints(settings: Settings) -> dict[str, Any]:
    """Where a Faust app of these settings connects, keeps its store and serves: the broker
    with its credentials, the store and data dir, the web bind address and port."""
    return {
        "broker": [f"kafka://{h.strip()}" for h in settings.kafka_bootstrap.split(",")],
        "broker_credentials": broker_credentials(settings),
        "store": settings.store,
        "datadir": str(settings.data_dir),
        "web_bind": settings.web_bind,
        "web_port": settings.web_port,
    }


def new_app(settings: Settings) -> faust.App:
    """The Faust app with the worker's settings, before any agent (the bench reuses it)."""
    app = LeadscoreApp(
        settings.app_id,
        **app_endpoints(settings),
        # The server binds web_bind; peers (table routing, GET /leads/{id}) reach this worker
        # at its advertised URL, which must never be 0.0.0.0 (settings.py derives one).
        canonical_url=settings.effective_advertised_url,
        # Only the worker's own pages (/healthz, /readyz, /metrics, /leads/{id}), see
        # LeadscoreWeb. Table writes go to the event's partition, with no metadata lookup
        # (streams/upstream/tables.py).
        Table=EventPartitionTable,
        web_tables_enabled=False,  # would serve raw lead state, personal data included
        web_router_enabled=False,  # cluster topology; table_route does not need it
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        broker_session_timeout=settings.session_timeout_seconds,
        broker_heartbeat_interval=settings.heartbeat_interval_seconds,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        processing_guarantee=settings.processing_guarantee,
        broker_commit_interval=settings.effective_commit_interval,
        producer_linger=settings.producer_linger_ms / 1000.0,
        web_ssl_context=server_ssl_context(settings),
        **TUNING,
    )
    access = ApiAccess(settings.api_tokens, metrics_public=settings.metrics_public)
    app.web_middlewares = (access_middleware(access),)
    if settings.web_ssl_certfile is not None:
        app.peer_ssl = peer_ssl_context(settings)
    return app


def leads_table(app: faust.App, settings: Settings) -> Any:
    """The table of lead state: lead_id -> state bytes (core/state.py), changelogged."""
    return _bytes_table(app, "leads", settings)


def visitors_table(app: faust.App, settings: Settings) -> Any:
    """The table of anonymous visitors: anonymous_id -> state bytes (core/visitors.py):
    views held until a link names the visitor's lead."""
    return _bytes_table(app, "visitors", settings)


def accounts_table(app: faust.App, settings: Settings) -> Any:
    """The table of accounts: account_id -> state bytes (core/accounts.py): each lead's
    latest contribution, on the account's partition."""
    return _bytes_table(app, "accounts", settings)


def history_table(app: faust.App, settings: Settings) -> Any:
    """The table of score histories: lead_id -> the last score changes (core/history.py),
    beside the lead's state on the same partition."""
    return _bytes_table(app, "history", settings)


def _bytes_table(app: faust.App, name: str, settings: Settings) -> Any:
    """A changelogged table of key -> bytes the core encodes, partitioned like its input."""
    return app.Table(
        name,
        default=None,
        partitions=settings.partitions,
        # bytes types select Faust's raw codec (tables default to json): the core encodes.
        key_type=bytes,
        value_type=bytes,
        # The changelog partition is the event's (streams/upstream/tables.py).
        use_partitioner=False,
        options=rocksdb_options(settings),
    )


def rocksdb_options(settings: Settings) -> dict[str, Any]:
    """Faust's RocksDBOptions for each partition's database: small caches and buffers."""
    mib = 2**20
    return {
        "block_cache_size": settings.rocksdb_block_cache_mb * mib,
        "block_cache_compressed_size": settings.rocksdb_block_cache_mb * mib,
        "write_buffer_size": settings.rocksdb_write_buffer_mb * mib,
        "max_write_buffer_number": settings.rocksdb_write_buffers,
        "target_file_size_base": 16 * mib,
    }


def _flush(app: faust.App) -> Callable[[], Awaitable[None]]:
    """The producer's flush: the buffer handed to aiokafka, every message acknowledged
    (asked for when called: the producer is made once the app starts)."""

    async def flush() -> None:
        await app.producer.flush()

    return flush


def create_app(settings: Settings, model: ScoringModel) -> tuple[faust.App, Pipeline]:
    """Build the worker's app; tests build one per unique topic prefix."""
    app = new_app(settings)
    table = leads_table(app, settings)
    visitors = visitors_table(app, settings)
    accounts = accounts_table(app, settings)
    histories = history_table(app, settings)
    # Every topic the pipeline writes: outputs, internal commands, re-routed inputs.
    internal = (topics.RESCORE, topics.VISITORS, topics.CONTRIBUTIONS)
    written = (*topics.OUTPUTS, *internal, *topics.INPUTS)
    outputs = {t: app.topic(settings.topic(t)) for t in written}

    def send(topic: Topic, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        outputs[topic].send_soon(key=key, value=value, partition=partition)

    # exactly_once: each key written once per commit (TableStore, LEADSCORE_STATE_WRITES).
    checkpointed = settings.effective_state_writes == "per_commit"
    stores = [
        TableStore(t, settings.partitions, checkpointed=checkpointed)
        for t in (table, visitors, accounts, histories)
    ]
    lead_store, visitor_store, account_store, history_store = stores
    pipeline = Pipeline(
        topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        max_message_bytes=settings.max_message_bytes,
        max_future_skew_seconds=settings.max_future_skew_seconds,
        model=model,
        send=send,
        store=lead_store,
        visitor_store=visitor_store,
        account_store=account_store,
        history_store=history_store,
        visitor_max_views=settings.visitor_max_views,
        visitor_max_age_seconds=settings.visitor_max_age_days * 86400,
        exactly_once=settings.processing_guarantee == "exactly_once",
        # at_least_once: a state whose removal or forget commands it cannot send again waits
        # for them to be acknowledged (Pipeline.publish); exactly_once commits them together.
        flush=None if settings.processing_guarantee == "exactly_once" else _flush(app),
    )
    # exactly_once: the pipeline learns which offsets committed, and the kept table writes
    # go into each transaction right before it commits (upstream/transactions.py calls
    # these).
    cast(Any, app).transactions_committed = [pipeline.committed]
    cast(Any, app).before_commit = [s.checkpoint for s in stores] if checkpointed else []
    rescore = outputs[topics.RESCORE]  # co-partitioned with the inputs
    source_topics = {*pipeline.inputs, rescore.get_topic_name()}

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # Partitions change hands: drop decoded states (kept writes wait for the commit).
        pipeline.forget_states()

    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        # The table is recovered: drop decoded states, and kept writes of partitions gone.
        pipeline.forget_states()
        assigned = args[0]  # Faust sends the assigned partitions positionally
        mine = {tp.partition for tp in assigned if tp.topic in source_topics}
        for store in stores:
            store.forget_unwritten(mine)

    app.on_partitions_revoked.connect(on_revoked)
    app.on_partitions_assigned.connect(on_assigned)
    source = app.topic(*pipeline.inputs, rescore.get_topic_name())

    @app.agent(source, name="score_events")
    async def score_events(stream: faust.StreamT[bytes]) -> None:
        # One stream for events and rescore commands: one lead's updates never interleave.
        async for event in stream.events():
            if event.message.topic in pipeline.inputs:
                pipeline.handle(event.message)
            else:
                pipeline.handle_rescore(event.message)
            await pipeline.settle()

    translator = SegmentTranslator(
        partitions=settings.partitions, max_message_bytes=settings.max_message_bytes, send=send
    )

    @app.agent(app.topic(settings.topic(topics.SEGMENT)), name="translate_segment")
    async def translate_segment(stream: faust.StreamT[bytes]) -> None:
        # Stateless: Segment messages become contract events on their own topics.
        async for event in stream.events():
            translator.handle(event.message)

    def request_rescore(reason: str, as_of: datetime | None) -> None:
        command = orjson.dumps({"reason": reason, "as_of": as_of and as_of.isoformat()})
        for partition in owned_partitions(app, rescore.get_topic_name()):
            rescore.send_soon(key=b"rescore", value=command, partition=partition)

    async def sweep() -> None:
        request_rescore("decay sweep", datetime.now(UTC))

    async def watch_model() -> None:
        await _watch_model(
            settings, pipeline, lambda: request_rescore("new model", datetime.now(UTC))
        )

    # Faust's decorators are untyped; applied as calls they keep our functions typed.
    if settings.sweep_interval_seconds > 0:
        app.timer(settings.sweep_interval_seconds, name="sweep")(sweep)

    async def keep_ready_current() -> None:
        await report_readiness(app)

    app.task(watch_model)
    app.task(keep_ready_current)

    _add_web(app, table, accounts, pipeline)
    install_sensor(app)
    if settings.webhook_url:
        install_webhook(app, settings)
    return app, pipeline


def owned_partitions(app: faust.App, topic: str) -> list[int]:
    """Partitions of `topic` assigned to this worker right now."""
    return sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)


async def _watch_model(
    settings: Settings, pipeline: Pipeline, on_change: Callable[[], None]
) -> None:
    """Follow the compacted model topic from its start; a bad model is refused."""
    # No group: every worker reads every partition of the model topic from the start.
    consumer = AIOKafkaConsumer(
        settings.topic(topics.MODEL),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_kwargs(settings),
    )
    await consumer.start()
    try:
        async for record in consumer:
            if _try_model(record.value, pipeline):
                on_change()
    finally:
        await consumer.stop()


def _try_model(raw: bytes | None, pipeline: Pipeline) -> bool:
    """Swap in a valid new model; True when the model in force changed."""
    if not raw:
        return False
    try:
        model = ScoringModel.parse_text(raw.decode("utf-8", "replace"), "leads.model")
    except ModelError as exc:
        log.error("model refused, keeping %s: %s", pipeline.model.model_version, exc)
        metrics.MODEL_REJECTED.inc()
        return False
    if model == pipeline.model:
        return False
    log.info("model %s -> %s", pipeline.model.model_version, model.model_version)
    pipeline.set_model(model)
    return True


def _add_web(app: faust.App, table: Any, accounts: Any, pipeline: Pipeline) -> None:
    @app.page("/healthz")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/readyz")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ready = update_ready(app)
            return self.json({"ready": ready}, status=200 if ready else 503)

    # Answered here when this worker owns the key, else forwarded to the owner.
    partitions = pipeline.partitions

    @app.page("/leads/{lead_id}")
    class Lead(View):
        get = _owner_lookup(app, table, partitions, "lead_id", pipeline.current, "unknown lead")

    @app.page("/leads/{lead_id}/history")
    class History(View):
        get = _owner_lookup(app, table, partitions, "lead_id", pipeline.history, "no history")

    @app.page("/accounts/{account_id}")
    class Account(View):
        get = _owner_lookup(
            app, accounts, partitions, "account_id", pipeline.current_account, "unknown account"
        )


ROUTED_HEADER = "X-Leadscore-Routed"  # set on a forwarded request: it is never forwarded again
FORWARDED_HEADERS = ("Authorization", "Accept")  # the caller's token goes with the request


def _owner_lookup(
    app: faust.App,
    table: Any,
    partitions: int,
    key: str,
    current: Callable[[str], BaseModel | None],
    missing: str,
) -> Any:
    """A GET view answering `current(key)` as JSON (404 with `missing` when None) on the
    worker that owns the key's partition of `table`, forwarding the request there otherwise.

    The owner comes from the group's assignment (Faust's router metadata) and the key's
    murmur2 partition, not from Faust's table_route, whose lookup reads the producer's topic
    metadata and fails (500) while the producer has none for the changelog yet.
    """
    changelog = table.changelog_topic.get_topic_name()

    async def get(view: View, request: Request, **match: str) -> Response:
        value = match[key]
        owner = _owner_url(app, table.name, changelog, partition_for(value, partitions))
        if owner is None:
            return view.json({"error": "no worker owns this key yet: retry"}, status=503)
        if not _is_me(app, owner):
            if request.headers.get(ROUTED_HEADER):
                return view.json({"error": "the key is changing hands: retry"}, status=503)
            return await _forward(app, view, request, owner)
        found = current(value)
        if found is None:
            return view.json({"error": missing}, status=404)
        return view.bytes(encode(found), content_type="application/json")

    return get


def _owner_url(app: faust.App, table_name: str, changelog: str, partition: int) -> str | None:
    for url, owned in app.router.table_metadata(table_name).items():
        if partition in owned.get(changelog, ()):
            return str(url)
    return None


def _is_me(app: faust.App, url: str) -> bool:
    mine, theirs = urlsplit(str(app.conf.canonical_url)), urlsplit(url)
    return (mine.hostname, mine.port) == (theirs.hostname, theirs.port)


async def _forward(app: faust.App, view: View, request: Request, owner: str) -> Response:
    # The path as received (still percent-encoded), on the owner's advertised URL.
    target = str(owner).rstrip("/") + cast(Any, request).url.raw_path_qs
    headers = {h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers}
    headers[ROUTED_HEADER] = "1"
    try:
        async with app.http_client.get(target, headers=headers) as answer:
            body = await answer.read()
            kind = answer.content_type
            return view.bytes(body, content_type=kind, status=answer.status)
    except (aiohttp.ClientError, TimeoutError):
        log.warning("the owner of a key did not answer a forwarded request")
        return view.json({"error": "the owning worker did not answer: retry"}, status=503)


def is_ready(app: faust.App) -> bool:
    """Joined the group and recovered the tables, and no rebalance under way.

    Faust completes table recovery only after the group assigned partitions (possibly
    none, when there are more workers than partitions), so recovery implies joined.
    """
    started = bool(app.producer.started)
    recovered = bool(cast(Any, app.tables).recovery.completed.is_set())
    return started and recovered and not app.rebalancing


# How often the worker refreshes leadscore_ready itself (Prometheus scrapes every 15 s or so).
READY_INTERVAL_SECONDS = 1.0


def update_ready(app: faust.App) -> bool:
    """is_ready(app), also set on the leadscore_ready gauge."""
    ready = is_ready(app)
    metrics.READY.set(1 if ready else 0)
    return ready


async def report_readiness(app: faust.App, interval: float = READY_INTERVAL_SECONDS) -> None:
    """Keep the leadscore_ready gauge current without a prober: /readyz sets it too, but a
    worker nobody probes (compose, a bare process) would report 0 for ever. A plain loop
    rather than app.timer, whose drift notices would log every busy second; it runs until
    the worker stops (Faust cancels its tasks)."""
    while True:
        update_ready(app)
        await asyncio.sleep(interval)


def new_worker(app: faust.App, settings: Settings) -> LeadscoreWorker:
    """The Faust worker running `app`, its repeated log lines quieted (streams/app/logs.py)."""
    return LeadscoreWorker(
        app, loglevel=settings.log_level, redirect_stdouts=False, on_root_logger=quiet_repeats
    )


def forget_local_state(tables: Path) -> None:
    """exactly_once: start from the committed changelog, never from the local store.

    The local store keeps writes whose transaction a crash aborted; a lead read from it
    would be ahead of what consumers saw, and this process could not tell which of its
    duplicates still owe their outputs. The price: every start replays the changelog.
    Only the app's table folder goes (Faust's tabledir), never the rest of the data dir.
    """
    if tables.exists():
        log.info("exactly_once: local state is rebuilt from the committed changelog")
        shutil.rmtree(tables)


def run_worker(settings: Settings, preflight: AbstractContextManager[object] | None = None) -> None:
    """Start a worker in the foreground (the `leadscore worker` command).

    `preflight` wraps the start-up checks against the broker, and only those: the command
    passes one that turns an unreachable broker or refused credentials into one line.
    """
    model = ScoringModel.load(settings.model_path)
    back_off_failed_metadata_updates()
    with preflight or nullcontext():
        asyncio.run(check_worker_topics(settings))
    app, _ = create_app(settings, model)
    if settings.processing_guarantee == "exactly_once":
        forget_local_state(Path(app.conf.tabledir))
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = new_worker(app, settings)
    # At DEBUG, Faust logs every message it sends (key and value) and aiokafka whole protocol
    # requests and responses: personal data. LEADSCORE_LOG_LEVEL=DEBUG is for our own code;
    # these libraries stay at INFO or above.
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    for library in ("faust", "mode", "aiokafka"):
        logging.getLogger(library).setLevel(max(level, logging.INFO))
    # Start-up objects (Faust, aiokafka, pydantic schemas) are kept out of the collector's
    # way: without this every full collection walks them again while events stream.
    gc.collect()
    gc.freeze()
    worker.execute_from_commandline()
