"""The pure scoring core: state in, event in, new state and outputs out.

No Faust, no Kafka: the worker (`streams.app`), the offline scorer and the decay sweep
all call `process` and `rescore`, which is why they agree exactly. How a score is made is
`scoring.py`, top to bottom; docs/contract.md has the method in words.
"""

from streams.core.apply import DEDUPE_WINDOW, Outcome, from_us, to_us, too_far_ahead
from streams.core.model import ModelError, ScoringModel
from streams.core.records import Record, event_key
from streams.core.scoring import Card, score
from streams.core.state import LeadState, Position, Stamped
from streams.core.step import Step, alert_id, process, rescore, score_update

__all__ = [
    "DEDUPE_WINDOW",
    "Card",
    "LeadState",
    "ModelError",
    "Outcome",
    "Position",
    "Record",
    "ScoringModel",
    "Stamped",
    "Step",
    "alert_id",
    "event_key",
    "from_us",
    "process",
    "rescore",
    "score",
    "score_update",
    "to_us",
    "too_far_ahead",
]
