"""One step of the pipeline, as a pure function: state + event -> outputs.

The Faust worker, the offline scorer and the decay sweep all call these two
functions, which is why they agree exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from schemas.events import InputEvent, LeadErased
from schemas.outputs import Alert, Contact, Factor, ScoreUpdate
from streams.core import engagement
from streams.core.accounts import Contribution, account_of, buying_role, version_of
from streams.core.apply import Outcome, apply_event, from_us, to_us
from streams.core.model import ScoringModel
from streams.core.records import event_key
from streams.core.scoring import Card, score
from streams.core.state import AlertArm, LeadState, Position, Published, Sent


@dataclass(slots=True)
class Step:
    """What one step decided; the shell publishes it and stores the state."""

    outcome: Outcome
    score: ScoreUpdate | None = None
    alerts: list[Alert] = field(default_factory=list)
    tombstone: bool = False
    card: Card | None = None
    # A redelivered event's outputs, sent again (the state is unchanged): see `redeliver`.
    republish: bool = False
    # Why the applied event looks machine-made (a mail scanner's open or click), or None.
    machine: str | None = None
    # The engagement sums were rebuilt (a new model): the state changed, write it.
    rebuilt: bool = False
    # An erasure's visitors (anonymous ids): their held page views are to be dropped too.
    forget: list[str] = field(default_factory=list)
    # To the lead's account(s): its new contribution, and a removal from one it left.
    contributions: list[Contribution] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """The event changed the state (applied, or counted beyond the dedupe window):
        store the state and publish the outputs."""
        return self.outcome in ("applied", "stale")


# Alerts kept in a lead's outbox: enough for every alert a replay window can hold (a
# lead crosses each threshold once, again only after falling below it by the hysteresis).
OUTBOX_SIZE = 4


def process(
    state: LeadState,
    event: InputEvent,
    model: ScoringModel,
    now: datetime,
    position: Position | None = None,
    outputs_may_be_lost: bool = True,
) -> Step:
    """Apply one event to `state` (in place) and decide what to publish.

    `position` is where the event's message was read (None offline): it tells a
    redelivery after a crash, which may publish its outputs again, from a re-send.
    `outputs_may_be_lost` False says the shell knows that a duplicate at this position
    had its outputs committed with its state (exactly_once): nothing is published again.
    """
    was_erased = state.erased_at
    visitors = state.visitors  # erase() replaces it: this is the set before
    account = account_of(state)
    outcome = apply_event(state, event, model)
    if outcome == "stale":  # counted beyond the window: a new count to publish
        step = rescore(state, model, now, cause=event, account_before=account)
        step.outcome = outcome
        state.left_account = _left(step)
        return step
    if outcome != "applied":
        lost = position if outputs_may_be_lost else None
        return redeliver(state, event, outcome, model, now, lost)
    key = event_key(event.event_id)
    # An erasure id is not kept: the marker holds no more than the lead id and erasure time.
    erasure = isinstance(event, LeadErased)
    state.last_event = None if erasure else key
    state.last_position = None if erasure else position
    tombstone = state.erased_at != was_erased
    step = rescore(state, model, now, cause=event, account_before=account)
    step.tombstone = tombstone
    state.left_account = None if erasure else _left(step)
    if erasure:
        step.forget = sorted(visitors)
    else:
        at = to_us(event.occurred_at)
        i = state.records.find(at, key)
        step.machine = None if i is None else engagement.signal_at(state.records, i, model.rules)
    if step.alerts:
        sent = [Sent(key, a.model_dump(mode="json"), position) for a in step.alerts]
        state.outbox = [*state.outbox, *sent][-OUTBOX_SIZE:]
    return step


def redeliver(
    state: LeadState,
    event: InputEvent,
    outcome: Outcome,
    model: ScoringModel,
    now: datetime,
    position: Position | None = None,
) -> Step:
    """A duplicate leaves the state as it is, but when it is the redelivery of the very
    message that the lead's latest outputs came from, those outputs are published again.

    Why: a worker buffers the outputs of an event and writes the lead's new state; a crash
    can keep the state (in the local store, or on the changelog, another partition) and lose
    the outputs. The event is replayed (its offset was not committed), found a duplicate,
    and would publish nothing: the lead's final score, or an alert, would be lost. So the
    message that applied the last event, read again at the same position, re-publishes the
    current score (a tombstone if the lead is erased), and the message of an event that
    caused an alert still in the outbox re-publishes that alert as it was. Consumers see
    the same values again: the scores topic is compacted and alert ids are deterministic.
    The shell also writes the state again, for a changelog write lost with the outputs.
    A re-send (a new message with a known event id, as producers retry) publishes nothing.
    The score is computed again as of the time it was published, and sent only when it
    is the very score published (a model changed since is left to its rescore sweep).
    """
    step = Step(outcome)
    if position is None:
        return step
    key = event_key(event.event_id)
    replayed_erasure = isinstance(event, LeadErased) and to_us(event.occurred_at) == state.erased_at
    # An erasure keeps no position (the marker holds the lead id and erasure time only):
    # a duplicate of it sends the tombstone again, which carries nothing.
    same_message = position == state.last_position and key == state.last_event
    if same_message or replayed_erasure:
        if state.is_marker_only:
            step.tombstone = replayed_erasure
        elif state.published is not None:
            card = score(state, model, state.published.as_of_us)
            if card.digest() == state.published.digest:
                step.score = score_update(state.lead_id, card, event, now)
                occurred = to_us(event.occurred_at)
                before = state.left_account or card.account_id
                step.contributions = contributions(state, card, model, occurred, before)
    step.alerts = [
        Alert.model_validate(s.alert)
        for s in state.outbox
        if s.cause == key and s.position == position
    ]
    step.republish = step.tombstone or step.score is not None or bool(step.alerts)
    return step


def rescore(
    state: LeadState,
    model: ScoringModel,
    now: datetime,
    as_of_us: int | None = None,
    cause: InputEvent | None = None,
    account_before: str | None = None,
) -> Step:
    """Score `state`; publish only when a published field changed (sweeps, model changes).

    `account_before`: the lead's account before the event (`process` says), which gets a
    removal when the lead is in another one now (or none: erased).
    """
    if state.is_marker_only:
        step = Step("applied")
        step.contributions = contributions(state, None, model, 0, account_before)
        return step
    rebuilt = engagement.sync(state, model.rules)
    card = score(state, model, as_of_us)
    digest = card.digest()
    if state.published is not None and digest == state.published.digest:
        return Step("applied", card=card, rebuilt=rebuilt)
    previous = state.published.score if state.published else 0
    state.published = Published(digest, card.score, as_of_us)
    occurred = cause.occurred_at if cause is not None else from_us(as_of_us or to_us(now))
    update = score_update(state.lead_id, card, cause, now)
    alerts = _alerts(state, card, model, previous, occurred, now)
    step = Step("applied", score=update, alerts=alerts, card=card, rebuilt=rebuilt)
    before = card.account_id if account_before is None else account_before
    rescored = to_us(now) if cause is None else 0  # a sweep or a new model
    step.contributions = contributions(state, card, model, to_us(occurred), before, rescored)
    return step


def _left(step: Step) -> str | None:
    """The account a step's removal goes to, if any."""
    return next((c.account_id for c in step.contributions if c.removed), None)


