"""The fault suite's stream, its expected outcome (the offline scorer) and the checks.

- `SeededStream`: ten thousand messages (or more) from `streams.tools.simulate.generate` (when it
  is importable; `tests.faults.generator` otherwise), with redeliveries, out-of-order and
  broken messages, and what `streams.tools.score.score_lines` makes of them.
- `produce_all`: sends them with a plain aiokafka producer, keyed by lead id (murmur2).
- `Outcome.collect`: reads leads.scores until every lead's latest value equals the offline
  one (or fails after a timeout, listing the differences), then leads.alerts and
  leads.dead-letter.
- `Outcome.check`: final scores, alerts and dead letters against the expectation.

Alerts depend on the order in which a lead's events are applied (a crossing happens at one
event or another; guarantee 3 is about the final state only), and across input topics the
stream's order is not the file's. So there are two references: the offline scorer on the
file's order, and on each lead's events in the order the stream applied them (which the
`cause_event_id` of the lead's score messages records; tombstones mark erasures). An alert
both issue must be published (else it is lost); one neither issues must not be; and every
alert id must be published with one content only (guarantee 4). Where a crash hid part of a
lead's order, the crossings its final state counts as fired judge its alerts instead.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas import topics
from schemas.codec import DecodeError, parse_event
from schemas.events import lead_of
from schemas.outputs import ACCOUNT_STATE_FIELDS, Alert
from schemas.outputs import SCORE_STATE_FIELDS as SCORE_FIELDS
from streams.core.model import ScoringModel
from streams.core.state import LeadState
from streams.core.step import alert_id
from streams.settings import Settings
from streams.tools.score import score_lines
from tests.core_events import facts
from tests.faults.broker import FaultBroker
from tests.kafka_helpers import Consumed, kafka_settings, read_all
from tests.worker_proc import WorkerProcess, free_port

SEED = 20261101
EVENTS = 20_000
LEADS = 400
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # event times are the 30 days before this

ALERT_IGNORED = ("emitted_at",)


@dataclass(frozen=True)
class Msg:
    topic: str  # contract name
    key: bytes
    value: bytes
    malformed: bool


@dataclass
class SeededStream:
    """The messages of one seeded run and what the offline scorer makes of them."""

    messages: list[Msg]
    source: str  # which generator made them
    expected: dict[str, dict[str, Any] | None]  # lead -> final fields (None: erased)
    events: dict[str, list[tuple[str, str, bytes]]]  # lead -> [(event_id, type, value)]
    outcomes: Counter[str]
    alerts: list[Alert]  # the offline scorer's, for the events in file order
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> fields
    states: dict[str, bytes] = field(default_factory=dict)  # lead -> core.facts of its state
    score_messages: int = 0  # how many the offline run publishes: the scale of progress

    @property
    def malformed(self) -> int:
        return sum(m.malformed for m in self.messages)

    @property
    def erased(self) -> set[str]:
        """Leads erased at some point (some end with a tombstone, some come back)."""
        kinds = {lead: {kind for _, kind, _ in events} for lead, events in self.events.items()}
        return {lead for lead, seen in kinds.items() if "lead.erased" in seen}


def _generate(seed: int, events: int, leads: int) -> tuple[list[Msg], str]:
    try:
        from streams.tools.simulate import Faults, generate
    except ImportError:
        from tests.faults.generator import seeded_messages

        made = seeded_messages(seed, events, leads, NOW)
        return [Msg(*m) for m in made], "tests.faults.generator"
    faults = Faults(duplicates=0.02, out_of_order=0.05, malformed=0.01)
    sim = generate(seed=seed, leads=leads, events=events, faults=faults, now=NOW)
    msgs = [Msg(e.topic, e.key, e.value, e.expected_error is not None) for e in sim]
    return msgs, "streams.tools.simulate"


@cache
def seeded_stream(seed: int = SEED, events: int = EVENTS, leads: int = LEADS) -> SeededStream:
    messages, source = _generate(seed, events, leads)
    valid = [m.value for m in messages if not m.malformed]
    run = score_lines(valid, ScoringModel.load())
    expected: dict[str, dict[str, Any] | None] = {}
    for lead_id, state in run.states.items():
        if state.is_marker_only:
            expected[lead_id] = None
        else:
            expected[lead_id] = fields(run.scores[lead_id].model_dump(mode="json"))
    events = events_by_lead(valid)
    accounts = {
        a.account_id: account_fields(a.model_dump(mode="json")) for a in run.final_account_scores()
    }
    states = {lead_id: facts(state) for lead_id, state in run.states.items()}
    return SeededStream(
        messages,
        source,
        expected,
        events,
        run.outcomes,
        run.alert_log,
        accounts,
        states,
        run.score_messages,
    )


def events_by_lead(valid: list[bytes]) -> dict[str, list[tuple[str, str, bytes]]]:
    """Each lead's distinct events (id, type, bytes) in stream order. A visitor's anonymous
    views are its lead's (the first link names it: views reach the lead with its id set, as
    the worker forwards them); views of a visitor never linked count for no lead."""
    docs = [orjson.loads(value) for value in valid]
    owner: dict[str, str] = {}
    for doc in docs:
        if doc["type"] == "identity.linked":
            owner.setdefault(doc["anonymous_id"], doc["lead_id"])
    events: dict[str, list[tuple[str, str, bytes]]] = defaultdict(list)
    seen: set[str] = set()
    for doc, value in zip(docs, valid, strict=True):
        lead = doc.get("lead_id") or owner.get(doc.get("anonymous_id", ""))
        if lead is None or doc["event_id"] in seen:
            continue
        seen.add(doc["event_id"])
        if doc["type"] == "page.viewed" and "lead_id" not in doc:
            value = orjson.dumps({**doc, "lead_id": lead})
        events[lead].append((doc["event_id"], doc["type"], value))
    return dict(events)


def fields(score: dict[str, Any]) -> dict[str, Any]:
    return {k: score[k] for k in SCORE_FIELDS}


def account_fields(score: dict[str, Any]) -> dict[str, Any]:
    return {k: score[k] for k in ACCOUNT_STATE_FIELDS}


def fault_settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    """A fault test's worker settings: its topics and app id under `prefix`, no decay sweep
    (it changes scores at wall-clock time, legitimately)."""
    values: dict[str, Any] = {"sweep_interval_seconds": 0, **overrides}
    return kafka_settings(bootstrap, prefix, **values)


# A SIGKILLed member stays in the group until its session times out (default 60 s), which
# delays every restart and failover by as much; 6 s is the broker's minimum
# (group.min.session.timeout.ms).
FAST_FAILOVER_ENV = {
    "LEADSCORE_SESSION_TIMEOUT_SECONDS": "6",
    "LEADSCORE_HEARTBEAT_INTERVAL_SECONDS": "1",
}


def worker(settings: Settings, log: Any, env: dict[str, str] | None = None) -> WorkerProcess:
    return WorkerProcess(settings, log, env={**FAST_FAILOVER_ENV, **(env or {})})


@dataclass
class FaultSetup:
    """One fault test's workplace: the suite's broker, the test's contract topics (created),
    its prefix and a folder for workers' data and logs."""

    broker: FaultBroker
    prefix: str
    folder: Path

    guarantee: str = "at_least_once"

    def settings(self, name: str = "data", **overrides: Any) -> Settings:
        """A worker's settings: the test's topics and group, its own data dir and port."""
        return fault_settings(
            self.broker.bootstrap,
            self.prefix,
            data_dir=self.folder / name,
            web_port=free_port(),
            processing_guarantee=self.guarantee,
            **overrides,
        )

    async def start(self, settings: Settings, log: str = "worker") -> WorkerProcess:
        """Start a worker (returns when it is ready); its log is `<log>.log` in the folder."""
        return await asyncio.to_thread(worker(settings, self.folder / f"{log}.log").start)


