"""The scoring pipeline's I/O: message in -> validate -> core step -> table + outputs.

Everything here is synchronous between reading the state and buffering the
outputs (Faust's send_soon), so the agent, the decay sweep and model reloads
never interleave on one lead and outputs keep the order of state changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import orjson

from schemas import topics
from schemas.codec import DecodeError, decode_json, encode, parse_event
from schemas.events import IdentityLinked, InputEvent, PageViewed, lead_of, routing_key
from schemas.outputs import AccountScore, DeadLetterError, ScoreHistory, ScoreUpdate
from schemas.topics import Topic
from streams.app import metrics
from streams.app.deadletter import dead_letter
from streams.core import (
    LeadState,
    Position,
    ScoringModel,
    Step,
    history,
    process,
    rescore,
    score,
    score_update,
    to_us,
    too_far_ahead,
    visitors,
)
from streams.core.accounts import (
    AccountState,
    Contribution,
    account_card,
    account_score,
    contribute,
)
from streams.kafka.partitioning import partition_for
from streams.settings import VISITOR_MAX_AGE_DAYS, VISITOR_MAX_VIEWS

log = logging.getLogger(__name__)

# Lead states kept decoded after their write (about 5 KB each): a lead's events come in
# bursts (an open, then a click, then a form), and the next one then needs no table read.
RECENT_STATES = 10_000
RESCORE_SLICE = 500  # leads per rescore command: about 50 ms of the agent's time


@lru_cache(maxsize=256)
def _events(contract: str, outcome: str) -> Any:
    """The events counter of one (topic, outcome): labels() costs a lock and a lookup."""
    return metrics.EVENTS.labels(contract, outcome)


class Message(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: float


class Sender(Protocol):
    """Buffers one output message on a contract topic (the deployment's prefix is the
    sender's business); `partition` None means the key's partition."""

    def __call__(
        self, topic: Topic, key: bytes, value: bytes | None, partition: int | None = None
    ) -> None: ...


class StateStore(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def __setitem__(self, key: str, value: bytes) -> None: ...
    def __delitem__(self, key: str) -> None: ...
    def partition_slice(
        self, partition: int, after: str | None, limit: int
    ) -> list[tuple[str, bytes]]: ...


class Pipeline:
    """Holds the model in force and turns input messages into outputs."""

    def __init__(
        self,
        *,
        topic_prefix: str,
        partitions: int,
        max_message_bytes: int,
        max_future_skew_seconds: float,
        model: ScoringModel,
        send: Sender,
        store: StateStore,
        visitor_store: StateStore,
        account_store: StateStore,
        history_store: StateStore,
        visitor_max_views: int = VISITOR_MAX_VIEWS,
        visitor_max_age_seconds: float = VISITOR_MAX_AGE_DAYS * 86400,
        exactly_once: bool = False,
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        # Full input topic name -> its contract topic (the registry in schemas/topics.py).
        self.inputs: dict[str, Topic] = {f"{topic_prefix}{t.name}": t for t in topics.INPUTS}
        # Views and links forwarded from visitors' partitions, erasures sent to them.
        self.inputs[f"{topic_prefix}{topics.VISITORS.name}"] = topics.VISITORS
        # Leads' contributions to their accounts (docs/accounts.md).
        self.inputs[f"{topic_prefix}{topics.CONTRIBUTIONS.name}"] = topics.CONTRIBUTIONS
        self.partitions = partitions
        self.max_message_bytes = max_message_bytes
        self.max_future_skew_us = int(max_future_skew_seconds * 1e6)
        # exactly_once: offsets applied by this process and not yet committed, per input
        # (topic, partition). Their outputs may have died with an aborted transaction; any
        # other duplicate at its own position had its outputs committed with its state.
        self.exactly_once = exactly_once
        self._uncommitted: dict[tuple[str, int], set[int]] = {}
        self.send = send
        self.store = store
        self.visitor_store = visitor_store
        self.account_store = account_store
        self.history_store = history_store
        self.visitor_max_views = visitor_max_views
        self.visitor_max_age_us = int(visitor_max_age_seconds * 1e6)
        self.model = model
        self.leads: dict[int, int] = {}  # leads per partition, from the last sweep
        self.visitors_held: dict[int, int] = {}  # visitors per partition, from the last sweep
        self.accounts_held: dict[int, int] = {}  # accounts per partition, from the last sweep
        # The states last written, so a lead's next event skips the table read and the
        # decode. Written with the table (publish), emptied on a rebalance or a failed step.
        self._recent: dict[str, LeadState] = {}
        # at_least_once: lead states held back until what they made that they cannot make
        # again (a removal from an account, forget commands) is acknowledged (`settle`).
        self.flush = flush
        self._held: dict[str, bytes] = {}
        metrics.MODEL_INFO.labels(model.model_version).set(1)
        metrics.init_series(sorted({t.name for t in self.inputs.values()}))

    # --- input -----------------------------------------------------------------------

    def handle(self, msg: Message) -> None:
        """Apply one input message; never raises for bad input (it is dead-lettered)."""
        started = time.perf_counter()
        topic = self.inputs.get(msg.topic)
        contract = msg.topic if topic is None else topic.name
        try:
            self._handle(msg, contract)
        except Exception as exc:  # a bug must not lose the event: dead-letter it
            self.forget_states()  # a step that failed half-way may have changed one
            log.exception("processing failed at %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            self.reject(msg, contract, "processing_error", f"internal error: {type(exc).__name__}")
        metrics.PROCESSING.observe(time.perf_counter() - started)

    def _handle(self, msg: Message, contract: str) -> None:
        raw = msg.value or b""
        if len(raw) > self.max_message_bytes:
            limit = self.max_message_bytes
            return self.reject(msg, contract, "too_large", f"{len(raw)} bytes > limit {limit}")
        if contract == topics.VISITORS.name:
            return self._handle_forwarded(msg, raw)
        if contract == topics.CONTRIBUTIONS.name:
            return self._handle_contribution(msg, raw)
        try:
            event = parse_event(raw, contract)
        except DecodeError as exc:
            return self.reject(msg, contract, exc.code, exc.detail)
        key = routing_key(event)
        if msg.key is not None and msg.key != key.encode():
            expected = "anonymous_id" if lead_of(event) is None else "lead_id"
            return self.reject(
                msg, contract, "key_mismatch", f"message key differs from {expected}"
            )
        owner = partition_for(key, self.partitions)
        if msg.partition != owner:
            # A producer with another partitioner (librdkafka's crc32): move it, never apply here.
            self.send(topics.BY_NAME[contract], key.encode(), raw, owner)
            _events(contract, "rerouted").inc()
            return None
        if msg.timestamp:  # the broker timestamp, in seconds (0: the client gave none)
            ahead = too_far_ahead(event, int(msg.timestamp * 1e6), self.max_future_skew_us)
            if ahead is not None:
                return self.reject(msg, contract, "future_event", ahead)
        lead_id = lead_of(event)
        if lead_id is None:
            assert isinstance(event, PageViewed | IdentityLinked)
            return self._visit(key, event, msg, contract)
        return self._apply(lead_id, event, msg, contract)

    def _apply(self, lead_id: str, event: InputEvent, msg: Message, contract: str) -> None:
        """The lead's step: its state, the event, the model -> state and outputs."""
        state = self.load(lead_id)
        position = Position(msg.topic, msg.partition, msg.offset)
        aborted = self._replay_of_aborted(msg)
        may_be_lost = aborted or not self.exactly_once
        step = process(state, event, self.model, datetime.now(UTC), position, may_be_lost)
        self._applied(msg, step.changed)
        _events(contract, step.outcome).inc()
        if step.changed:
            if step.machine is not None:
                metrics.MACHINE_ENGAGEMENT.labels(step.machine).inc()
            self.publish(state, step, msg.timestamp, event)
        elif step.republish or aborted:  # a crash may have lost them: see redeliver()
            self.publish(state, step, event=event, rewrite=aborted)

    def _replay_of_aborted(self, msg: Message) -> bool:
        """exactly_once: whether this process applied `msg` since its partition's last
        commit. Then its transaction may have been aborted (a rebalance), which dropped its
        changelog writes and outputs but not the local store's: its handler writes again
        every state it changed and publishes its outputs again."""
        pending = self._uncommitted.get((msg.topic, msg.partition))
        return pending is not None and msg.offset in pending

    def _applied(self, msg: Message, changed: bool) -> None:
        if self.exactly_once and changed:
            self._uncommitted.setdefault((msg.topic, msg.partition), set()).add(msg.offset)

    # --- visitors (core/visitors.py) -------------------------------------------------

    def _visit(
        self, anonymous_id: str, event: PageViewed | IdentityLinked, msg: Message, contract: str
    ) -> None:
        """An anonymous view or a link, on the visitor's partition: hold or forward."""
        state = self._load_visitor(anonymous_id)
        result = visitors.visit(state, event, self.visitor_max_views)
        self._applied(msg, result.changed)
        _events(contract, result.outcome).inc()
        if result.changed or self._replay_of_aborted(msg):
            # The state first: a crash may then lose the forwards only.
            self.visitor_store[anonymous_id] = state.to_bytes()
        for lead_id, value in result.forward:
            partition = partition_for(lead_id, self.partitions)
            self.send(topics.VISITORS, lead_id.encode(), value, partition)
        views = metrics.VISITOR_VIEWS
        if result.outcome == "held":
            views.labels("held").inc()
        forwarded = len(result.forward) - (1 if isinstance(event, IdentityLinked) else 0)
        if forwarded:
            views.labels("forwarded").inc(forwarded)
        if result.dropped:
            views.labels("dropped").inc(result.dropped)

    def _load_visitor(self, anonymous_id: str) -> visitors.VisitorState:
        raw = self.visitor_store.get(anonymous_id)
        if raw is None:
            return visitors.VisitorState(anonymous_id)
        return visitors.VisitorState.from_bytes(raw)

    def _handle_forwarded(self, msg: Message, raw: bytes) -> None:
        """leads.visitors: a view or link for a lead of this partition, or an erased
        lead's command to one of its visitors."""
        contract = topics.VISITORS.name
        try:
            doc = decode_json(raw)
            if visitors.is_forget(doc):
                return self._forget(doc)
            event = parse_event(raw, topics.WEB.name)
        except (DecodeError, KeyError, TypeError) as exc:
            detail = exc.detail if isinstance(exc, DecodeError) else "not a forwarded event"
            return self.reject(msg, contract, "schema", detail)
        lead_id = event.lead_id
        if lead_id is None or (msg.key is not None and msg.key != lead_id.encode()):
            return self.reject(msg, contract, "key_mismatch", "forwarded without its lead_id")
        return self._apply(lead_id, event, msg, contract)

    def _forget(self, doc: Any) -> None:
        anonymous_id = str(doc["anonymous_id"])
        raw = self.visitor_store.get(anonymous_id)
        if raw is None:  # nothing held: nothing to forget
            return
        state = visitors.VisitorState.from_bytes(raw)
        gone = visitors.forget(state, str(doc["lead_id"]), int(doc["erased_at"]))
        self.visitor_store[anonymous_id] = state.to_bytes()
        if gone:
            metrics.VISITOR_VIEWS.labels("forgotten").inc(gone)

    # --- accounts (core/accounts.py) -------------------------------------------------

    def _handle_contribution(self, msg: Message, raw: bytes) -> None:
        """A lead's contribution (or removal) on its account's partition."""
        contract = topics.CONTRIBUTIONS.name
        try:
            contribution = Contribution.from_json(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return self.reject(msg, contract, "schema", "not a contribution")
        account_id = contribution.account_id
        if msg.key is not None and msg.key != account_id.encode():
            return self.reject(msg, contract, "key_mismatch", "sent without its account_id")
        state = self.load_account(account_id) or AccountState(account_id)
        position = Position(msg.topic, msg.partition, msg.offset)
        step = contribute(state, contribution, self.model, datetime.now(UTC), position)
        applied = step.outcome == "applied"
        self._applied(msg, applied)
        _events(contract, step.outcome).inc()
        if applied or self._replay_of_aborted(msg):  # the state first, as for leads (publish)
            self.account_store[account_id] = state.to_bytes()
        key = account_id.encode()
        if step.tombstone:
            self.send(topics.ACCOUNT_SCORES, key, None)
        if step.score is not None:
            self.send(topics.ACCOUNT_SCORES, key, encode(step.score))
            if not step.republish:
                metrics.ACCOUNT_UPDATES.inc()
        for alert in step.alerts:
            self.send(topics.ACCOUNT_ALERTS, key, encode(alert))
            if not step.republish:
                metrics.ACCOUNT_ALERTS.labels(alert.threshold).inc()
        return None

    def load_account(self, account_id: str) -> AccountState | None:
        raw = self.account_store.get(account_id)
        return None if raw is None else AccountState.from_bytes(raw)

    def reject(self, msg: Message, contract: str, code: DeadLetterError, detail: str) -> None:
        record = dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value, code, detail)
        self.send(topics.DEAD_LETTER, msg.key or b"", encode(record))
        _events(contract, "dead_letter").inc()
        metrics.DEAD_LETTERS.labels(code).inc()

    # --- state and outputs -----------------------------------------------------------

    def load(self, lead_id: str) -> LeadState:
        state = self._recent.get(lead_id)
        if state is not None:
            return state
        raw = self._held.get(lead_id) or self.store.get(lead_id)
        return LeadState(lead_id) if raw is None else LeadState.from_bytes(raw)

    async def settle(self) -> None:
        """Write the lead states `publish` held back, once every output buffered before
        them is acknowledged (awaited by the agent after each message)."""
        if not self._held:
            return
        assert self.flush is not None  # nothing is held without it
        try:
            await self.flush()
        finally:  # a failed flush (the worker stopping) leaves the state at risk, as before
            held, self._held = self._held, {}
            for lead_id, value in held.items():
                self.store[lead_id] = value

    def committed(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """exactly_once: these (topic, partition) -> next offset are committed, with the
        outputs of every event before them."""
        for tp, offset in offsets.items():
            pending = self._uncommitted.get(tp)
            if pending:
                pending.difference_update([o for o in pending if o < offset])

    @property
    def recent_leads(self) -> list[str]:
        """Leads whose states are kept decoded, least recently written first."""
        return list(self._recent)

    def forget_states(self) -> None:
        """Drop the recent states: the table may change under them (a rebalance)."""
        self._recent.clear()

    def _remember(self, state: LeadState) -> None:
        recent = self._recent
        recent.pop(state.lead_id, None)  # re-inserted last: the dict's order is recency
        recent[state.lead_id] = state
        if len(recent) > RECENT_STATES:
            del recent[next(iter(recent))]

    def publish(
        self,
        state: LeadState,
        step: Step,
        produced_at: float | None = None,
        event: InputEvent | None = None,
        reason: str | None = None,
        rewrite: bool = False,
    ) -> None:
        """Buffer the state and its history, then the outputs (one producer, in this order).

        `event` caused the step, else a rescore command's `reason` (the history's cause).
        `rewrite`: the history is written again even unchanged (a replay after an abort).

        A crash can keep a prefix of what was buffered. With the state first, the outputs
        are the part at risk, and the replayed event, then a duplicate, publishes them again
        from the state (core.step.redeliver). Outputs first would risk the reverse: outputs
        published, the state lost with the worker, the event applied again by the partition's
        next owner, and an alert id re-published with another content if its events are
        applied in another order this time.

        Two outputs the state cannot make again go before it: a removal from an account
        and the forget commands of an erasure (the redelivered event, a duplicate, no
        longer knows the account or the visitors). The local store is written at once, so
        a crash could keep the state and lose them: with `flush` (at_least_once) such a
        state is held until `settle` has them acknowledged. exactly_once commits them with
        the state.
        """
        key = state.lead_id.encode()
        for c in step.contributions:
            # Before the state too: a removal must not be lost with a kept state (the
            # replayed event would be a duplicate); sent twice, a contribution is a
            # duplicate to its account.
            account = c.account_id
            partition = partition_for(account, self.partitions)
            self.send(topics.CONTRIBUTIONS, account.encode(), c.to_json(), partition)
        for anonymous_id in step.forget:
            # Before the state: a crash that keeps the erased state keeps these too (the
            # erasure's redelivery no longer knows the visitors); sent twice, they are
            # harmless.
            partition = partition_for(anonymous_id, self.partitions)
            forget = visitors.forget_command(anonymous_id, state.lead_id, state.erased_at or 0)
            self.send(topics.VISITORS, anonymous_id.encode(), forget, partition)
        value = state.to_bytes()
        unmade = step.forget or any(c.removed for c in step.contributions)
        if self.flush is not None and (unmade or self._held):  # later writes keep their order
            self._held[state.lead_id] = value
        else:
            self.store[state.lead_id] = value
        self._remember(state)
        self._record(state.lead_id, step, event, reason, rewrite)
        if step.tombstone:
            self.send(topics.SCORES, key, None)
            if step.republish:
                metrics.REPUBLISHED.labels("tombstone").inc()
        if step.score is not None:
            self._send_score(key, step.score, produced_at, step.republish)
        for alert in step.alerts:
            self.send(topics.ALERTS, key, encode(alert))
            if step.republish:
                metrics.REPUBLISHED.labels("alert").inc()
                continue
            metrics.ALERTS.labels(alert.threshold).inc()

    def _record(
        self,
        lead_id: str,
        step: Step,
        event: InputEvent | None,
        reason: str | None,
        rewrite: bool = False,
    ) -> None:
        """The lead's history: erased with it, a row per published score (a redelivery's
        score again only if the crash lost its row)."""
        if step.tombstone and self.history_store.get(lead_id) is not None:
            del self.history_store[lead_id]
        if step.score is None and not rewrite:
            return  # nothing to record: no read either (sweeps publish states only)
        kept = self.history_store.get(lead_id)
        written = None
        if step.score is not None:
            written = history.record(kept, history.change(step.score, event, reason))
        if written is None and rewrite:
            written = kept
        if written is not None:
            self.history_store[lead_id] = written

    def _send_score(
        self, key: bytes, update: ScoreUpdate, produced_at: float | None, again: bool = False
    ) -> None:
        self.send(topics.SCORES, key, encode(update))
        if again:
            metrics.REPUBLISHED.labels("score").inc()
            return
        metrics.SCORE_UPDATES.inc()
        for flag in update.bot_flags:
            metrics.BOT_FLAGS.labels(flag).inc()
        if produced_at:
            metrics.EVENT_TO_SCORE.observe(max(0.0, time.time() - produced_at))

    # --- sweeps and model changes ----------------------------------------------------

    def handle_rescore(self, msg: Message) -> None:
        """A rescore command for one partition: the decay sweep or a new model.

        It arrives as a message so the writes happen inside stream iteration, on the
        partition that owns the leads (RocksDB tables write to the event's partition). A
        command re-scores one slice of RESCORE_SLICE leads and sends itself on with a
        cursor: a partition can hold 100,000s of leads, and events are served in between.
        """
        try:
            command = orjson.loads(msg.value or b"{}")
            if command.get("table") == "visitors":
                return self._expire_visitors(msg.partition, command)
            if command.get("table") == "accounts":
                return self._count_accounts(msg.partition, command)
            as_of = datetime.fromisoformat(command["as_of"]) if command.get("as_of") else None
            after, reason = command.get("after"), command.get("reason")
            sent, read, last = self.rescore_slice(msg.partition, as_of, after, reason)
        except Exception:
            log.exception("rescore of partition %d failed", msg.partition)
            return
        sent += command.get("sent", 0)
        read += command.get("read", 0)
        if last is not None:
            more = {**command, "after": last, "sent": sent, "read": read}
            self.send(topics.RESCORE, b"rescore", orjson.dumps(more), msg.partition)
            return
        if command.get("reason") == "decay sweep":  # then the visitors gone quiet expire
            expiry = {"table": "visitors", "reason": "visitor expiry"}
            self.send(topics.RESCORE, b"rescore", orjson.dumps(expiry), msg.partition)
        self.leads[msg.partition] = read
        metrics.LEADS.set(sum(self.leads.values()))
        log.info(
            "rescored partition %d (%s): %d leads, %d updates",
            msg.partition,
            command.get("reason"),
            read,
            sent,
        )

    def rescore_slice(
        self,
        partition: int,
        as_of: datetime | None,
        after: str | None = None,
        reason: str | None = None,
    ) -> tuple[int, int, str | None]:
        """Re-score the next slice of a partition's leads, in key order after `after`.

        Returns (score updates sent, leads read, cursor); the cursor is None at the end.
        """
        now = datetime.now(UTC)
        sent = 0
        leads = self.store.partition_slice(partition, after, RESCORE_SLICE)
        for _lead_id, raw in leads:
            state = LeadState.from_bytes(raw)
            as_of_us = None if as_of is None else max(to_us(as_of), state.last_event_us or 0)
            step = rescore(state, self.model, now, as_of_us=as_of_us)
            if step.score is not None or step.alerts:
                self.publish(state, step, reason=reason)
                sent += 1
            elif step.rebuilt:  # a new model's sums: kept, nothing to publish
                self.publish(state, step)
        last = leads[-1][0] if len(leads) == RESCORE_SLICE else None
        return sent, len(leads), last

    def _expire_visitors(self, partition: int, command: dict[str, Any]) -> None:
        """One slice of a partition's visitors: views older than the maximum age go, and
        visitors with nothing left and nothing seen within it."""
        now_us = to_us(datetime.now(UTC))
        after = command.get("after")
        held = command.get("held", 0)
        rows = self.visitor_store.partition_slice(partition, after, RESCORE_SLICE)
        for anonymous_id, raw in rows:
            state = visitors.VisitorState.from_bytes(raw)
            dropped, gone = visitors.expire(state, now_us, self.visitor_max_age_us)
            if gone:
                del self.visitor_store[anonymous_id]
            elif dropped:
                self.visitor_store[anonymous_id] = state.to_bytes()
            held += not gone
            if dropped:
                metrics.VISITOR_VIEWS.labels("expired").inc(dropped)
        if self._next_slice(partition, command, rows, held):
            return
        self.visitors_held[partition] = held
        metrics.VISITORS.set(sum(self.visitors_held.values()))
        count = {"table": "accounts", "reason": "account count"}  # then the accounts
        self.send(topics.RESCORE, b"rescore", orjson.dumps(count), partition)

    def _count_accounts(self, partition: int, command: dict[str, Any]) -> None:
        """One slice of a partition's accounts, counted (those with people) for the gauge."""
        after = command.get("after")
        held = command.get("held", 0)
        rows = self.account_store.partition_slice(partition, after, RESCORE_SLICE)
        held += sum(AccountState.from_bytes(raw).people > 0 for _, raw in rows)
        if self._next_slice(partition, command, rows, held):
            return
        self.accounts_held[partition] = held
        metrics.ACCOUNTS.set(sum(self.accounts_held.values()))

    def _next_slice(
        self, partition: int, command: dict[str, Any], rows: list[tuple[str, bytes]], held: int
    ) -> bool:
        """A full slice was read: send the command on after its last key, with the count so
        far (True). A short one was the partition's last (False)."""
        if len(rows) < RESCORE_SLICE:
            return False
        more = {**command, "after": rows[-1][0], "held": held}
        self.send(topics.RESCORE, b"rescore", orjson.dumps(more), partition)
        return True

    def set_model(self, model: ScoringModel) -> None:
        metrics.MODEL_INFO.labels(self.model.model_version).set(0)
        self.model = model
        metrics.MODEL_INFO.labels(model.model_version).set(1)

    def current(self, lead_id: str) -> ScoreUpdate | None:
        """The lead's current score message (GET /leads/{id}); None when unknown or erased."""
        raw = self.store.get(lead_id)
        if raw is None:
            return None
        state = LeadState.from_bytes(raw)
        if state.is_marker_only:
            return None
        return score_update(lead_id, score(state, self.model), None, datetime.now(UTC))

    def history(self, lead_id: str) -> ScoreHistory | None:
        """The lead's last score changes (GET /leads/{id}/history); None when unknown or
        erased."""
        raw = self.history_store.get(lead_id)
        if raw is None:
            return None
        changes = [c.as_json() for c in history.decode(raw)]
        return ScoreHistory.model_validate({"lead_id": lead_id, "changes": changes})

    def current_account(self, account_id: str) -> AccountScore | None:
        """The account's current score (GET /accounts/{id}); None when no one is in it."""
        state = self.load_account(account_id)
        if state is None or not state.people:
            return None
        return account_score(account_id, account_card(state, self.model), datetime.now(UTC))
