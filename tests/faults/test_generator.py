"""The fallback generator of the fault suite (used when streams.tools.simulate is missing) must
keep making valid, reproducible streams; fast, no broker."""

from __future__ import annotations

from streams.core.model import ScoringModel
from streams.tools.score import score_lines
from tests.faults.generator import seeded_messages
from tests.faults.harness import NOW


def test_fallback_generator_is_reproducible_and_valid() -> None:
    made = seeded_messages(7, 3000, 60, NOW)
    assert made == seeded_messages(7, 3000, 60, NOW)
    run = score_lines([value for _, _, value, broken in made if not broken], ScoringModel.load())
    assert not run.errors, run.errors
    assert run.outcomes["applied"] > 2500 and run.outcomes["duplicate"] > 20
    assert run.alerts > 0 and len(list(run.final_scores())) == 60
    assert 10 < sum(broken for *_, broken in made) < 100