# --- producing -------------------------------------------------------------------------


@dataclass
class Produced:
    """Where the broken messages landed, (full topic, partition, offset), with the code the
    offline scorer's decoder gives each."""

    malformed: dict[tuple[str, int, int], str] = field(default_factory=dict)
    count: int = 0


def offline_code(message: Msg) -> str:
    """The dead-letter code of a broken message, as the offline scorer judges it."""
    try:
        parse_event(message.value, message.topic)
    except DecodeError as exc:
        return exc.code
    raise AssertionError(f"a message meant to be broken decodes: {message.value[:200]!r}")


async def produce_all(
    settings: Settings,
    messages: Sequence[Msg],
    produced: Produced | None = None,
    *,
    pace: float | None = None,
) -> Produced:
    """Send `messages` in order (acks=all, murmur2 by key, like the Java client), at once or
    `pace` messages a second (a trickle the workers keep up with)."""
    produced = produced or Produced()
    producer = AIOKafkaProducer(
        **_client(settings), acks="all", linger_ms=5, request_timeout_ms=60_000
    )
    await producer.start()
    try:
        futures = []
        for n, m in enumerate(messages):
            if pace is not None and n and not n % 25:
                await asyncio.sleep(25 / pace)
            futures.append((m, await producer.send(settings.topic(m.topic), m.value, key=m.key)))
        for m, fut in futures:
            meta = await fut
            produced.count += 1
            if m.malformed:
                produced.malformed[meta.topic, meta.partition, meta.offset] = offline_code(m)
    finally:
        await producer.stop()
    return produced


