"""`leadscore score`, the offline scorer: the worker's core applied to a JSONL file of events.

Each line is one input event as producers send it. The topic is implied by the
event's `type`, so the same validation as the stream applies; invalid lines are
counted and reported, like dead letters.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn

import orjson
import typer

from schemas.codec import DecodeError, encode, parse_event
from schemas.events import IdentityLinked, InputEvent, PageViewed, lead_of, routing_key
from schemas.outputs import AccountAlert, AccountScore, Alert, ScoreUpdate
from schemas.topics import FORMS, TOPIC_OF_TYPE, WEB
from streams.core import (
    LeadState,
    ModelError,
    ScoringModel,
    process,
    to_us,
    too_far_ahead,
    visitors,
)
from streams.core.accounts import AccountState, Contribution, contribute
from streams.settings import MAX_FUTURE_SKEW_SECONDS, VISITOR_MAX_VIEWS


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
    score_messages: int = 0  # score updates and tombstones a stream would have published
    accounts: dict[str, AccountState] = field(default_factory=dict)
    account_scores: dict[str, AccountScore] = field(default_factory=dict)
    account_alert_log: list[AccountAlert] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return len(self.alert_log)

    def final_account_scores(self) -> Iterator[AccountScore]:
        """Scores of accounts that still have people, by account id."""
        for account_id in sorted(self.account_scores):
            yield self.account_scores[account_id]

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
    max_visitor_views: int = VISITOR_MAX_VIEWS,
    *,
    on_invalid: Callable[[str], None] | None = None,
) -> OfflineRun:
    """Apply every line in order with the streaming core.

    A file has no broker timestamps: events are held to the worker's future-skew rule
    against `now` (default: when the run starts), as if every line had just been produced.
    Anonymous views and links go through the visitors' core, as on the stream; what a
    visitor forwards is applied to its lead at once (any order scores the same).
    `on_invalid(code)` is called for each invalid line, before the next line is read.
    """
    run = OfflineRun()
    now = now or datetime.now(UTC)
    reference_us, max_skew_us = to_us(now), int(max_future_skew_seconds * 1e6)
    for raw in lines:
        if not raw.strip():
            continue
        try:
            event = parse_event(raw, topic_for(raw))
        except DecodeError as exc:
            run.errors[exc.code] += 1
            if on_invalid is not None:
                on_invalid(exc.code)
            continue
        if too_far_ahead(event, reference_us, max_skew_us) is not None:
            run.errors["future_event"] += 1
            if on_invalid is not None:
                on_invalid("future_event")
            continue
        lead_id = lead_of(event)
        if lead_id is None:
            assert isinstance(event, PageViewed | IdentityLinked)
            _visit(run, event, model, now, max_visitor_views)
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
        run.score_messages += 1
    if step.score is not None:
        run.scores[lead_id] = step.score
        run.score_messages += 1
    for contribution in step.contributions:
        _contribute(run, contribution, model, now)


def _contribute(run: OfflineRun, c: Contribution, model: ScoringModel, now: datetime) -> None:
    """A lead's contribution reaches its account at once (any order scores the same)."""
    account = run.accounts.setdefault(c.account_id, AccountState(c.account_id))
    step = contribute(account, c, model, now)
    run.account_alert_log.extend(step.alerts)
    if step.tombstone:
        run.account_scores.pop(c.account_id, None)
    if step.score is not None:
        run.account_scores[c.account_id] = step.score


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
    strict: bool = typer.Option(
        False, "--strict", help="exit 1 when any line is invalid (default: only when all are)"
    ),
    accounts: Path | None = typer.Option(
        None, "--accounts", help="also write the final account scores to this JSONL file"
    ),
) -> None:
    """Score a JSONL file of events offline with the worker's core; print final scores.

    The summary on stderr counts outcomes and invalid lines by error and names the first
    invalid line numbers. Exit 1 when every non-empty line was invalid (or, with --strict,
    any line); exit 2, with one line saying why, when the file or the model cannot be used.
    """
    try:
        scoring = ScoringModel.load(model)
    except ModelError as exc:
        _fail(exc.one_line(), 2)
    reference = now.replace(tzinfo=now.tzinfo or UTC) if now is not None else None
    lines = _Lines()
    try:
        with open_events(events) as (stream, size), _progress(size) as advance:
            run = score_lines(
                lines.numbered(stream, advance),
                scoring,
                reference,
                max_future_skew,
                on_invalid=lines.invalid,
            )
    except OSError as exc:
        _fail(f"cannot read {events}: {exc.strerror or exc}", 2)
    out = sys.stdout.buffer
    for update in run.final_scores():
        out.write(encode(update) + b"\n")
    if accounts is not None:
        try:
            accounts.write_bytes(b"".join(encode(a) + b"\n" for a in run.final_account_scores()))
        except OSError as exc:
            _fail(f"cannot write {accounts}: {exc.strerror or exc}", 2)
    summary = {
        "outcomes": dict(run.outcomes),
        "invalid": dict(run.errors),
        "alerts": run.alerts,
        "accounts": len(run.account_scores),
        "account_alerts": len(run.account_alert_log),
        "lines": lines.read,
        "invalid_lines": lines.invalid_numbers,
    }
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")
    verdict = lines.verdict(strict)
    if verdict is not None:
        _fail(verdict, 1)


