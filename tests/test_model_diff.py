"""`leadscore model diff`: a candidate model's changes, judged against two offline runs of
the same simulated events scored lead by lead here."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.core.model import ScoringModel
from streams.tools.model_diff import diff_runs, render
from streams.tools.score import OfflineRun, score_lines
from streams.tools.simulate import generate
from tests.test_cli_errors import leadscore, one_line

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DEFAULT = Path(__file__).parents[1] / "streams" / "core" / "default_model.yaml"
STAGES = ("new", "engaged", "mql", "sql")  # the score-driven stages, lowest first


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return [e.value for e in generate(seed=11, leads=150, events=2500, now=NOW)]


def candidate(tmp: Path, version: str, **replace: str) -> Path:
    """The default model with lines replaced, as a file."""
    text = DEFAULT.read_text()
    text = text.replace("model_version: default-", f"model_version: {version}-", 1)
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / f"{version}.yaml"
    path.write_text(text)
    return path


def run(lines: list[bytes], model: ScoringModel) -> OfflineRun:
    return score_lines(lines, model, NOW)


def test_the_same_model_changes_nothing(lines: list[bytes]) -> None:
    model = ScoringModel.load(DEFAULT)
    diff = diff_runs(run(lines, model), run(lines, model))
    assert diff.leads > 100
    assert (diff.score_changed, diff.stage_changed, diff.grade_changed) == (0, 0, 0)
    assert diff.up == diff.down == ()
    assert diff.alerts[0] == diff.alerts[1]


def test_lower_thresholds_move_leads_up_as_scored(lines: list[bytes], tmp_path: Path) -> None:
    lower = candidate(
        tmp_path, "lower", **{"levels: {mql: 60, sql: 80}": "levels: {mql: 45, sql: 65}"}
    )
    current, new = run(lines, ScoringModel.load(DEFAULT)), run(lines, ScoringModel.load(lower))
    diff = diff_runs(current, new, top=5)
    before = {s.lead_id: s for s in current.final_scores()}
    after = {s.lead_id: s for s in new.final_scores()}
    expected = Counter(
        (before[k].stage, after[k].stage) for k in before if before[k].stage != after[k].stage
    )
    assert diff.stage_moves == expected and diff.stage_changed > 0
    for old, moved in expected:  # thresholds only: stages rise, scores stay
        assert STAGES.index(moved) > STAGES.index(old)
    assert diff.score_changed == 0 and diff.up == ()
    assert diff.alerts[1]["mql"] >= diff.alerts[0]["mql"]
    assert diff.alerts == (
        Counter(a.threshold for a in current.alert_log),
        Counter(a.threshold for a in new.alert_log),
    )
    assert "stage engaged -> mql" in render(diff)


def test_the_biggest_movers_come_first(lines: list[bytes], tmp_path: Path) -> None:
    cheaper = candidate(
        tmp_path,
        "cheaper",
        **{"form.submitted: {points: 20, cap: 40}": "form.submitted: {points: 5, cap: 10}"},
    )
    current, new = run(lines, ScoringModel.load(DEFAULT)), run(lines, ScoringModel.load(cheaper))
    diff = diff_runs(current, new, top=4)
    deltas = [m.delta for m in diff.down]
    assert deltas and all(d < 0 for d in deltas) and deltas == sorted(deltas)
    before = {s.lead_id: s.score for s in current.final_scores()}
    after = {s.lead_id: s.score for s in new.final_scores()}
    worst = min(after[k] - before[k] for k in before)
    assert deltas[0] == worst
    assert diff.score_changed == sum(1 for k in before if after[k] != before[k])


def test_the_command_prints_the_same_diff_as_json(lines: list[bytes], tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")
    lower = candidate(
        tmp_path, "lower", **{"levels: {mql: 60, sql: 80}": "levels: {mql: 45, sql: 65}"}
    )
    args = ["model", "diff", str(lower), str(events), "--now", NOW.strftime("%Y-%m-%dT%H:%M:%S%z")]
    done = leadscore(*args, "--json")
    assert done.returncode == 0, done.stderr
    shown = orjson.loads(done.stdout)
    diff = diff_runs(run(lines, ScoringModel.load(DEFAULT)), run(lines, ScoringModel.load(lower)))
    assert shown == orjson.loads(orjson.dumps(diff.as_dict()))
    assert shown["candidate_version"].startswith("lower-")


def test_a_broken_candidate_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("model_version: x\nweights: {fit: 2}\n")
    events = tmp_path / "events.jsonl"
    events.write_text("")
    done = leadscore("model", "diff", broken, events)
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("error: ") and "broken.yaml" in line
