"""The calibration method of docs/contract.md s6, automated.

The control rate is the share of (training) leads that became customers. An
activity's rate is the share of leads that did it (count >= 1) who became
customers. An activity whose rate beats the control earns points in
proportion to its rate (a 36% rate earns 36 raw points). One whose rate falls
below the control beyond chance (an unsubscribe, a hard bounce) earns less than
nothing: minus the gap, in the same units (a 5% rate against a 30% control costs
25 raw points). The others earn none.

From raw points to the model file:
- points = cap = raw points x s: the first occurrence earns the activity its
  full points, because the history says whether a lead did something, not
  how many repeats still matter. In the worker, repeats keep the activity
  topped up as earlier occurrences decay (points x sum of decayed weights,
  at most the cap). Of the variants tried on the synthetic history (caps at
  the base model's occurrences-to-cap, or a common multiple of the points),
  this one ranked held-out leads best, and it is the design's reading:
  "a 36% click rate earns a click 36 points";
- s = min(1, 100 / sum of positive raw points), so the caps together fit the
  0-100 engagement range: a lead that did everything reaches 100, and no subset
  saturates it. One factor for all (negative points too) keeps the points in
  proportion to rates; a negative activity's cap is the size of its loss.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import yaml

from streams.core.model import Activity, ScoringModel
from streams.tools.calibrate.reader import Lead

# One-sided ~97.5% bound: an activity "beats" the control only if its rate does so
# beyond chance. Without it, 3 leads of whom 2 converted would earn 67 points.
Z_BEATS = 1.96


class CalibrationError(ValueError):
    """The history cannot calibrate a model (e.g. too few rows to split)."""


@dataclass(frozen=True, slots=True)
class ActivityFit:
    """What the history says about one activity, and the points that follow."""

    leads: int  # training leads with count >= 1
    converted: int
    rate: float | None  # None when no training lead did it
    rate_low: float | None  # Wilson lower bound of the rate
    lift: float | None  # rate / control rate
    beats_control: bool
    below_control: bool  # significantly below the control: negative points
    points: float
    cap: float


@dataclass(frozen=True, slots=True)
class Calibration:
    rows: int
    converted: int
    control_rate: float
    scale: float  # s in the module docstring
    activities: dict[str, ActivityFit]
    missing: tuple[str, ...]  # base-model activities the export has no column for


def split(leads: list[Lead], holdout: float, seed: int) -> tuple[list[Lead], list[Lead]]:
    """Train and holdout parts, decided per lead by a hash of (seed, lead id).

    Hashing the key rather than drawing in row order keeps a lead on the same
    side whatever the order of the export, and across re-runs.
    """
    if not 0 <= holdout < 1:
        raise CalibrationError(f"holdout must be in [0, 1), got {holdout}")
    train: list[Lead] = []
    held: list[Lead] = []
    for lead in leads:
        (held if _unit(f"{seed}:{lead.key}") < holdout else train).append(lead)
    if not train:
        raise CalibrationError(f"no training rows left of {len(leads)} with holdout {holdout}")
    return train, held


def _unit(key: str) -> float:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def calibrate(train: list[Lead], activities: tuple[str, ...], base: ScoringModel) -> Calibration:
    """Rates and points per activity from the training leads."""
    converted = sum(lead.converted for lead in train)
    control = converted / len(train)
    with_act = dict.fromkeys(activities, 0)
    conv_act = dict.fromkeys(activities, 0)
    for lead in train:
        for name in lead.counts.keys() & with_act.keys():
            with_act[name] += 1
            conv_act[name] += lead.converted
    raw = {a: _raw_fit(with_act[a], conv_act[a], control) for a in activities}
    total = sum(fit.points for fit in raw.values() if fit.points > 0)
    scale = min(1.0, 100.0 / total) if total > 0 else 1.0
    fits = {a: _scaled(fit, scale) for a, fit in raw.items()}
    missing = tuple(a for a in base.engagement.activities if a not in activities)
    return Calibration(len(train), converted, control, scale, fits, missing)


def _raw_fit(leads: int, converted: int, control: float) -> ActivityFit:
    """Unscaled points: 100 x rate for an activity that beats the control, minus
    100 x (control - rate) for one significantly below it, else 0."""
    if leads == 0:
        return ActivityFit(0, 0, None, None, None, False, False, 0.0, 0.0)
    rate = converted / leads
    low = wilson_low(converted, leads, Z_BEATS)
    beats = low > control
    below = not beats and wilson_high(converted, leads, Z_BEATS) < control
    lift = rate / control if control > 0 else None
    points = 100.0 * rate if beats else -100.0 * (control - rate) if below else 0.0
    return ActivityFit(leads, converted, rate, low, lift, beats, below, points, 0.0)


def _scaled(fit: ActivityFit, scale: float) -> ActivityFit:
    # Rounded towards zero, so that the positive caps summed never pass 100.
    points = math.trunc(fit.points * scale * 100) / 100
    return replace(fit, points=points, cap=abs(points))


def wilson_low(successes: int, trials: int, z: float) -> float:
    """Lower bound of the Wilson score interval of a proportion (0 when trials is 0)."""
    if trials == 0:
        return 0.0
    centre, margin = _wilson(successes, trials, z)
    return max(0.0, centre - margin)


def wilson_high(successes: int, trials: int, z: float) -> float:
    """Upper bound of the Wilson score interval of a proportion (1 when trials is 0)."""
    if trials == 0:
        return 1.0
    centre, margin = _wilson(successes, trials, z)
    return min(1.0, centre + margin)


def _wilson(successes: int, trials: int, z: float) -> tuple[float, float]:
    p = successes / trials
    denom = 1 + z * z / trials
    centre = p + z * z / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return centre / denom, margin / denom


def model_text(
    base: ScoringModel, cal: Calibration, source: str, now: datetime | None = None
) -> str:
    """The base model with the calibrated activities, as YAML with a provenance header.

    The version is `calibrated-<date>-<hash of the content>`: the same history,
    base and settings give the same hash, and a worker sees a new version.
    """
    doc = base.model_dump(mode="json")
    doc["engagement"]["activities"] = _activities(base, cal)
    doc["model_version"] = ""
    digest = hashlib.sha256(_dump(doc).encode()).hexdigest()[:8]
    day = (now or datetime.now(UTC)).strftime("%Y%m%d")
    doc["model_version"] = f"calibrated-{day}-{digest}"
    header = (
        f"# Calibrated by `leadscore calibrate` from {source}: {cal.rows} training leads,\n"
        f"# control rate {cal.control_rate:.4f}; base model {base.model_version}.\n"
        "# Activity points are in proportion to each activity's conversion rate\n"
        "# (docs/contract.md s6); everything else is the base model unchanged.\n"
    )
    return header + _dump(doc)


def _activities(base: ScoringModel, cal: Calibration) -> dict[str, dict[str, float]]:
    # A history has counts, not times: how fast an activity fades (a pricing page's
    # half-life) stays the base model's.
    known = base.engagement.activities
    acts = {
        a: Activity(points=f.points, cap=f.cap, half_life_days=_half_life(known, a))
        for a, f in cal.activities.items()
    }
    for name in cal.missing:  # no evidence in the export: earns nothing (reported as a warning)
        acts[name] = Activity(points=0, cap=0, half_life_days=_half_life(known, name))
    # The base model's order first, so a diff against it reads line by line.
    order = [*base.engagement.activities, *sorted(acts.keys() - base.engagement.activities.keys())]
    return {a: acts[a].model_dump() for a in order}


def _half_life(activities: dict[str, Activity], name: str) -> float | None:
    base = activities.get(name)
    return None if base is None else base.half_life_days


def _dump(doc: dict[str, Any]) -> str:
    # Flow style for leaf mappings keeps one activity per line, like the hand-written default.
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100)