async def wait_for_scores(
    settings: Settings, count: int, *, among: set[str] | None = None, timeout: float = 120.0
) -> int:
    """Wait until leads.scores holds at least `count` messages (or, given `among`, messages
    naming `count` of those event ids as their cause); how many messages it holds then.
    The trigger of the next fault: progress, not time, so a seed gives the same moments.
    Fails when the workers do not get there (a fault must land while work is pending)."""
    began = time.monotonic()
    total = 0
    named: set[str] = set()
    async with _Reader(settings, "leads.scores") as reader:
        while (len(named) if among is not None else total) < count:
            if time.monotonic() - began > timeout:
                got = f"{total}" if among is None else f"{len(named)} events named by {total}"
                raise AssertionError(f"only {got} of {count} score messages in {timeout:g} s")
            batch = await reader.poll()
            total += len(batch)
            if among is not None:
                causes = (d["cause_event_id"] for d in (r.json() for r in batch) if d is not None)
                named.update(c for c in causes if c in among)
    return total


def lead_event_ids(messages: Iterable[Msg]) -> set[str]:
    """The ids of the valid events among `messages` that name their lead (not a visitor's
    anonymous views and links): nearly each publishes a score message when applied."""
    events = (parse_event(m.value, m.topic) for m in messages if not m.malformed)
    return {e.event_id for e in events if lead_of(e) is not None}


@dataclass(frozen=True)
class Kill:
    """A fault and the work pending when it came."""

    what: str
    scores: int  # score messages on leads.scores when it came
    lag: int  # input messages the group had not committed then (work to redo or to do)

    def __str__(self) -> str:
        return f"{self.what} (at {self.scores} score messages, input lag {self.lag})"


async def kill_point(settings: Settings, what: str, scores: int) -> Kill:
    """Record a fault just made: the group's input lag now (committed offsets against the
    end of every input partition)."""
    return Kill(what, scores, await input_lag(settings))


# Topics the workers write and read themselves: views forwarded to their leads, and leads'
# contributions to their accounts. Work on them can still be pending when every input is
# committed (a link forwards a visitor's held views at once).
INTERNAL = (topics.VISITORS, topics.CONTRIBUTIONS)


