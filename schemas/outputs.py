"""Messages leadscore publishes (docs/contract.md s4): lead and account scores and alerts,
and dead letters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from schemas.common import Id, Message, UtcDatetime

Percent = Annotated[int, Field(ge=0, le=100)]
# NaN would be written as null and break consumers, so it is refused when the model is built.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Output(Message):
    """Base of published messages."""

    # Every field is always written, so the exported schema lists defaulted fields as required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class Factor(Output):
    """One contribution to a score, so a person can see why."""

    factor: str
    points: FiniteFloat


Grade = Literal["A", "B", "C", "D"]
Stage = Literal["new", "engaged", "mql", "sql", "converted", "disqualified"]


class ScoreUpdate(Output):
    """A lead's current score on `leads.scores` (compacted, key lead_id)."""

    lead_id: Id
    score: Percent
    fit: Percent
    engagement: Percent
    validity: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    grade: Grade
    stage: Stage
    bot_flags: list[str]
    factors: list[Factor]
    model_version: str
    events_counted: Annotated[int, Field(ge=0)]
    last_event_at: UtcDatetime | None
    cause_event_id: Id | None
    # False after a hard bounce, an unsubscribe or a spam complaint, until a later signup.
    contactable: bool = True
    # The lead's account: its account_id, else its business email's registrable domain.
    account_id: Id | None = None
    updated_at: UtcDatetime


class ScoreChange(Output):
    """One published change of a lead's score, with its cause (GET /leads/{id}/history)."""

    changed_at: UtcDatetime
    score: Percent
    stage: Stage
    grade: Grade
    # An event (its type and id), or a re-score: the decay sweep, a new model; a
    # lead.recycled event is the cause "recycling".
    cause: Literal["event", "decay", "model", "recycling"]
    event_type: str | None
    event_id: Id | None
    occurred_at: UtcDatetime | None


class ScoreHistory(Output):
    """A lead's last 50 score changes, oldest first."""

    lead_id: Id
    changes: list[ScoreChange]


class Contact(Output):
    """Contact details as last known, for the salesperson an alert goes to."""

    name: str | None = None
    email: str | None = None
    company: str | None = None
    job_title: str | None = None


class Alert(Output):
    """An upward threshold crossing on `leads.alerts`."""

    alert_id: str
    lead_id: Id
    threshold: str
    level: Percent
    score: Percent
    previous_score: Percent
    factors: list[Factor]
    contact: Contact
    contactable: bool = True  # as on the score: sales may still call, not email
    occurred_at: UtcDatetime
    emitted_at: UtcDatetime


AccountStage = Literal["new", "engaged", "mqa"]
BuyingRole = Literal["decision_maker", "influencer", "user"]


class TopLead(Output):
    """One of an account's highest-scoring people (lead ids only: no contact details)."""

    lead_id: Id
    score: Percent


class AccountScore(Output):
    """An account's current score on `accounts.scores` (compacted, key account_id)."""

    account_id: Id
    score: Percent
    fit: Percent
    engagement: Percent
    people: Annotated[int, Field(ge=0)]
    engaged_people: Annotated[int, Field(ge=0)]
    roles: list[BuyingRole]
    top_leads: list[TopLead]
    factors: list[Factor]
    stage: AccountStage
    model_version: str
    updated_at: UtcDatetime


class AccountAlert(Output):
    """An upward crossing of an account threshold on `accounts.alerts`."""

    alert_id: str
    account_id: Id
    threshold: str
    level: Percent
    score: Percent
    previous_score: Percent
    top_leads: list[TopLead]
    occurred_at: UtcDatetime
    emitted_at: UtcDatetime


DeadLetterError = Literal[
    "invalid_json",
    "schema",
    "wrong_topic",
    "key_mismatch",
    "too_large",
    "future_event",
    "wrong_partition",
    "processing_error",
    "webhook_failed",
]


class DeadLetter(Output):
    """An input message that could not be applied, on `leads.dead-letter`."""

    source_topic: str
    partition: Annotated[int, Field(ge=0)]
    offset: Annotated[int, Field(ge=0)]
    key: str | None
    payload: str
    payload_encoding: Literal["utf-8", "base64"]
    error: DeadLetterError
    detail: str
    received_at: UtcDatetime


# The ScoreUpdate fields decided by the lead's state alone: what a consumer compares across
# runs (the stream vs the offline scorer, before vs after a crash). `cause_event_id` and
# `updated_at` legitimately differ.
SCORE_STATE_FIELDS: tuple[str, ...] = (
    "score",
    "fit",
    "engagement",
    "validity",
    "grade",
    "stage",
    "bot_flags",
    "factors",
    "model_version",
    "events_counted",
    "last_event_at",
    "contactable",
    "account_id",
)
# The same for AccountScore (`updated_at` differs between runs).
ACCOUNT_STATE_FIELDS: tuple[str, ...] = (
    "score",
    "fit",
    "engagement",
    "people",
    "engaged_people",
    "roles",
    "top_leads",
    "factors",
    "stage",
    "model_version",
)
