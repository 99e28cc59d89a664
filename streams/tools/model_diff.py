"""`leadscore model diff CANDIDATE EVENTS`: what a candidate model would change, before it
is published. Both models score the same events offline (the worker's core, as
`leadscore score` does, against one `now`); the final scores are compared lead by lead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemas.outputs import ScoreUpdate
from streams.tools.score import OfflineRun


@dataclass(frozen=True)
class Mover:
    """One lead's final score under each model."""

    lead_id: str
    before: ScoreUpdate
    after: ScoreUpdate

    @property
    def delta(self) -> int:
        return self.after.score - self.before.score

    def as_dict(self) -> dict[str, Any]:
        b, a = self.before, self.after
        return {
            "lead_id": self.lead_id,
            "score": [b.score, a.score],
            "stage": [b.stage, a.stage],
            "grade": [b.grade, a.grade],
        }


@dataclass(frozen=True)
class ModelDiff:
    """How the candidate's final scores differ from the current model's."""

    current_version: str
    candidate_version: str
    leads: int
    score_changed: int
    stage_moves: Counter[tuple[str, str]] = field(default_factory=Counter)  # only changes
    grade_moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    alerts: tuple[Counter[str], Counter[str]] = field(
        default_factory=lambda: (Counter(), Counter())
    )
    up: tuple[Mover, ...] = ()  # the biggest rises, biggest first
    down: tuple[Mover, ...] = ()  # the biggest falls, biggest first

    @property
    def stage_changed(self) -> int:
        return sum(self.stage_moves.values())

    @property
    def grade_changed(self) -> int:
        return sum(self.grade_moves.values())

    def as_dict(self) -> dict[str, Any]:
        before, after = self.alerts
        return {
            "current_version": self.current_version,
            "candidate_version": self.candidate_version,
            "leads": self.leads,
            "score_changed": self.score_changed,
            "stage_changed": self.stage_changed,
            "grade_changed": self.grade_changed,
            "stage_moves": _moves(self.stage_moves),
            "grade_moves": _moves(self.grade_moves),
            "alerts": {"current": dict(before), "candidate": dict(after)},
            "up": [m.as_dict() for m in self.up],
            "down": [m.as_dict() for m in self.down],
        }


def _moves(moves: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
    ordered = sorted(moves.items(), key=lambda item: (-item[1], item[0]))
    return [{"from": old, "to": new, "leads": n} for (old, new), n in ordered]


def diff_runs(current: OfflineRun, candidate: OfflineRun, top: int = 10) -> ModelDiff:
    """Compare two offline runs of the same events (leads scored in both)."""
    before = {s.lead_id: s for s in current.final_scores()}
    after = {s.lead_id: s for s in candidate.final_scores()}
    movers = [Mover(lead, before[lead], after[lead]) for lead in sorted(before.keys() & after)]
    changed = [m for m in movers if m.delta]
    by_delta = sorted(changed, key=lambda m: (-m.delta, m.lead_id))
    return ModelDiff(
        current_version=_version(before),
        candidate_version=_version(after),
        leads=len(movers),
        score_changed=len(changed),
        stage_moves=Counter(
            (m.before.stage, m.after.stage) for m in movers if m.before.stage != m.after.stage
        ),
        grade_moves=Counter(
            (m.before.grade, m.after.grade) for m in movers if m.before.grade != m.after.grade
        ),
        alerts=(_alerts(current), _alerts(candidate)),
        up=tuple(m for m in by_delta[:top] if m.delta > 0),
        down=tuple(m for m in reversed(by_delta[-top:]) if m.delta < 0),
    )


def _version(scores: dict[str, ScoreUpdate]) -> str:
    return next(iter(scores.values())).model_version if scores else "?"


def _alerts(run: OfflineRun) -> Counter[str]:
    return Counter(alert.threshold for alert in run.alert_log)


def render(diff: ModelDiff) -> str:
    """The diff for people: counts, the moves between stages and grades, the movers."""
    d = diff
    lines = [
        f"{d.current_version} -> {d.candidate_version}: {d.leads} leads scored by both",
        f"  score changes for {d.score_changed}, stage for {d.stage_changed}, "
        f"grade for {d.grade_changed}",
    ]
    for title, moves in (("stage", d.stage_moves), ("grade", d.grade_moves)):
        for item in _moves(moves):
            lines.append(f"  {title} {item['from']} -> {item['to']}: {item['leads']}")
    before, after = d.alerts
    for threshold in sorted(before.keys() | after.keys()):
        lines.append(f"  alerts {threshold}: {before[threshold]} -> {after[threshold]}")
    for title, movers in (("up", d.up), ("down", d.down)):
        if movers:
            lines.append(f"biggest movers {title}:")
        for m in movers:
            lines.append(
                f"  {m.lead_id}  {m.before.score} -> {m.after.score} ({m.delta:+d})  "
                f"{m.before.stage} -> {m.after.stage}  grade {m.before.grade} -> {m.after.grade}"
            )
    return "\n".join(lines)
