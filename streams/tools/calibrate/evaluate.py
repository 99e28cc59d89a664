"""How well a model ranks held-out leads: ROC AUC, top-decile conversion, and the
conversion of each tenth by score (the lift chart).

Scores are the engagement the worker would publish for the row's counts,
computed with the core's own capping rule (`capped_points`, `engagement_total`).
A history export has counts, not timestamps, so every occurrence weighs 1
(no decay): the ranking as of the end of the period.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby, pairwise

from streams.core.model import Activity, ScoringModel
from streams.core.scoring import capped_points, engagement_total
from streams.tools.calibrate.reader import Lead


def engagement_scores(leads: Sequence[Lead], model: ScoringModel) -> list[int]:
    """The published engagement (0-100) of each lead under `model`."""
    return [
        engagement_total(capped_points({k: float(c) for k, c in lead.counts.items()}, model))
        for lead in leads
    ]


def equal_points_model(model: ScoringModel, activities: Sequence[str]) -> ScoringModel:
    """The baseline: every exported activity earns the same points and the same cap.

    Points and cap are the calibrated model's means, so both models spend the
    same engagement budget and differ only in which activities they favour.
    """
    acts = [model.engagement.activities[a] for a in activities]
    points = sum(a.points for a in acts) / len(acts)
    cap = sum(a.cap for a in acts) / len(acts)
    if points <= 0 or cap <= 0:  # nothing beat the control: any equal split will do
        points, cap = 10.0, 10.0
    equal = dict.fromkeys(activities, Activity(points=points, cap=cap))
    engagement = model.engagement.model_copy(update={"activities": equal})
    return model.model_copy(update={"engagement": engagement})


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """ROC AUC by the rank (Mann-Whitney U) formula; tied scores share their mean rank.

    AUC = (sum of positive ranks - P(P+1)/2) / (P x N): the chance that a random
    converter outranks a random non-converter, ties counting one half. None when
    only one class is present (the AUC is undefined, not 0.5).
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")
    positives = sum(1 for y in labels if y)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=scores.__getitem__)
    rank_sum = 0.0
    start = 0  # 0-based position of the tie group's first member
    for _, group in groupby(order, key=scores.__getitem__):
        members = list(group)
        mean_rank = start + (len(members) + 1) / 2  # 1-based ranks start+1 .. start+len
        rank_sum += mean_rank * sum(1 for i in members if labels[i])
        start += len(members)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def top_decile_rate(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Conversion rate of the top 10% by score (None for no rows).

    When a tie group straddles the cut, it contributes its own conversion rate
    for the places left, so the result does not depend on row order.
    """
    if not scores:
        return None
    take = math.ceil(len(scores) / 10)
    ranked = sorted(range(len(scores)), key=lambda i: -scores[i])
    expected = 0.0
    left = take
    for _, group in groupby(ranked, key=scores.__getitem__):
        members = list(group)
        used = min(left, len(members))
        expected += used * sum(1 for i in members if labels[i]) / len(members)
        left -= used
        if left == 0:
            break
    return expected / take


def decile_rates(scores: Sequence[float], labels: Sequence[bool]) -> list[tuple[int, float]]:
    """(leads, conversion rate) of each tenth of the leads by score, best first: the lift
    chart's bars. A tie group spread over a cut gives each place its own rate, as above.
    Empty below 10 rows."""
    n = len(scores)
    if n < 10:
        return []
    bounds = [round(d * n / 10) for d in range(11)]
    ranked = sorted(range(n), key=lambda i: -scores[i])
    place_rate: list[float] = []  # the expected conversion of each place, best first
    for _, group in groupby(ranked, key=scores.__getitem__):
        members = list(group)
        place_rate += [sum(1 for i in members if labels[i]) / len(members)] * len(members)
    return [(hi - lo, sum(place_rate[lo:hi]) / (hi - lo)) for lo, hi in pairwise(bounds)]


def rate(labels: Sequence[bool]) -> float | None:
    """Share of true labels (None for no rows)."""
    return sum(1 for y in labels if y) / len(labels) if labels else None
