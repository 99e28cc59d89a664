"""`leadscore demo`: a broker, a worker, a minute of realistic traffic, live scores and alerts.

What it does, in order:
1. uses the broker at LEADSCORE_KAFKA_BOOTSTRAP, or starts the local one (streams.tools.broker)
   when nothing answers at the default address;
2. creates the contract topics under a fresh prefix `demo-<6 hex>.` (the worker's app id and
   Faust's changelog topics share it). A fresh prefix per run, rather than a fixed `demo.`
   reset each time, because Kafka deletes topics asynchronously: re-creating a just-deleted
   name fails or races, and a reused compacted scores topic or consumer group would replay
   the previous run. Fresh names make every run independent, let two demos share a broker,
   and are deleted at the end;
3. starts a worker process and waits for its /readyz, and the web console (`leadscore
   console`, in this process) on LEADSCORE_CONSOLE_PORT (another free port when taken),
   whose URL it prints;
4. streams simulated traffic (streams.tools.simulate) for --duration seconds at --rate msg/s while
   following leads.scores and leads.alerts with the `leadscore tail` view (a live table on a
   terminal, plain periodic lines otherwise);
5. waits for the worker to catch up, prints a summary read from the worker's /metrics and
   the view; on a terminal the console and the worker stay up until Ctrl-C (--linger);
   then cleans up what it started (worker, topics, data dir, and the broker only if the
   demo started it), unless --keep-running.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client.parser import text_string_to_metric_families

from schemas.outputs import AccountScore, ScoreUpdate
from schemas.topics import BY_NAME
from streams.console.board import ConsoleBoard
from streams.kafka.admin import admin_client, create_topics, probe_broker
from streams.settings import Settings
from streams.tools.broker import DEFAULT_BOOTSTRAP, LocalKafka, LocalKafkaError
from streams.tools.console import run_console
from streams.tools.simulate.faults import Faults
from streams.tools.simulate.generator import generate
from streams.tools.simulate.output import SendStats, send_to_kafka
from streams.tools.tail import Board, View, factors_text, follow, stop_on_signals
from streams.tools.worker_process import WorkerError, WorkerProcess, free_port, port_free

DEMO_DIR = Path("var/demo")
EVENTS_PER_LEAD = 12  # the population size follows the traffic: about 12 messages per lead
DRAIN_TIMEOUT = 60.0  # seconds to wait for the worker to process what was sent
METRICS_EVERY = 2.0


# --- the worker's counters ---------------------------------------------------------------


@dataclass
class WorkerCounts:
    """leadscore's business counters as read from a worker's /metrics."""

    outcomes: Counter[str] = field(default_factory=Counter)  # applied, duplicate, dead_letter...
    dead_letters: Counter[str] = field(default_factory=Counter)  # by reason
    alerts: Counter[str] = field(default_factory=Counter)  # by threshold
    score_updates: int = 0
    republished: Counter[str] = field(default_factory=Counter)  # outputs re-sent for duplicates

    @property
    def processed(self) -> int:
        """Input messages with a final outcome (a re-routed one is counted where it lands)."""
        return sum(n for k, n in self.outcomes.items() if k != "rerouted")


def parse_counts(text: str) -> WorkerCounts:
    counts = WorkerCounts()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            value, labels = int(sample.value), sample.labels
            if sample.name == "leadscore_events_total":
                topic = BY_NAME.get(labels["topic"])
                if topic is not None and topic.direction == "internal":
                    continue  # the worker's own forwards and contributions, not the demo's
                counts.outcomes[labels["outcome"]] += value
            elif sample.name == "leadscore_dead_letters_total":
                counts.dead_letters[labels["reason"]] += value
            elif sample.name == "leadscore_alerts_total":
                counts.alerts[labels["threshold"]] += value
            elif sample.name == "leadscore_score_updates_total":
                counts.score_updates += value
            elif sample.name == "leadscore_republished_total":
                counts.republished[labels["kind"]] += value
    return counts


async def read_counts(worker: WorkerProcess) -> WorkerCounts | None:
    status, body = await asyncio.to_thread(worker.get, "/metrics")
    return parse_counts(body.decode()) if status == 200 else None


# --- the run -----------------------------------------------------------------------------


@dataclass
class DemoResult:
    sent: SendStats
    board: Board
    console: ConsoleBoard
    counts: WorkerCounts
    caught_up: bool
    seconds_to_process: float  # from the first message sent to the worker caught up


async def stream(
    settings: Settings,
    worker: WorkerProcess,
    *,
    seed: int,
    leads: int,
    events: int | None,
    duration: float,
    rate: float,
    top: int,
    every: float,
    live: bool | None = None,
    linger: bool = False,
) -> DemoResult:
    """Simulate, follow the outputs on a view and on the console, then wait for the worker
    to catch up (and, lingering, for Ctrl-C while people look at the console)."""
    board, stop, sending = Board(), asyncio.Event(), asyncio.Event()
    console, console_stop, lingering = ConsoleBoard(), asyncio.Event(), asyncio.Event()
    latest = WorkerCounts()
    started = time.monotonic()
    sent = SendStats()

    def header() -> str:
        phase = "sending" if not sending.is_set() else "waiting for the worker"
        if lingering.is_set():
            phase = "done: the console stays up, Ctrl-C ends the demo"
        return (
            f"leadscore demo · console {settings.console_url} · "
            f"t+{time.monotonic() - started:.0f}s "
            f"of {duration:.0f}s · {phase} · sent {sent.sent} · worker processed "
            f"{latest.processed}"
        )

    def count(_event: object) -> None:
        sent.sent += 1

    async def poll() -> None:
        nonlocal latest
        while not stop.is_set():
            fresh = await read_counts(worker)
            if fresh is not None:
                latest = fresh
            await asyncio.sleep(METRICS_EVERY)

    traffic = generate(seed, leads, events, faults=Faults())
    with stop_on_signals(stop), View(board, top=top, live=live, every=every, header=header) as view:
        tail = asyncio.create_task(
            follow(settings, view.message, from_beginning=True, stop=stop, on_idle=view.refresh)
        )
        poller = asyncio.create_task(poll())
        web = asyncio.create_task(run_console(settings, console_stop, board=console))
        stats = await send_to_kafka(
            settings, traffic, rate=rate, duration=duration, on_sent=count, stop=stop
        )
        sending.set()
        caught_up, final = await _drain(worker, stats.sent, stop)
        seconds = time.monotonic() - started
        await _settle(lambda: (len(board.scores), len(console.leads)), stop)
        if linger and not stop.is_set():
            lingering.set()
            view.refresh(force=True)
            await stop.wait()
        stop.set()
        console_stop.set()
        await asyncio.gather(tail, poller, web)
        view.refresh(force=True)
    return DemoResult(stats, board, console, final, caught_up, seconds)


async def _settle(sizes: Callable[[], tuple[int, int]], stop: asyncio.Event) -> None:
    """Until the view and the console show as many leads as each other and neither has
    changed for a second (both tail the scores topic on their own), 10 s at most."""
    deadline = time.monotonic() + 10
    last, since = sizes(), time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = sizes()
        if now != last:
            last, since = now, time.monotonic()
        elif now[0] == now[1] and time.monotonic() - since >= 1.0:
            return


async def _drain(
    worker: WorkerProcess, sent: int, stop: asyncio.Event
) -> tuple[bool, WorkerCounts]:
    deadline = time.monotonic() + DRAIN_TIMEOUT
    counts = WorkerCounts()
    while not stop.is_set():
        counts = await read_counts(worker) or counts
        if counts.processed >= sent:
            return True, counts
        if time.monotonic() > deadline or not worker.alive():
            break
        await asyncio.sleep(0.5)
    return False, counts


# --- summary -----------------------------------------------------------------------------


def summary(result: DemoResult, seed: int) -> str:
    s, c = result.sent, result.counts
    faults = ", ".join(
        f"{s.by_fault[k]} {k.replace('_', ' ')}" for k in ("duplicate", "out_of_order", "malformed")
    )
    outcomes = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(c.outcomes.items()))
    reasons = ", ".join(f"{k} {n}" for k, n in sorted(c.dead_letters.items())) or "none"
    alerts = ", ".join(f"{k} {n}" for k, n in sorted(c.alerts.items())) or "none"
    board = result.board
    throughput = c.processed / result.seconds_to_process if result.seconds_to_process else 0.0
    # A redelivered event re-sends the lead's outputs (crash safety): same content, not new.
    again = f" (+{c.republished['score']} re-sent for duplicates)" if c.republished else ""
    behind = "" if result.caught_up else f" (still behind: {s.sent - c.processed} unprocessed)"
    lines = [
        "== leadscore demo summary ==",
        f"events sent:      {s.sent} in {s.elapsed:.1f} s ({s.rate:,.0f} msg/s) for "
        f"{len(s.lead_ids)} leads (seed {seed})",
        f"faults injected:  {faults}",
        f"worker processed: {c.processed}{behind}: {outcomes}",
        f"throughput:       {throughput:,.0f} events/s end to end "
        f"({result.seconds_to_process:.1f} s from first send to all processed)",
        f"dead letters:     {reasons}",
        f"score updates:    {c.score_updates} published{again}, "
        f"{len(result.board.scores)} leads scored",
        f"alerts:           {alerts}",
        f"accounts:         {len(board.accounts)} scored, "
        f"{board.counts['account_alerts']} account alerts",
        f"console:          {len(result.console.leads)} leads on the leaderboard, "
        f"{result.console.alerts_seen} alerts in its feed",
        "top 5 leads:",
    ]
    lines += [f"  {i}. {_lead_line(u)}" for i, u in enumerate(board.top(5), 1)]
    lines.append("top 3 accounts:")
    lines += [f"  {i}. {_account_line(a)}" for i, a in enumerate(board.top_accounts(3), 1)]
    return "\n".join(lines)


def _account_line(a: AccountScore) -> str:
    roles = ", ".join(a.roles) or "no roles"
    return (
        f"{a.account_id}  score {a.score}  {a.stage}  {a.people} people "
        f"({a.engaged_people} engaged; {roles})"
    )


def _lead_line(u: ScoreUpdate) -> str:
    why = factors_text(u, 3)
    flags = f" flags={','.join(u.bot_flags)}" if u.bot_flags else ""
    return f"{u.lead_id}  score {u.score}  grade {u.grade}  {u.stage}{flags}  why: {why}"


# --- setup and cleanup -------------------------------------------------------------------


def ensure_broker(settings: Settings, say: Callable[[str], None]) -> LocalKafka | None:
    """The LocalKafka the demo started (to stop at the end), or None if one was running."""
    if asyncio.run(probe_broker(settings)) is not None:
        return None
    if settings.kafka_bootstrap != DEFAULT_BOOTSTRAP:
        raise LocalKafkaError(
            f"no Kafka broker answers at LEADSCORE_KAFKA_BOOTSTRAP={settings.kafka_bootstrap}"
        )
    say("no broker answers: starting the local one (first run: Maven fetches the jars)")
    local = LocalKafka(say=say)
    return local if local.up().started else None


def demo_settings(base: Settings, prefix: str, data_dir: Path) -> Settings:
    return base.model_copy(
        update={
            "topic_prefix": prefix,
            "app_id": f"{prefix}leadscore",
            "data_dir": data_dir,
            "web_bind": "127.0.0.1",
            "web_port": free_port(),
            "console_port": base.console_port if port_free(base.console_port) else free_port(),
        }
    )


async def delete_prefixed_topics(settings: Settings) -> int:
    """Delete the run's topics, Faust's changelogs included (they share the prefix)."""
    async with admin_client(settings) as admin:
        doomed = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix)]
        if doomed:
            await admin.delete_topics(doomed)
    return len(doomed)


def demo(
    duration: Annotated[float, typer.Option(min=1.0, help="Seconds of simulated traffic")] = 60.0,
    rate: Annotated[float, typer.Option(min=1.0, help="Messages per second")] = 200.0,
    leads: Annotated[
        int | None, typer.Option(min=1, help="Leads (default: one per 12 messages)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Simulation seed (default: random)")] = None,
    top: Annotated[int, typer.Option(min=1, help="Leads shown in the live table")] = 10,
    every: Annotated[
        float, typer.Option(min=0.5, help="Seconds between plain status lines (no terminal)")
    ] = 5.0,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the worker, topics and broker up")
    ] = False,
    linger: Annotated[
        bool | None,
        typer.Option(
            "--linger/--no-linger",
            help="After the traffic, keep the console up until Ctrl-C [default: on a terminal]",
        ),
    ] = None,
) -> None:
    """Broker (if needed), worker, simulated traffic, live scores and alerts, summary.

    Cleans up what it started unless --keep-running; without a terminal it prints plain
    status lines instead of the live view.
    """
    from pydantic import ValidationError

    say = typer.echo
    try:
        base = Settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid LEADSCORE_* settings: {exc}", err=True)
        raise typer.Exit(2) from None
    seed = secrets.randbelow(2**31) if seed is None else seed
    events = int(rate * duration)
    leads = leads or max(20, events // EVENTS_PER_LEAD)
    prefix = f"demo-{secrets.token_hex(3)}."
    run_dir = (DEMO_DIR / prefix.rstrip(".")).resolve()
    settings = demo_settings(base, prefix, run_dir / "data")
    broker: LocalKafka | None = None
    worker = WorkerProcess(settings, run_dir / "worker.log", new_session=True)
    ok = False
    try:
        broker = ensure_broker(base, say)
        asyncio.run(create_topics(settings))
        say(f"topics created under {prefix}; starting a worker (log: {worker.log_path})")
        began = time.monotonic()
        worker.start(timeout=120.0)
        say(f"worker pid {worker.pid} ready after {time.monotonic() - began:.1f} s at {worker.url}")
        say(f"console at {settings.console_url} (open it in a browser)")
        say(f"streaming {events} messages from {leads} leads at {rate:g} msg/s for {duration:g} s")
        linger = sys.stdout.isatty() if linger is None else linger
        result = asyncio.run(
            stream(settings, worker, seed=seed, leads=leads, events=events,
                   duration=duration, rate=rate, top=top, every=every, linger=linger)
        )  # fmt: skip
        say(summary(result, seed))
        if not worker.alive():  # a crashed worker must fail the run, in CI above all
            raise WorkerError(f"the worker exited during the demo:\n{worker.tail()}")
        ok = True
    except (LocalKafkaError, WorkerError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        _clean_up(settings, worker, broker, run_dir, keep_running, ok, say)


def _clean_up(
    settings: Settings,
    worker: WorkerProcess,
    broker: LocalKafka | None,
    run_dir: Path,
    keep_running: bool,
    ok: bool,
    say: Callable[[str], None],
) -> None:
    if keep_running:
        say(
            f"kept running: worker pid {worker.pid} ({worker.url}), topics under "
            f"{settings.topic_prefix}\n  watch:  LEADSCORE_TOPIC_PREFIX={settings.topic_prefix} "
            f"leadscore tail --from-beginning\n  console: LEADSCORE_TOPIC_PREFIX="
            f"{settings.topic_prefix} LEADSCORE_CONSOLE_API_URL={worker.url} leadscore console"
            f"\n  stop:   kill {worker.pid}"
        )
        return
    worker.stop()
    try:
        deleted = asyncio.run(delete_prefixed_topics(settings))
        say(f"cleaned up: worker stopped, {deleted} topics deleted")
    except Exception as exc:  # cleanup must not hide the run's own outcome
        typer.echo(f"warning: could not delete the demo topics: {exc}", err=True)
    if ok:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        typer.echo(f"worker log kept: {worker.log_path}", err=True)
    if broker is not None:
        broker.down()
        say("stopped the broker the demo started")
