"""`leadscore score`, the offline scorer: the worker's core applied to a JSONL file of events.

Each line is one input event as producers send it. The topic is implied by the
event's `type`, so the same validation as the stream applies; invalid lines are
counted and reported, like dead letters.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer

from schemas.codec import DecodeError, encode, parse_event
from schemas.events import IdentityLinked, InputEvent, PageViewed, lead_of, routing_key
from schemas.outputs import Alert, ScoreUpdate
from schemas.topics import FORMS, TOPIC_OF_TYPE, WEB
from streams.core import LeadState, ScoringModel, process, to_us, too_far_ahead, visitors
from streams.settings import MAX_FUTURE_SKEW_SECONDS, Settings


def topic_for(raw: bytes) -> str:
    """The contract topic an event belongs on, from its `type` (leads.forms if unknown)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return FORMS.name
    kind = doc.get("type") if isinstance(doc, dict) else None
    return TOPIC_OF_TYPE.get(kind, FORMS.name) if isinstance(kind, str) else FORMS.name


@dataclass
class OfflineRun:
    """Final state of an offline run: latest score per lead, and the counts."""

    scores: dict[str, ScoreUpdate] = field(default_factory=dict)
    states: dict[str, LeadState] = field(default_factory=dict)
    visitors: dict[str, visitors.VisitorState] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    alert_log: list[Alert] = field(default_factory=list)  # every alert, in the order issued

    @property
    def alerts(self) -> int:
        return len(self.alert_log)

    def final_scores(self) -> Iterator[ScoreUpdate]:
        """Scores of leads that still exist (erased leads have none), by lead id."""
        for lead_id in sorted(self.scores):
            if not self.states[lead_id].is_marker_only:
                yield self.scores[lead_id]


def score_lines(
    lines: Iterable[bytes],
    model: ScoringModel,
    now: datetime | None = None,
    max_future_skew_seconds: float = MAX_FUTURE_SKEW_SECONDS,
    max_visitor_views: int | None = None,
) -> OfflineRun:
    """Apply every line in order with the streaming core.

    A file has no broker timestamps: events are held to the worker's future-skew rule
    against `now` (default: when the run starts), as if every line had just been produced.
    Anonymous views and links go through the visitors' core, as on the stream; what a
    visitor forwards is applied to its lead at once (any order scores the same).
    """
    run = OfflineRun()
    now = now or datetime.now(UTC)
    reference_us, max_skew_us = to_us(now), int(max_future_skew_seconds * 1e6)
    max_views = max_visitor_views or Settings.model_fields["visitor_max_views"].default
    for raw in lines:
        if not raw.strip():
            continue
        try:
            event = parse_event(raw, topic_for(raw))
        except DecodeError as exc:
            run.errors[exc.code] += 1
            continue
        if too_far_ahead(event, reference_us, max_skew_us) is not None:
            run.errors["future_event"] += 1
            continue
        lead_id = lead_of(event)
        if lead_id is None:
            assert isinstance(event, PageViewed | IdentityLinked)
            _visit(run, event, model, now, max_views)
        else:
            _apply(run, lead_id, event, model, now)
    return run


def _apply(
    run: OfflineRun, lead_id: str, event: InputEvent, model: ScoringModel, now: datetime
) -> None:
    state = run.states.setdefault(lead_id, LeadState(lead_id))
    step = process(state, event, model, now)
    run.outcomes[step.outcome] += 1
    for anonymous_id in step.forget:
        visitor = run.visitors.get(anonymous_id)
        if visitor is not None:
            visitors.forget(visitor, lead_id, state.erased_at or 0)
    if step.republish:  # a duplicate's outputs sent again: nothing new offline
        return
    run.alert_log.extend(step.alerts)
    if step.tombstone:
        run.scores.pop(lead_id, None)
    if step.score is not None:
        run.scores[lead_id] = step.score


def _visit(
    run: OfflineRun,
    event: PageViewed | IdentityLinked,
    model: ScoringModel,
    now: datetime,
    max_views: int,
) -> None:
    anonymous_id = routing_key(event)
    visitor = run.visitors.setdefault(anonymous_id, visitors.VisitorState(anonymous_id))
    result = visitors.visit(visitor, event, max_views)
    run.outcomes[result.outcome] += 1
    for lead_id, value in result.forward:
        _apply(run, lead_id, parse_event(value, WEB.name), model, now)


def score(
    events: Path = typer.Argument(..., help="JSONL file of input events ('-' for stdin)"),
    model: Path | None = typer.Option(None, help="model file (default: the packaged one)"),
    now: datetime | None = typer.Option(
        None,
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"],
        help="the time events are judged against: later than this plus the allowed skew is "
        "invalid (future_event) [default: now; without an offset, UTC]",
    ),
    max_future_skew: float = typer.Option(
        MAX_FUTURE_SKEW_SECONDS, min=0, help="seconds an event may be dated after --now"
    ),
) -> None:
    """Score a JSONL file of events offline with the worker's core; print final scores."""
    scoring = ScoringModel.load(model)
    reference = now.replace(tzinfo=now.tzinfo or UTC) if now is not None else None
    stream = sys.stdin.buffer if str(events) == "-" else events.open("rb")
    with stream:
        run = score_lines(stream, scoring, reference, max_future_skew)
    out = sys.stdout.buffer
    for update in run.final_scores():
        out.write(encode(update) + b"\n")
    summary = {"outcomes": dict(run.outcomes), "invalid": dict(run.errors), "alerts": run.alerts}
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")