MAX_LINES_NAMED = 20  # invalid line numbers named in the summary
PROGRESS_MIN_BYTES = 1 << 20  # smaller files are scored before a bar would help


@dataclass
class _Lines:
    """The command's line bookkeeping around `score_lines`: numbers (1-based, blank lines
    counted, as an editor shows them) of the lines found invalid."""

    current: int = 0  # the line score_lines is working on
    read: int = 0  # non-empty lines
    invalid_count: int = 0
    invalid_numbers: list[int] = field(default_factory=list)  # the first MAX_LINES_NAMED

    def numbered(self, stream: Iterable[bytes], advance: Callable[[int], None]) -> Iterator[bytes]:
        for number, raw in enumerate(stream, 1):
            self.current = number
            if raw.strip():
                self.read += 1
            advance(len(raw))
            yield raw

    def invalid(self, _code: str) -> None:
        # score_lines reports a line before it reads the next: `current` is that line.
        self.invalid_count += 1
        if len(self.invalid_numbers) < MAX_LINES_NAMED:
            self.invalid_numbers.append(self.current)

    def verdict(self, strict: bool) -> str | None:
        """Why the run fails, or None."""
        if not self.invalid_count or (not strict and self.invalid_count < self.read):
            return None
        named = ", ".join(map(str, self.invalid_numbers))
        more = ", ..." if self.invalid_count > len(self.invalid_numbers) else ""
        where = f"line{'s' if self.invalid_count > 1 else ''} {named}{more}"
        if self.invalid_count == self.read == 1:
            return f"nothing scored: the only line is invalid ({where})"
        if self.invalid_count == self.read:
            return f"nothing scored: all {self.read} lines are invalid ({where})"
        return f"{self.invalid_count} of {self.read} lines invalid (--strict): {where}"


@contextmanager
def open_events(events: Path) -> Iterator[tuple[BinaryIO, int | None]]:
    """The input and its size in bytes (None for stdin, which gets no progress bar)."""
    if str(events) == "-":
        yield sys.stdin.buffer, None
        return
    with events.open("rb") as stream:
        yield stream, os.fstat(stream.fileno()).st_size


@contextmanager
def _progress(size: int | None) -> Iterator[Callable[[int], None]]:
    """`advance(bytes)` for a transient bar on stderr: only for a file of some size and a
    terminal on stderr, so pipes, logs and tests see the summary alone."""
    if size is None or size < PROGRESS_MIN_BYTES or not sys.stderr.isatty():
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("score", total=size)
        done = shown = 0

        def advance(n: int) -> None:
            nonlocal done, shown
            done += n
            if done - shown >= 1 << 16:  # a call per 64 KiB; rich redraws 10 times a second
                bar.update(task, completed=done)
                shown = done

        yield advance


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
