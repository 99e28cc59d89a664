"""The contract's topic names and their configs, in one place (DESIGN.md sections 1-3).

Names here are unprefixed; a deployment's full name is `Settings.topic(name)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

EMAIL_OPENS = "leads.email-opens"
EMAIL_CLICKS = "leads.email-clicks"
SIGNUPS = "leads.signups"
SOCIAL = "leads.social"
FORMS = "leads.forms"
LIFECYCLE = "leads.lifecycle"

# Co-partitioned by lead_id: every input topic gets the same partition count.
INPUT_TOPICS: tuple[str, ...] = (EMAIL_OPENS, EMAIL_CLICKS, SIGNUPS, SOCIAL, FORMS, LIFECYCLE)

SCORES = "leads.scores"
ALERTS = "leads.alerts"
DEAD_LETTER = "leads.dead-letter"
# Live scoring-model changes; compacted so a restarted worker reads the latest model.
MODEL = "leads.model"
# Internal: "re-score partition p" commands (decay sweep, new model) for the workers. It is
# co-partitioned with the inputs so a command reaches the worker that owns partition p.
RESCORE = "leads.rescore"

OUTPUT_TOPICS: tuple[str, ...] = (SCORES, ALERTS, DEAD_LETTER)

COMPACT: Mapping[str, str] = MappingProxyType({"cleanup.policy": "compact"})
_NO_CONFIGS: Mapping[str, str] = MappingProxyType({})
_TRANSIENT: Mapping[str, str] = MappingProxyType({"retention.ms": str(6 * 3600 * 1000)})


@dataclass(frozen=True)
class TopicSpec:
    """One contract topic: its unprefixed name and the topic configs it is created with."""

    name: str
    configs: Mapping[str, str] = field(default_factory=lambda: _NO_CONFIGS)

    @property
    def compacted(self) -> bool:
        return "compact" in self.configs.get("cleanup.policy", "")


def topic_specs() -> tuple[TopicSpec, ...]:
    """Every topic `leadscore topics create` makes, inputs first."""
    compacted = {SCORES, MODEL}
    names = (*INPUT_TOPICS, *OUTPUT_TOPICS, MODEL)
    specs = [TopicSpec(n, COMPACT if n in compacted else _NO_CONFIGS) for n in names]
    return (*specs, TopicSpec(RESCORE, _TRANSIENT))


def contract_topic_names() -> tuple[str, ...]:
    """The unprefixed names of every contract topic."""
    return tuple(spec.name for spec in topic_specs())