async def input_lag(settings: Settings) -> int:
    """Messages the group has not committed: on the inputs, and on the internal topics
    up to their last data record (with exactly_once a partition may end with commit
    markers, offsets no consumer reads or commits)."""
    from streams.kafka.admin import admin_client
    from streams.kafka.ends import after_last_records

    async with admin_client(kafka_settings(settings.kafka_bootstrap)) as admin:
        committed = await admin.list_consumer_group_offsets(settings.app_id)
    parts = [
        TopicPartition(settings.topic(t.name), p)
        for t in (*topics.INPUTS, *INTERNAL)
        for p in range(settings.partitions)
    ]
    consumer = AIOKafkaConsumer(**_client(settings), isolation_level="read_committed")
    await consumer.start()
    try:
        ends = await after_last_records(consumer, await consumer.end_offsets(parts))
    finally:
        await consumer.stop()
    done = {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


def _client(settings: Settings) -> dict[str, Any]:
    from streams.kafka.clients import client_kwargs

    return client_kwargs(kafka_settings(settings.kafka_bootstrap))


# --- collecting and checking -----------------------------------------------------------


def diff_scores(
    latest: dict[str, dict[str, Any] | None], expected: dict[str, dict[str, Any] | None]
) -> list[str]:
    """One line per lead whose latest value on leads.scores is not the expected one."""
    problems = []
    for lead_id, want in expected.items():
        if lead_id not in latest:
            problems.append(f"{lead_id}: no score at all (want {_brief(want)})")
            continue
        got = latest[lead_id]
        if want is None and got is not None:
            problems.append(f"{lead_id}: want a tombstone, got {_brief(fields(got))}")
        elif want is not None and got is None:
            problems.append(f"{lead_id}: want {_brief(want)}, got a tombstone")
        elif want is not None and got is not None and fields(got) != want:
            delta = {k: (got[k], want[k]) for k in SCORE_FIELDS if got[k] != want[k]}
            problems.append(f"{lead_id}: (got, want) {delta}")
    problems += [f"{k}: unexpected lead on leads.scores" for k in latest if k not in expected]
    return problems


def diff_accounts(
    latest: dict[str, dict[str, Any] | None], expected: dict[str, dict[str, Any]]
) -> list[str]:
    """One line per account whose latest value on accounts.scores is not the expected one
    (an account not expected must end with a tombstone, or never appear)."""
    problems = []
    for account, want in expected.items():
        got = latest.get(account)
        if got is None:
            problems.append(f"account {account}: {'tombstone' if account in latest else 'none'}")
        elif account_fields(got) != want:
            delta = {k: (got[k], want[k]) for k in ACCOUNT_STATE_FIELDS if got[k] != want[k]}
            problems.append(f"account {account}: (got, want) {delta}")
    unexpected = [k for k, v in latest.items() if v is not None and k not in expected]
    return problems + [f"account {k}: unexpected on accounts.scores" for k in unexpected]


def _brief(value: dict[str, Any] | None) -> str:
    if value is None:
        return "tombstone"
    return f"score {value['score']}, events_counted {value['events_counted']}"


class _Reader:
    """Reads one topic from the beginning, all partitions, no group."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            settings.topic(topic),
            **_client(settings),
            isolation_level="read_committed",  # what a consumer of exactly_once must use
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
            request_timeout_ms=60_000,
        )

    async def __aenter__(self) -> _Reader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self, timeout_ms: int = 300) -> list[Consumed]:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        return [
            Consumed(m.topic, m.partition, m.offset, m.key, m.value, m.timestamp)
            for batch in batches.values()
            for m in batch
        ]


@dataclass
class Outcome:
    """What the stream published, and the figures the report needs."""

    scores: list[Consumed]
    alerts: list[Consumed]
    dead_letters: list[Consumed]
    seconds: float
    exactly_once: bool = False  # the workers' guarantee: then no output may repeat
    account_scores: list[Consumed] = field(default_factory=list)
    account_alerts: list[Consumed] = field(default_factory=list)
    states: dict[str, bytes | None] = field(default_factory=dict)  # lead -> facts, changelog
    fired: dict[str, set[str]] = field(default_factory=dict)  # lead -> alert ids its state fired

    @classmethod
    async def collect(
        cls,
        settings: Settings,
        stream: SeededStream,
        *,
        timeout: float,
        workers: Iterable[WorkerProcess] = (),
        while_waiting: Callable[[int], None] | None = None,
    ) -> Outcome:
        """Read leads.scores until every lead's latest value is the expected one. The
        failure after `timeout` lists the differences and the workers' log tails."""
        began = time.monotonic()
        seen: list[Consumed] = []
        latest: dict[str, dict[str, Any] | None] = {}
        problems = ["nothing read yet"]
        async with _Reader(settings, "leads.scores") as reader:
            while problems:
                if time.monotonic() - began > timeout:
                    raise AssertionError(
                        _not_converged(settings, stream, problems, seen, timeout, workers)
                    )
                fresh = await reader.poll()
                for record in fresh:
                    latest[record.key_text or ""] = record.json()
                seen.extend(fresh)
                if fresh or problems == ["nothing read yet"]:
                    problems = diff_scores(latest, stream.expected)
                if while_waiting is not None:
                    while_waiting(len(seen))
            seconds = time.monotonic() - began
            # Whatever the workers still had in flight (replays, re-publications) lands now.
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < 3.0:
                fresh = await reader.poll()
                if fresh:
                    seen.extend(fresh)
                    quiet_since = time.monotonic()
        accounts = await _accounts_converged(settings, stream, timeout, workers)
        alerts = await read_all(settings.kafka_bootstrap, settings.topic("leads.alerts"))
        dead = await read_all(settings.kafka_bootstrap, settings.topic("leads.dead-letter"))
        account_alerts = await read_all(settings.kafka_bootstrap, settings.topic("accounts.alerts"))
        exactly_once = settings.processing_guarantee == "exactly_once"
        changelog = await lead_states(settings)
        states = {k: None if s is None else facts(s) for k, s in changelog.items()}
        fired = {k: fired_alert_ids(s) for k, s in changelog.items() if s is not None}
        return cls(
            seen, alerts, dead, seconds, exactly_once, accounts, account_alerts, states, fired
        )

    def latest_accounts(self) -> dict[str, dict[str, Any] | None]:
        return {r.key_text or "": r.json() for r in self.account_scores}

    def check(self, stream: SeededStream, produced: Produced) -> Report:
        """Every check of the suite; raises AssertionError with the figures on failure."""
        report = Report(stream=stream, outcome=self, produced=produced)
        latest: dict[str, dict[str, Any] | None] = {}
        for record in self.scores:
            latest[record.key_text or ""] = record.json()
        report.score_problems = diff_scores(latest, stream.expected)
        report.account_problems = diff_accounts(self.latest_accounts(), stream.accounts)
        report.check_alerts()
        report.check_dead_letters()
        report.check_states()
        return report


async def lead_states(settings: Settings) -> dict[str, LeadState | None]:
    """Each lead's state as the leads table's changelog holds it last, None where it holds
    a deletion."""
    changelog = f"{settings.app_id}-leads-changelog"
    latest: dict[str, LeadState | None] = {}
    for record in await read_all(settings.kafka_bootstrap, changelog):
        value = record.value
        latest[record.key_text or ""] = None if value is None else LeadState.from_bytes(value)
    return latest


def fired_alert_ids(state: LeadState) -> set[str]:
    """The alert ids of the crossings a lead's state counts as fired since its erasure (if
    any): each must have been published."""
    return {
        alert_id(state.lead_id, state.erased_at, name, nth)
        for name, arm in state.alerts.items()
        for nth in range(1, arm.fired + 1)
    }


async def _accounts_converged(
    settings: Settings, stream: SeededStream, timeout: float, workers: Iterable[WorkerProcess]
) -> list[Consumed]:
    """Read accounts.scores until every account's latest value is the offline one (the
    leads' final contributions reach their accounts after the leads' final scores)."""
    began = time.monotonic()
    seen: list[Consumed] = []
    latest: dict[str, dict[str, Any] | None] = {}
    problems = diff_accounts(latest, stream.accounts)
    async with _Reader(settings, "accounts.scores") as reader:
        while problems:
            if time.monotonic() - began > timeout:
                lines = [
                    f"accounts.scores under {settings.topic_prefix} did not converge to the "
                    f"offline account scores within {timeout:g} s: {len(problems)} differ",
                    *(f"  {p}" for p in problems[:15]),
                ]
                for n, w in enumerate(workers):
                    lines.append(f"--- worker {n}: {_errors_in(w)}")
                raise AssertionError("\n".join(lines))
            fresh = await reader.poll()
            for record in fresh:
                latest[record.key_text or ""] = record.json()
            seen.extend(fresh)
            if fresh:
                problems = diff_accounts(latest, stream.accounts)
    return seen


def _not_converged(
    settings: Settings,
    stream: SeededStream,
    problems: list[str],
    seen: list[Consumed],
    timeout: float,
    workers: Iterable[WorkerProcess],
) -> str:
    lines = [
        f"leads.scores under {settings.topic_prefix} did not converge to the offline scores "
        f"within {timeout:g} s: {len(problems)} of {len(stream.expected)} leads differ "
        f"after {len(seen)} score messages; first ones:",
        *(f"  {p}" for p in problems[:15]),
    ]
    for n, w in enumerate(workers):
        lines += [f"--- worker {n}: {_errors_in(w)}", f"--- its log ({w.log_path}), last lines:"]
        lines.append(w.tail(25))
    return "\n".join(lines)


def _errors_in(worker: WorkerProcess) -> str:
    """How many events the worker failed to process, and the errors (a log tail cuts a
    traceback short: the error line is what tells)."""
    log = worker.tail(100_000).splitlines()
    failed = sum("processing failed" in line for line in log)
    errors = sorted({line.strip() for line in log if _ERROR_LINE.match(line)})
    return f"{failed} events failed; errors: {errors[:5] or 'none'}"


_ERROR_LINE = re.compile(r"^\s*[\w.]*(Error|Exception|NotReady)\b.*:")


@dataclass
class Report:
    """Figures and problems of one fault run."""

    stream: SeededStream
    outcome: Outcome
    produced: Produced
    faults: list[str] = field(default_factory=list)
    score_problems: list[str] = field(default_factory=list)
    account_problems: list[str] = field(default_factory=list)
    alert_conflicts: dict[str, int] = field(default_factory=dict)  # id -> distinct contents
    account_alert_conflicts: dict[str, int] = field(default_factory=dict)
    alerts_missing: list[str] = field(default_factory=list)
    alerts_unexpected: list[str] = field(default_factory=list)
    alerts_different: list[str] = field(default_factory=list)
    alert_ids: int = 0
    expected_alerts: int = 0
    dead_letters_missing: int = 0
    dead_letter_problems: list[str] = field(default_factory=list)
    state_problems: list[str] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # --- alerts ----------------------------------------------------------------------

    def check_alerts(self) -> None:
        """Per alert id one content; no alert lost, none unexpected.

        An alert is lost when the offline scorer issues it both for the file's order and for
        the stream's order of each lead's events, or when the lead's final state counts it
        among the crossings it fired; unexpected when none of the three has it. (A lead
        whose score dips by the hysteresis and rises again can cross a threshold once more
        in one order than in another; those ids are not judged.) A crash loses intermediate
        score messages, and with them the exact order of the events around it: for a lead
        whose order the score messages do not tell whole, only its state judges a loss, and
        contents are not compared.
        """
        contents = _contents(self.outcome.alerts)
        self.alert_ids = len(contents)
        self.alert_conflicts = {k: len(v) for k, v in contents.items() if len(v) > 1}
        # Account alerts depend on the order contributions reach the account: only one
        # content per id is judged.
        account = _contents(self.outcome.account_alerts)
        self.account_alert_conflicts = {k: len(v) for k, v in account.items() if len(v) > 1}
        reference, hidden = self.reference_alerts()
        in_order = {a["alert_id"]: _canonical(a) for a in reference}
        lead_of_alert = {a["alert_id"]: a["lead_id"] for a in reference}
        as_filed = {a.alert_id for a in self.stream.alerts}
        self.expected_alerts = len(in_order.keys() & as_filed)
        fired = set().union(*self.outcome.fired.values())
        judged = {k for k in in_order.keys() & as_filed if lead_of_alert[k] not in hidden}
        self.alerts_missing = sorted((judged | fired) - contents.keys())
        self.alerts_unexpected = sorted(contents.keys() - in_order.keys() - as_filed - fired)
        differ = {k for k in in_order.keys() & contents.keys() if contents[k] != {in_order[k]}}
        self.alerts_different = sorted(k for k in differ if lead_of_alert[k] not in hidden)
        if hidden:
            unfired = {k for k in in_order.keys() & as_filed if lead_of_alert[k] in hidden} - fired
            self.notes.append(
                f"{len(hidden)} leads applied events no score message names (their order is "
                f"not known): {len(differ) - len(self.alerts_different)} of their alerts "
                f"differ from the reconstructed order, {len(unfired)} of the references' "
                "ids their states never fired (neither judged)"
            )
        if in_order.keys() != as_filed:
            self.notes.append(
                f"order-dependent alert ids (not judged): {len(in_order.keys() ^ as_filed)}"
            )

    def repeated_alerts(self) -> list[Consumed]:
        """Every copy of an alert id published more than once, by id then position."""
        copies: dict[str, list[Consumed]] = defaultdict(list)
        for record in self.outcome.alerts:
            copies[record.json()["alert_id"]].append(record)
        return [r for _id, rs in sorted(copies.items()) if len(rs) > 1 for r in rs]

    def repeated_scores(self) -> list[Consumed]:
        """Every copy of a score message whose cause was published more than once."""
        copies: dict[str, list[Consumed]] = defaultdict(list)
        for record in self.outcome.scores:
            doc = record.json()
            if doc is not None:
                copies[doc["cause_event_id"]].append(record)
        return [r for _id, rs in sorted(copies.items()) if len(rs) > 1 for r in rs]

    def reference_alerts(self) -> tuple[list[dict[str, Any]], set[str]]:
        """The offline scorer's alerts for each lead's events in the stream's order, and
        the leads whose order the score messages do not tell whole (some event has no
        score message naming it: lost in a crash, or ignored after an erasure)."""
        order = applied_order(self.outcome.scores)
        lines: list[bytes] = []
        hidden: set[str] = set()
        for lead_id, events in self.stream.events.items():
            placed, rest = _in_stream_order(events, order.get(lead_id, []))
            lines += placed + rest
            if rest:
                hidden.add(lead_id)
        run = score_lines(lines, ScoringModel.load())
        return [a.model_dump(mode="json") for a in run.alert_log], hidden

    # --- dead letters ----------------------------------------------------------------

    def check_dead_letters(self) -> None:
        """The dead letters are the broken messages, each once per position (a crash may
        send one again, the same), with the code the offline decoder gives it."""
        got: dict[tuple[str, int, int], set[str]] = defaultdict(set)
        for d in (r.json() for r in self.outcome.dead_letters):
            got[d["source_topic"], d["partition"], d["offset"]].add(d["error"])
        want = self.produced.malformed
        self.dead_letters_missing = len(want.keys() - got.keys())
        for position, codes in sorted(got.items()):
            if position not in want:
                self.dead_letter_problems.append(f"{position}: {codes} for a valid message")
            elif codes != {want[position]}:
                self.dead_letter_problems.append(f"{position}: {codes}, not {want[position]}")

    # --- final states ------------------------------------------------------------------

    def check_states(self) -> None:
        """Each lead's final state (records, profile, signals, markers, counts, visitors)
        is the offline scorer's, byte for byte."""
        got, want = self.outcome.states, self.stream.states
        for lead_id in sorted(want.keys() | got.keys()):
            g, w = got.get(lead_id), want.get(lead_id)
            if g != w:
                self.state_problems.append(
                    f"{lead_id}: {_state_brief(g)} in the changelog, offline {_state_brief(w)}"
                )

    # --- the faults themselves ---------------------------------------------------------

    def kill_problems(self) -> list[str]:
        """Each fault came while work was pending: input not yet committed, and score
        messages still to come."""
        out = []
        final = len(self.outcome.scores)
        for n, kill in enumerate(self.kills, 1):
            if kill.lag <= 0:
                out.append(f"fault {n} found no input pending: {kill}")
            if kill.scores >= final:
                out.append(f"fault {n} came after the last score message ({final}): {kill}")
        return out

    # --- verdict ---------------------------------------------------------------------

    @property
    def problems(self) -> list[str]:
        out = [f"score: {p}" for p in self.score_problems[:20]]
        out += [f"account score: {p}" for p in self.account_problems[:20]]
        out += [f"account alert {k}: published with {n} different contents" for k, n in
                list(self.account_alert_conflicts.items())[:10]]  # fmt: skip
        out += [f"alert {k}: published with {n} different contents" for k, n in
                list(self.alert_conflicts.items())[:10]]  # fmt: skip
        out += [f"alert {k}: never published (lost)" for k in self.alerts_missing[:10]]
        out += [f"alert {k}: published, not in the reference" for k in self.alerts_unexpected[:10]]
        if self.dead_letters_missing:
            out.append(f"{self.dead_letters_missing} broken messages were not dead-lettered")
        out += [f"dead letter {p}" for p in self.dead_letter_problems[:10]]
        out += [f"state: {p}" for p in self.state_problems[:10]]
        out += [f"alert {k}: content differs from the stream-order reference" for k in
                self.alerts_different[:10]]  # fmt: skip
        out += self.kill_problems()
        repeats = len(self.outcome.alerts) - self.alert_ids
        if self.outcome.exactly_once and repeats:
            out.append(f"exactly_once: {repeats} alert messages repeat an alert_id")
            out += [f"  {r.brief(400)}" for r in self.repeated_alerts()[:10]]
        return out

    def summary(self) -> str:
        o = self.outcome
        causes = Counter(d["cause_event_id"] for d in (r.json() for r in o.scores) if d is not None)
        repeated = sum(n - 1 for n in causes.values() if n > 1)
        lines = [
            f"stream: {len(self.stream.messages)} messages from {self.stream.source} "
            f"({self.stream.malformed} broken), {len(self.stream.expected)} leads, offline "
            f"outcomes {dict(self.stream.outcomes)}",
            f"guarantee: {'exactly_once' if o.exactly_once else 'at_least_once'}; "
            f"faults: {'; '.join(self.faults) or 'none'}",
            f"scores: {len(o.scores)} messages, {len(causes)} distinct causes, {repeated} "
            f"repeated (re-published or replayed), converged in {o.seconds:.1f} s; "
            f"{len(self.score_problems)} leads differ from offline",
            f"alerts: {len(o.alerts)} messages, {self.alert_ids} ids "
            f"({len(o.alerts) - self.alert_ids} repeats), reference {self.expected_alerts}; "
            f"{len(self.alerts_missing)} lost, {len(self.alerts_unexpected)} unexpected, "
            f"{len(self.alert_conflicts)} ids with conflicting contents; "
            f"{len(self.alerts_different)} differ in content from the stream-order reference",
            f"accounts: {len(self.stream.accounts)} expected, {len(o.account_scores)} score "
            f"messages, {len(self.account_problems)} differ from offline; "
            f"{len(o.account_alerts)} account alerts, "
            f"{len(self.account_alert_conflicts)} ids with conflicting contents",
            f"dead letters: {len(o.dead_letters)} messages for {len(self.produced.malformed)} "
            f"broken inputs; {self.dead_letters_missing} missing, "
            f"{len(self.dead_letter_problems)} wrong or unexpected",
            f"states: {len(o.states)} leads in the changelog, {len(self.state_problems)} differ "
            f"from offline",
            *(f"fault {n}: {kill}" for n, kill in enumerate(self.kills, 1)),
            *self.notes,
        ]
        if o.exactly_once and repeated:  # for a post-mortem: which, where, when
            lines += [f"  repeated score: {r.brief(300)}" for r in self.repeated_scores()[:12]]
        return "\n".join(lines)

    def assert_clean(self) -> None:
        print("\n" + self.summary())
        problems = self.problems
        assert not problems, self.summary() + "\nproblems:\n" + "\n".join(problems)


def _state_brief(value: bytes | None) -> str:
    if value is None:
        return "none"
    state = LeadState.from_bytes(value)
    return f"{len(state.records)} records, {len(state.profile)} fields, erased {state.erased_at}"


def _contents(alerts: Iterable[Consumed]) -> dict[str, set[bytes]]:
    """Alert id -> its distinct contents (emitted_at aside)."""
    contents: dict[str, set[bytes]] = defaultdict(set)
    for record in alerts:
        doc = record.json()
        contents[doc["alert_id"]].add(_canonical(doc))
    return contents


def _canonical(alert: dict[str, Any]) -> bytes:
    kept = {k: v for k, v in alert.items() if k not in ALERT_IGNORED}
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def applied_order(scores: Sequence[Consumed]) -> dict[str, list[str | None]]:
    """Per lead, the event ids in the order the stream first applied them (from the score
    messages' cause_event_id); None where a tombstone (an erasure) was published."""
    order: dict[str, list[str | None]] = defaultdict(list)
    seen: set[str] = set()
    for record in scores:
        lead_id = record.key_text or ""
        doc = record.json()
        if doc is None:
            order[lead_id].append(None)
        elif doc["cause_event_id"] and doc["cause_event_id"] not in seen:
            seen.add(doc["cause_event_id"])
            order[lead_id].append(doc["cause_event_id"])
    return order


def _in_stream_order(
    events: list[tuple[str, str, bytes]], order: list[str | None]
) -> tuple[list[bytes], list[bytes]]:
    """A lead's events: those the stream applied, in its order (each tombstone takes the
    lead's next erasure), and the rest (no score message names them) in file order."""
    by_id = {eid: value for eid, _kind, value in events}
    erasures = [eid for eid, kind, _value in events if kind == "lead.erased"]
    placed: dict[str, None] = {}  # ordered set
    for item in order:
        if item is None:
            if erasures:
                placed[erasures.pop(0)] = None
        elif item in by_id:
            placed[item] = None
    rest = [eid for eid, _kind, _value in events if eid not in placed]
    return [by_id[eid] for eid in placed], [by_id[eid] for eid in rest]
