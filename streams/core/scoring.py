"""Turning a lead's state into its published score: fit, engagement, validity.

Read this file top to bottom to know how a score is made (docs/contract.md s6).
Everything is a pure function of (state, model, as_of).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from schemas.outputs import Grade, Stage
from streams.core import decay, engagement
from streams.core.accounts import account_of
from streams.core.model import ScoringModel
from streams.core.signals import bot_flags, is_contactable, is_disqualified
from streams.core.state import LeadState, published_digest

TOP_FACTORS = 5


@dataclass(frozen=True, slots=True)
class Card:
    """The published fields of a score (ScoreUpdate minus cause and timestamps)."""

    score: int
    fit: int
    engagement: int
    validity: float
    grade: Grade
    stage: Stage
    bot_flags: tuple[str, ...]
    factors: tuple[tuple[str, float], ...]
    model_version: str
    events_counted: int
    last_event_us: int | None
    machine_events: int
    contactable: bool = True
    account_id: str | None = None

    def published(self) -> dict[str, Any]:
        """What change detection compares (everything a consumer sees)."""
        return {
            "score": self.score,
            "fit": self.fit,
            "engagement": self.engagement,
            "validity": self.validity,
            "grade": self.grade,
            "stage": self.stage,
            "bot_flags": list(self.bot_flags),
            "factors": [list(f) for f in self.factors],
            "model_version": self.model_version,
            "events_counted": self.events_counted,
            "last_event_us": self.last_event_us,
            "contactable": self.contactable,
            "account_id": self.account_id,
        }

    def digest(self) -> bytes:
        """What a lead keeps of its last published score, to tell a change."""
        return published_digest(self.published())


def score(state: LeadState, model: ScoringModel, as_of_us: int | None = None) -> Card:
    """Score `state` as of `as_of_us` (default: its newest event, so replays agree).

    Never as of a time before the lead's newest record: a record dated after `as_of_us`
    (a sweep's clock behind an event's) makes the lead scored as of that record instead,
    so no occurrence ever weighs more than 1 (and guarantee 8 bounds how far ahead).
    """
    last = state.last_event_us
    as_of = as_of_us if as_of_us is not None else (last or 0)
    newest = state.records.newest_at()
    if newest is not None and newest > as_of:
        as_of = newest
    fit_pts = fit_points(state, model)
    eng_pts, machine = engagement_points(state, model, as_of)
    fit = _clamp(sum(fit_pts.values()))
    engagement = engagement_total(eng_pts)
    flags = bot_flags(state, model)
    validity = math.prod(model.bots.factors[f] for f in flags)
    w = model.weights
    raw = w.fit * fit + w.engagement * engagement
    disqualified = is_disqualified(state, model)
    total = 0 if disqualified else _clamp(validity * raw)
    factors = _factors(fit_pts, eng_pts, flags, model, raw, machine)
    return Card(
        score=total,
        fit=fit,
        engagement=engagement,
        validity=round(validity, 4),
        grade=grade(fit, model),
        stage=stage(state, model, total, engagement, disqualified),
        bot_flags=flags,
        factors=factors,
        model_version=model.model_version,
        events_counted=state.events_counted,
        last_event_us=last,
        machine_events=machine,
        contactable=is_contactable(state),
        account_id=account_of(state),
    )


def fit_points(state: LeadState, model: ScoringModel) -> dict[str, float]:
    """Points for each profile criterion that matches the ideal customer profile."""
    p = {k: v.value for k, v in state.profile.items()}
    fit = model.fit
    pts: dict[str, float] = {}
    size = p.get("company_size")
    for band in fit.company_size_bands:
        if size is not None and band.min <= size and (band.max is None or size <= band.max):
            pts[f"company_size {band.label()}"] = band.points
            break
    industry = p.get("industry")
    if industry and industry.strip().lower() in model.industry_set:
        pts["industry"] = fit.industries.points
    if p.get("country") in fit.countries.values:
        pts["country"] = fit.countries.points
    title = p.get("job_title") or ""
    seniority = model.seniority_of(title) if title else None
    if seniority is not None:
        pts[f"seniority {seniority.name}"] = seniority.points
    pts.update(_bant_points(p, model))
    return {k: v for k, v in pts.items() if v}


def _bant_points(p: dict[str, Any], model: ScoringModel) -> dict[str, float]:
    bant = model.fit.bant
    pts: dict[str, float] = {}
    budget = p.get("budget")
    if budget is not None and budget >= bant.budget_min:
        pts["budget"] = bant.budget_points
    authority = p.get("authority")
    if authority in bant.authority_points:
        pts[f"authority {authority}"] = bant.authority_points[authority]
    if p.get("need"):
        pts["need"] = bant.need_points
    timeline = p.get("timeline")
    if timeline in bant.timeline_points:
        pts[f"timeline {timeline}"] = bant.timeline_points[timeline]
    return pts


def engagement_points(
    state: LeadState, model: ScoringModel, as_of_us: int
) -> tuple[dict[str, float], int]:
    """Capped, decayed points per activity, and how many events were machine-made.

    Each occurrence weighs 2^-(age / half-life), age measured from `as_of_us` (at or after
    the newest record). The lead's tally holds the exact sums of the weights (decay.py,
    engagement.py): this is O(1) per activity, and the same set of records gives the same
    sums to the last bit whatever order they came in. Activities go in the model's order
    (sorted), so the float arithmetic after the sums is in one order too.
    """
    rules = model.rules
    engagement.sync(state, rules)
    newest = state.records.newest_at()
    weights: dict[str, float] = {}
    if newest is not None:
        scales: dict[int, decay.Scale] = {}
        for kind, total in sorted(state.tally.sums.items()):
            half_life = rules.half_lives[kind]
            by = scales.get(half_life)
            if by is None:
                by = scales[half_life] = decay.scale(
                    decay.epoch(newest, half_life), as_of_us, half_life
                )
            weights[kind] = decay.scaled(total, by)
    return capped_points(weights, model), state.tally.machine


def capped_points(weights: Mapping[str, float], model: ScoringModel) -> dict[str, float]:
    """Points per activity for its occurrence weight: points x weight, at most the cap
    (for negative points: a loss of at most the cap).

    The one capping rule, shared by the worker (decayed weights) and calibration
    (plain counts from a history export), so both rank leads the same way.
    Activities the model does not score, and zero contributions, are left out.
    """
    acts = model.engagement.activities
    pts: dict[str, float] = {}
    for kind, weight in weights.items():
        act = acts.get(kind)
        if act is None:
            continue
        raw = act.points * weight
        value = min(act.cap, raw) if raw >= 0 else max(-act.cap, raw)
        if value:
            pts[kind] = value
    return pts


def engagement_total(points: Mapping[str, float]) -> int:
    """The published engagement (0-100) from the capped points per activity: negative
    signals take points away, and the total never goes below 0."""
    return _clamp(sum(points.values()))


GRADES: tuple[Literal["A", "B", "C"], ...] = ("A", "B", "C")


def grade(fit: int, model: ScoringModel) -> Grade:
    """The first grade whose minimum fit is reached (a grade left out is never given)."""
    for name in GRADES:
        if name in model.grades and fit >= model.grades[name]:
            return name
    return "D"


def stage(state: LeadState, model: ScoringModel, total: int, eng: int, disq: bool) -> Stage:
    """Lifecycle stage: outcomes win, then the highest threshold reached."""
    outcome = state.profile.get("outcome")
    outcome_value = None if outcome is None else outcome.value
    if disq:
        return "disqualified"
    if outcome_value == "converted":
        return "converted"
    levels = model.thresholds.levels
    if "sql" in levels and total >= levels["sql"]:
        return "sql"
    if "mql" in levels and total >= levels["mql"]:
        return "mql"
    return "engaged" if eng > 0 else "new"


def _factors(
    fit_pts: dict[str, float],
    eng_pts: dict[str, float],
    flags: tuple[str, ...],
    model: ScoringModel,
    raw: float,
    machine: int,
) -> tuple[tuple[str, float], ...]:
    """The largest contributions in score points, so a person can see why."""
    w = model.weights
    items = [(k, w.fit * v) for k, v in fit_pts.items()]
    items += [(k, w.engagement * v) for k, v in eng_pts.items()]
    remaining = raw
    for flag in flags:  # each multiplier's cost, taken in turn
        factor = model.bots.factors[flag]
        items.append((f"{flag} x{factor:g}", -(remaining * (1 - factor))))
        remaining *= factor
    items.sort(key=lambda kv: (-abs(kv[1]), kv[0]))
    # The largest contributions, and every loss: a person must see why points went.
    shown = items[:TOP_FACTORS] + [kv for kv in items[TOP_FACTORS:] if kv[1] < 0]
    top = [(k, round(v, 2)) for k, v in shown]
    if machine:
        top.append((f"machine_engagement x{machine}", 0.0))
    return tuple(top)


def _clamp(x: float) -> int:
    """Guarantee 5: published scores stay within 0-100 whatever the input."""
    if not math.isfinite(x):
        return 0
    return max(0, min(100, round(x)))
