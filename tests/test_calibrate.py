"""Calibration from history (docs/contract.md s6): generator, reader, method, evaluation, CLI.

Fast and without Kafka: a synthetic history with a planted answer is generated
once per module and calibrated in process.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from streams.cli import app, register_commands
from streams.core.model import PAGE_KINDS, ScoringModel
from streams.tools.calibrate.evaluate import decile_rates, roc_auc, top_decile_rate
from streams.tools.calibrate.history import PLANTED_EFFECTS, generate_rows, write_csv
from streams.tools.calibrate.method import Calibration, calibrate, model_text, split
from streams.tools.calibrate.reader import HistoryError, Lead, read_history
from streams.tools.score import score_lines
from tests.core_events import raw

BASE = ScoringModel.load()
LEADS = 30000
# Activities whose planted effects are far enough apart to be told apart at LEADS rows.
CLEAR = ("form.submitted", "email.clicked", "social.comment", "email.opened", "signup")
NO_EFFECT = tuple(a for a, effect in PLANTED_EFFECTS.items() if effect == 0)

register_commands()
runner = CliRunner()


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        write_csv(out, LEADS, seed=7)
    return path


@pytest.fixture(scope="module")
def calibration(history_csv: Path) -> Calibration:
    data = read_history(history_csv)
    train, _ = split(data.leads, 0.3, seed=0)
    return calibrate(train, data.activities, BASE)


@pytest.fixture(scope="module")
def cli_run(history_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("calibrated")
    paths = {"model": out / "model.yaml", "report": out / "report.json"}
    args = ["calibrate", str(history_csv), "--out", str(paths["model"])]
    result = runner.invoke(app, [*args, "--report", str(paths["report"])])
    assert result.exit_code == 0, result.output
    return paths


# --- the method recovers the planted answer ----------------------------------------


def test_clear_set_follows_the_planted_order() -> None:
    # Guards the test itself: CLEAR must be listed from strongest to weakest effect.
    effects = [PLANTED_EFFECTS[a] for a in CLEAR]
    assert effects == sorted(effects, reverse=True) and NO_EFFECT


def test_points_recover_the_planted_ordering(calibration: Calibration) -> None:
    points = {a: f.points for a, f in calibration.activities.items()}
    assert [points[a] for a in CLEAR] == sorted((points[a] for a in CLEAR), reverse=True)
    assert len({points[a] for a in CLEAR}) == len(CLEAR)  # strictly, no ties
    for a in NO_EFFECT:
        assert points[a] < points["email.opened"], (a, points)


def test_points_are_in_proportion_to_rates_and_fit_0_100(calibration: Calibration) -> None:
    fits = calibration.activities.values()
    for f in fits:
        assert f.rate is not None
        if f.beats_control:
            assert f.points == pytest.approx(100 * f.rate * calibration.scale, abs=0.01)
        elif f.below_control:  # less than nothing: minus the gap to the control
            gap = calibration.control_rate - f.rate
            assert f.points == pytest.approx(-100 * gap * calibration.scale, abs=0.01)
            assert f.points < 0 and f.cap == -f.points
        else:
            assert f.points == 0
    assert sum(f.cap for f in fits if f.points > 0) <= 100
    assert 0.05 <= calibration.control_rate <= 0.30


def test_the_planted_negative_signals_are_learned_as_losses(calibration: Calibration) -> None:
    acts = calibration.activities
    for name in ("email.unsubscribed", "email.complained", "email.bounced.hard", "page.careers"):
        assert acts[name].below_control and acts[name].points < 0, (name, acts[name])
    assert acts["email.bounced.soft"].points == 0  # no planted effect: nothing either way


def test_page_kinds_are_learned_like_any_activity(calibration: Calibration) -> None:
    acts = calibration.activities
    assert {a for a in PLANTED_EFFECTS if a.startswith("page.")} == {
        f"page.{kind}" for kind in PAGE_KINDS
    }
    buying = ("page.demo", "page.pricing", "page.contact")
    for name in buying:  # buying pages: above the control, far above the blog
        assert acts[name].beats_control, (name, acts[name])
        assert acts[name].points > acts["page.product"].points > acts["page.blog"].points
    assert acts["page.careers"].points < 0 < acts["page.blog"].points
    assert acts["page.careers"].rate is not None and acts["page.careers"].rate < 0.75 * (
        calibration.control_rate
    )


def test_an_activity_at_the_control_rate_earns_nothing() -> None:
    # 40 of 100 leads convert; the activity's 10 leads convert at 40% too: no lift, no points.
    leads = [Lead(f"a{i}", {"social.like": 1}, i < 4) for i in range(10)]
    leads += [Lead(f"b{i}", {}, i < 36) for i in range(90)]
    cal = calibrate(leads, ("social.like",), BASE)
    assert cal.control_rate == 0.4 and not cal.activities["social.like"].beats_control
    assert cal.activities["social.like"].points == 0


# --- ranking quality on held-out leads ---------------------------------------------


def test_holdout_auc_beats_equal_points(cli_run: dict[str, Path]) -> None:
    report = json.loads(cli_run["report"].read_text())
    for key in ("control_rate", "activities", "auc_holdout", "auc_equal_points"):
        assert key in report
    for key in ("top_decile_rate", "rows_train", "rows_holdout", "seconds"):
        assert key in report
    assert report["auc_holdout"] > report["auc_equal_points"] + 0.02
    assert report["top_decile_rate"] > 2 * report["holdout_control_rate"]
    assert report["rows_train"] + report["rows_holdout"] == LEADS
    assert report["rows_holdout"] == pytest.approx(0.3 * LEADS, rel=0.05)
    assert set(report["activities"]["email.clicked"]) >= {"rate", "lift", "points"}
    # The lift chart: ten tenths by score, best first, the top one converting best.
    lift = report["lift"]
    assert [d["decile"] for d in lift] == list(range(1, 11))
    assert sum(d["leads"] for d in lift) == report["rows_holdout"]
    assert lift[0]["lift"] == max(d["lift"] for d in lift) and lift[0]["lift"] > 2


# --- the written model is one the product accepts ----------------------------------


def test_written_model_loads_and_keeps_the_rest_of_the_base(cli_run: dict[str, Path]) -> None:
    model = ScoringModel.load(cli_run["model"])
    assert model.model_version.startswith("calibrated-")
    assert model.model_version == json.loads(cli_run["report"].read_text())["model_version"]
    mine = model.model_dump(exclude={"model_version", "engagement"})
    assert mine == BASE.model_dump(exclude={"model_version", "engagement"})
    assert model.engagement.machine == BASE.engagement.machine
    assert model.engagement.pages == BASE.engagement.pages
    for name, base in BASE.engagement.activities.items():  # counts say nothing of decay
        assert model.engagement.activities[name].half_life_days == base.half_life_days, name


def test_a_worker_accepts_the_model(cli_run: dict[str, Path]) -> None:
    # The worker's handler of the model topic: validates the bytes and swaps the model in.
    from streams.app.worker import _try_model

    def set_model(model: ScoringModel) -> None:
        pipeline.model = model

    pipeline = SimpleNamespace(model=BASE, set_model=set_model, rescore_all=lambda: 0)
    _try_model(cli_run["model"].read_bytes(), pipeline)  # type: ignore[arg-type]
    assert pipeline.model == ScoringModel.load(cli_run["model"]) != BASE


def test_the_model_scores_events_with_calibrated_points(cli_run: dict[str, Path]) -> None:
    model = ScoringModel.load(cli_run["model"])
    run = score_lines([raw("email.clicked", lead="L9", message_id="m1")], model)
    clicked = model.engagement.activities["email.clicked"]
    assert run.scores["L9"].engagement == round(clicked.points)
    assert run.scores["L9"].model_version == model.model_version
    view = raw("page.viewed", lead="L8", url="https://www.northwind-analytics.example/pricing")
    run = score_lines([view], model)
    assert run.scores["L8"].engagement == round(model.engagement.activities["page.pricing"].points)


# --- AUC and top decile against hand-computed cases --------------------------------


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([1, 2, 3, 4], [0, 0, 1, 1], 1.0),  # perfect ranking
        ([4, 3, 2, 1], [0, 0, 1, 1], 0.0),  # perfectly wrong
        ([5, 5, 5, 5], [0, 1, 0, 1], 0.5),  # all tied: every pair counts one half
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # 3 of 4 pairs ordered right
        ([1, 2, 2, 3], [0, 1, 0, 1], 0.875),  # pairs: 2>1, 2=2 (1/2), 3>1, 3>2 -> 3.5/4
        ([1, 1, 2], [1, 0, 1], 0.75),  # pos 1 ties neg 1 (1/2), pos 2 > neg 1 -> 1.5/2
    ],
)
def test_auc_hand_computed(scores: list[float], labels: list[int], expected: float) -> None:
    assert roc_auc(scores, [bool(y) for y in labels]) == pytest.approx(expected)


def test_auc_is_undefined_with_one_class() -> None:
    assert roc_auc([1, 2, 3], [True, True, True]) is None
    assert roc_auc([1, 2, 3], [False, False, False]) is None
    assert roc_auc([], []) is None
    with pytest.raises(ValueError, match="2 scores but 1 labels"):
        roc_auc([1, 2], [True])


@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=2, max_size=40))
def test_auc_equals_the_pairwise_definition(pairs: list[tuple[int, bool]]) -> None:
    scores = [s for s, _ in pairs]
    labels = [y for _, y in pairs]
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    if not pos or not neg:
        assert roc_auc(scores, labels) is None
        return
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    assert roc_auc(scores, labels) == pytest.approx(wins / (len(pos) * len(neg)))


def test_top_decile_shares_a_tie_group_fairly() -> None:
    # Top 2 of 20 fall in a tie group of 10 leads, 5 of them converted: expect 50%,
    # whatever the row order.
    scores = [5.0] * 10 + [1.0] * 10
    labels = [True, False] * 5 + [True] * 10
    assert top_decile_rate(scores, labels) == pytest.approx(0.5)
    assert top_decile_rate(scores[::-1], labels[::-1]) == pytest.approx(0.5)
    assert top_decile_rate([], []) is None


def test_decile_rates_cover_every_lead_and_share_ties() -> None:
    scores = [5.0] * 10 + [1.0] * 10
    labels = [True, False] * 5 + [True] * 10
    deciles = decile_rates(scores, labels)
    assert [n for n, _ in deciles] == [2] * 10
    assert [r for _, r in deciles] == pytest.approx([0.5] * 5 + [1.0] * 5)
    assert decile_rates(scores[::-1], labels[::-1]) == deciles
    assert decile_rates([1.0] * 9, [True] * 9) == []


# --- the reader --------------------------------------------------------------------

HEADER = "lead_id,email.opened,email.clicked,industry,converted\n"


@pytest.mark.parametrize(
    ("cell", "column", "problem"),
    [
        ("abc", "email.clicked", "is not a count"),
        ("-1", "email.clicked", "not a non-negative whole count"),
        ("1.5", "email.clicked", "not a non-negative whole count"),
        ("maybe", "converted", "is not 0 or 1"),
    ],
)
def test_reader_names_row_and_column_of_a_bad_value(
    tmp_path: Path, cell: str, column: str, problem: str
) -> None:
    row2 = {"email.clicked": f"L2,1,{cell},saas,0\n", "converted": f"L2,1,0,saas,{cell}\n"}
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "L1,2,1,saas,1\n" + row2[column])
    with pytest.raises(HistoryError) as err:
        read_history(path)
    message = str(err.value)
    assert "row 2 (line 3)" in message and repr(column) in message and problem in message
    assert str(path) in message


def test_cli_refuses_a_bad_history_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "L1,2,x,saas,1\n")
    result = runner.invoke(app, ["calibrate", str(path), "--out", str(tmp_path / "m.yaml")])
    assert result.exit_code == 2
    assert "row 1 (line 2), column 'email.clicked'" in result.output
    assert not (tmp_path / "m.yaml").exists()


def test_reader_needs_converted(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("lead_id,email.opened\nL1,1\n")
    with pytest.raises(HistoryError, match="no 'converted' column"):
        read_history(path)


def test_reader_jsonl_sparse_rows_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    rows = [
        {"lead_id": "a", "email.clicked": 2, "crm_owner": "x", "converted": 1},
        {"lead_id": "b", "converted": False},  # zero counts left out
        {"lead_id": "c", "email.opened": 1, "converted": 0},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    data = read_history(path)
    assert data.activities == ("email.opened", "email.clicked")
    assert [(lead.key, lead.counts, lead.converted) for lead in data.leads] == [
        ("a", {"email.clicked": 2}, True),
        ("b", {}, False),
        ("c", {"email.opened": 1}, False),
    ]
    path.write_text(json.dumps(rows[0]) + "\n" + '{"lead_id": "b", "signup": true}\n')
    with pytest.raises(HistoryError, match=r"row 2 \(line 2\), column 'signup'"):
        read_history(path)


def test_activities_missing_from_the_export_earn_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text(HEADER + "".join(f"L{i},{i % 3},{i % 2},saas,{i % 2}\n" for i in range(200)))
    data = read_history(path)
    cal = calibrate(data.leads, data.activities, BASE)
    assert "social.like" in cal.missing
    model = ScoringModel.parse_text(model_text(BASE, cal, str(path)), "test")
    assert model.engagement.activities["social.like"].points == 0
    assert model.engagement.activities["email.clicked"].points > 0


# --- reproducibility ---------------------------------------------------------------


def test_history_is_reproducible_with_a_seed() -> None:
    def text(seed: int) -> str:
        out = io.StringIO()
        write_csv(out, 500, seed)
        return out.getvalue()

    assert text(3) == text(3)
    assert text(3) != text(4)
    assert next(generate_rows(1, 3))["lead_id"] == "L3-0000000"


def test_calibration_is_reproducible_with_a_seed(history_csv: Path, tmp_path: Path) -> None:
    data = read_history(history_csv)
    when = datetime(2026, 11, 27, tzinfo=UTC)

    def model(seed: int) -> str:
        train, _ = split(data.leads, 0.3, seed)
        return model_text(BASE, calibrate(train, data.activities, BASE), "h.csv", when)

    assert model(5) == model(5)
    assert model(5) != model(6)  # another split, other rates, another version hash
    _, held = split(data.leads, 0.3, 5)
    shuffled = list(reversed(data.leads))  # the split follows lead ids, not row order
    assert {lead.key for lead in split(shuffled, 0.3, 5)[1]} == {lead.key for lead in held}