def contributions(
    state: LeadState,
    card: Card | None,
    model: ScoringModel,
    occurred_us: int,
    before: str | None,
    rescored_us: int = 0,
) -> list[Contribution]:
    """The lead's published score changed (`card`, None when erased): its account gets the
    new contribution, and the account it was in before (`before`), if another, a removal.
    `rescored_us`: when a sweep or a new model re-scored the lead (0 for an event)."""
    after = None if card is None else card.account_id
    version = version_of(state, rescored_us)
    out = []
    if before is not None and before != after:
        out.append(Contribution(state.lead_id, before, version, removed=True))
    if card is not None and after is not None:
        out.append(
            Contribution(
                lead_id=state.lead_id,
                account_id=after,
                version=version,
                fit=card.fit,
                engagement=card.engagement,
                score=card.score,
                validity=card.validity,
                stage=card.stage,
                role=buying_role(state, model),
                occurred_us=occurred_us,
            )
        )
    return out


def score_update(lead_id: str, card: Card, cause: InputEvent | None, now: datetime) -> ScoreUpdate:
    # One validation from plain values (pydantic builds the nested factors in Rust).
    return ScoreUpdate.model_validate(
        {
            "lead_id": lead_id,
            "score": card.score,
            "fit": card.fit,
            "engagement": card.engagement,
            "validity": card.validity,
            "grade": card.grade,
            "stage": card.stage,
            "bot_flags": list(card.bot_flags),
            "factors": _factor_dicts(card),
            "model_version": card.model_version,
            "events_counted": card.events_counted,
            "last_event_at": None if card.last_event_us is None else from_us(card.last_event_us),
            "cause_event_id": None if cause is None else cause.event_id,
            "contactable": card.contactable,
            "account_id": card.account_id,
            "updated_at": now,
        }
    )


def _factor_dicts(card: Card) -> list[dict[str, object]]:
    return [{"factor": name, "points": points} for name, points in card.factors]


def _alerts(
    state: LeadState,
    card: Card,
    model: ScoringModel,
    previous: int,
    occurred: datetime,
    now: datetime,
) -> list[Alert]:
    """Fire on an upward crossing; re-arm only below level - hysteresis."""
    alerts = []
    hysteresis = model.thresholds.hysteresis
    for name, level in sorted(model.thresholds.levels.items(), key=lambda kv: kv[1]):
        arm = state.alerts.setdefault(name, AlertArm())
        if arm.armed and card.score >= level:
            arm.armed = False
            arm.fired += 1
            alerts.append(_alert(state, card, name, level, previous, occurred, now, arm.fired))
        elif not arm.armed and card.score < level - hysteresis:
            arm.armed = True
    return alerts


def alert_id(lead_id: str, erased_at: int | None, threshold: str, nth: int) -> str:
    """Deterministic, so a replay after a crash re-publishes the same id."""
    key = f"{lead_id}\x1f{erased_at or 0}\x1f{threshold}\x1f{nth}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _alert(
    state: LeadState,
    card: Card,
    name: str,
    level: int,
    previous: int,
    occurred: datetime,
    now: datetime,
    nth: int,
) -> Alert:
    return Alert(
        alert_id=alert_id(state.lead_id, state.erased_at, name, nth),
        lead_id=state.lead_id,
        threshold=name,
        level=level,
        score=card.score,
        previous_score=previous,
        factors=[Factor.model_validate(f) for f in _factor_dicts(card)],
        contact=contact(state),
        contactable=card.contactable,
        occurred_at=occurred,
        emitted_at=now,
    )


def contact(state: LeadState) -> Contact:
    """The lead's contact details as last known (alerts only: never logged)."""
    p = {k: v.value for k, v in state.profile.items()}
    name = " ".join(x for x in (p.get("first_name"), p.get("last_name")) if x) or None
    return Contact(
        name=name, email=p.get("email"), company=p.get("company"), job_title=p.get("job_title")
    )
