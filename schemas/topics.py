"""The one registry of contract topics (docs/contract.md, "Topics").

Each topic is declared once with everything other code needs: its unprefixed name, its
direction from leadscore's point of view, the messages it carries (names of the models in
`schemas.events` and `schemas.outputs`), the event `type` values an input accepts, the
key, the cleanup policy and whether it is co-partitioned with the inputs. The worker, the
topic creation, the schema and AsyncAPI export, the offline scorer, the simulator and the
bench all read it from here; a deployment's full name is `Settings.topic(name)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Direction = Literal["input", "output", "internal"]

_NO_CONFIGS: Mapping[str, str] = MappingProxyType({})
COMPACT: Mapping[str, str] = MappingProxyType({"cleanup.policy": "compact"})
# Rescore commands are consumed within seconds; six hours is ample for a slow worker.
_TRANSIENT: Mapping[str, str] = MappingProxyType({"retention.ms": str(6 * 3600 * 1000)})


@dataclass(frozen=True)
class Topic:
    """One contract topic."""

    name: str
    direction: Direction
    summary: str
    messages: tuple[str, ...] = ()  # schema (model) names of its payloads
    event_types: frozenset[str] = frozenset()  # the `type` values an input topic accepts
    key: str = "lead_id"
    configs: Mapping[str, str] = field(default_factory=lambda: _NO_CONFIGS, compare=False)
    # Same partition count as the inputs and murmur2 of the key, so partition p of every
    # co-partitioned topic belongs to the worker that owns partition p of the inputs.
    co_partitioned: bool = False

    @property
    def compacted(self) -> bool:
        return "compact" in self.configs.get("cleanup.policy", "")


def _input(name: str, summary: str, messages: tuple[str, ...], types: set[str]) -> Topic:
    return Topic(name, "input", summary, messages, frozenset(types), co_partitioned=True)


EMAIL_OPENS = _input("leads.email-opens", "Email opens", ("EmailOpened",), {"email.opened"})
EMAIL_CLICKS = _input("leads.email-clicks", "Email clicks", ("EmailClicked",), {"email.clicked"})
SIGNUPS = _input("leads.signups", "List signups", ("Signup",), {"signup"})
SOCIAL = _input(
    "leads.social", "Social interactions", ("SocialInteraction",), {"social.interaction"}
)
FORMS = _input(
    "leads.forms",
    "Form submissions with BANT answers",
    ("FormSubmitted",),
    {"form.submitted"},
)
LIFECYCLE = _input(
    "leads.lifecycle",
    "Verification, outcomes, recycling and erasure",
    ("LeadVerified", "LeadOutcome", "LeadRecycled", "LeadAssociated", "LeadErased"),
    {"lead.verified", "lead.outcome", "lead.recycled", "lead.associated", "lead.erased"},
)
EMAIL_STATUS = _input(
    "leads.email-status",
    "Bounces, unsubscribes and spam complaints",
    ("EmailBounced", "EmailUnsubscribed", "EmailComplained"),
    {"email.bounced", "email.unsubscribed", "email.complained"},
)

# Keyed by lead_id, or by anonymous_id for a visitor's views and links (murmur2 either way).
WEB = Topic(
    "leads.web",
    "input",
    "Page views and identity links (key: lead_id, else anonymous_id)",
    ("PageViewed", "IdentityLinked"),
    frozenset({"page.viewed", "identity.linked"}),
    key="lead_id or anonymous_id",
    co_partitioned=True,
)
# Segment Spec messages (Segment, RudderStack, Jitsu): translated onto the topics above by
# a stateless agent, so not co-partitioned and not validated as contract events.
SEGMENT = Topic(
    "leads.segment",
    "input",
    "Segment Spec page, identify, group and track calls (key: userId, else anonymousId)",
    ("SegmentMessage",),
    key="userId or anonymousId",
)

SCORES = Topic(
    "leads.scores",
    "output",
    "Every score change; tombstone on erasure (compacted)",
    ("ScoreUpdate",),
    configs=COMPACT,
)
ALERTS = Topic("leads.alerts", "output", "Upward threshold crossings", ("Alert",))
DEAD_LETTER = Topic(
    "leads.dead-letter", "output", "Inputs that could not be applied", ("DeadLetter",)
)
# Live scoring-model changes (a model file's YAML text); compacted so a restarted worker
# reads the model in force. Every worker reads all of it, without a group.
MODEL = Topic(
    "leads.model", "internal", "Scoring model files in force", key="model", configs=COMPACT
)
# "Re-score partition p" commands (decay sweep, new model), co-partitioned with the inputs
# so a command reaches the worker that owns partition p.
RESCORE = Topic(
    "leads.rescore",
    "internal",
    "Re-score commands for one partition",
    key="rescore",
    configs=_TRANSIENT,
    co_partitioned=True,
)
# A visitor's partition -> a lead's (its views and links, forwarded), and a lead's -> its
# visitors' (erasure): co-partitioned, so a message reaches the worker owning its key.
VISITORS = Topic(
    "leads.visitors",
    "internal",
    "Visitor views and links forwarded to their lead; erasure to visitors",
    key="lead_id or anonymous_id",
    co_partitioned=True,
)

# Accounts (docs/accounts.md): each change of a lead's score sends its contribution to
# its account (and a removal to the account it left), keyed by account_id and
# co-partitioned, so the worker owning the account's partition keeps the account's state.
CONTRIBUTIONS = Topic(
    "accounts.contributions",
    "internal",
    "Leads' latest contributions to their accounts, and removals",
    key="account_id",
    co_partitioned=True,
)
ACCOUNT_SCORES = Topic(
    "accounts.scores",
    "output",
    "Every account score change; tombstone when no lead remains (compacted)",
    ("AccountScore",),
    key="account_id",
    configs=COMPACT,
)
ACCOUNT_ALERTS = Topic(
    "accounts.alerts",
    "output",
    "Upward account threshold crossings",
    ("AccountAlert",),
    key="account_id",
)

INPUTS: tuple[Topic, ...] = (
    EMAIL_OPENS,
    EMAIL_CLICKS,
    SIGNUPS,
    SOCIAL,
    FORMS,
    LIFECYCLE,
    EMAIL_STATUS,
    WEB,
)
OUTPUTS: tuple[Topic, ...] = (SCORES, ALERTS, DEAD_LETTER, ACCOUNT_SCORES, ACCOUNT_ALERTS)
# Every topic `leadscore topics create` makes, inputs first.
ALL: tuple[Topic, ...] = (*INPUTS, SEGMENT, *OUTPUTS, MODEL, RESCORE, VISITORS, CONTRIBUTIONS)

BY_NAME: Mapping[str, Topic] = MappingProxyType({t.name: t for t in ALL})

# Input topic name -> the event types it accepts (the codec's wrong_topic rule).
TOPIC_EVENT_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {t.name: t.event_types for t in INPUTS}
)
# Event type -> the input topic it belongs on (the offline scorer, the simulator).
TOPIC_OF_TYPE: Mapping[str, str] = MappingProxyType(
    {kind: t.name for t in INPUTS for kind in t.event_types}
)
