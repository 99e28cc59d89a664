"""What the console knows, built from the output topics it follows from their start: each
lead's latest score, each account's, the latest alerts, the model in force.

Pure (no Kafka, no HTTP): `apply(topic, key, value)` takes one message of a contract topic,
so tests feed it directly. Messages are read with orjson and the fields the views need;
the console keeps a small row per lead (about 300 bytes), not the whole message.

Privacy: a lead's tombstone (its erasure) removes its row and its alerts. Contact emails
are dropped as alerts arrive unless the console is configured to show them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from sys import intern
from typing import Any, Literal

import orjson

from schemas.topics import ACCOUNT_ALERTS, ACCOUNT_SCORES, ALERTS, MODEL, SCORES
from streams.console.index import TopIndex
from streams.core.model import ModelError, ScoringModel

log = logging.getLogger(__name__)

ALERTS_KEPT = 500  # the feed's length
ALERTS_PER_LEAD = 5  # shown on a lead's page
ALERT_IDS_KEPT = 100_000  # to show an alert re-sent after a crash once
TOP_FACTORS = 3

LeadFacets = tuple[str, str, bool, bool]  # stage, grade, bot-flagged, contactable
AccountFacets = tuple[str]  # stage


@dataclass(slots=True)
class LeadRow:
    """A lead as the leaderboard shows it."""

    lead_id: str
    score: int
    fit: int
    engagement: int
    validity: float
    grade: str
    stage: str
    bot_flags: tuple[str, ...]
    contactable: bool
    account_id: str | None
    updated_at: str
    top_factors: tuple[tuple[str, float], ...]

    @classmethod
    def from_message(cls, doc: dict[str, Any]) -> LeadRow:
        # Names repeated across leads (stages, flags, factors) are interned: one string
        # each, not one per lead (a third of a row's memory at a million leads).
        return cls(
            lead_id=str(doc["lead_id"]),
            score=int(doc["score"]),
            fit=int(doc["fit"]),
            engagement=int(doc["engagement"]),
            validity=float(doc["validity"]),
            grade=intern(str(doc["grade"])),
            stage=intern(str(doc["stage"])),
            bot_flags=tuple(intern(str(f)) for f in doc["bot_flags"]),
            contactable=bool(doc.get("contactable", True)),
            account_id=doc.get("account_id"),
            updated_at=str(doc["updated_at"]),
            top_factors=tuple(
                (intern(str(f["factor"])), float(f["points"])) for f in doc["factors"][:TOP_FACTORS]
            ),
        )

    @property
    def facets(self) -> LeadFacets:
        return (self.stage, self.grade, bool(self.bot_flags), self.contactable)

    def as_json(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "score": self.score,
            "fit": self.fit,
            "engagement": self.engagement,
            "validity": self.validity,
            "grade": self.grade,
            "stage": self.stage,
            "bot_flags": list(self.bot_flags),
            "contactable": self.contactable,
            "account_id": self.account_id,
            "updated_at": self.updated_at,
            "top_factors": [{"factor": f, "points": p} for f, p in self.top_factors],
        }


@dataclass(frozen=True)
class LeadFilter:
    """The leaderboard's filters; None matches anything."""

    stage: str | None = None
    grade: str | None = None
    flagged: bool | None = None
    contactable: bool | None = None

    def __call__(self, facets: LeadFacets) -> bool:
        stage, grade, flagged, contactable = facets
        return (
            (self.stage is None or stage == self.stage)
            and (self.grade is None or grade == self.grade)
            and (self.flagged is None or flagged == self.flagged)
            and (self.contactable is None or contactable == self.contactable)
        )


Kind = Literal["lead", "account"]


@dataclass
class ConsoleBoard:
    show_emails: bool = False
    leads: dict[str, LeadRow] = field(default_factory=dict)
    lead_index: TopIndex[LeadFacets] = field(default_factory=TopIndex)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # the messages as JSON
    account_index: TopIndex[AccountFacets] = field(default_factory=TopIndex)
    alerts: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=ALERTS_KEPT))
    lead_alerts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    model: ScoringModel | None = None
    alerts_seen: int = 0
    unreadable: int = 0
    changed: int = 0  # messages applied since the last `take_changed`
    _alert_ids: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> dict[str, Any] | None:
        """Take one message of `topic` (a contract name); a new alert's row, if it was one."""
        try:
            return self._apply(topic, (key or b"").decode("utf-8", "replace"), value)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            self.unreadable += 1
            return None

    def _apply(self, topic: str, key: str, value: bytes | None) -> dict[str, Any] | None:
        if topic == MODEL.name:
            self._model(value)
            return None
        self.changed += 1
        if topic == SCORES.name:
            self._lead(key, value)
        elif topic == ACCOUNT_SCORES.name:
            self._account(key, value)
        elif topic in (ALERTS.name, ACCOUNT_ALERTS.name) and value is not None:
            kind: Kind = "lead" if topic == ALERTS.name else "account"
            return self._alert(alert_row(orjson.loads(value), kind, self.show_emails))
        return None

    def _lead(self, key: str, value: bytes | None) -> None:
        if value is None:  # a tombstone: the lead was erased, and everything about it goes
            self.leads.pop(key, None)
            self.lead_index.remove(key)
            gone = self.lead_alerts.pop(key, None)
            if gone:
                kept = [a for a in self.alerts if a["lead_id"] != key]
                self.alerts = deque(kept, maxlen=ALERTS_KEPT)
            return
        row = LeadRow.from_message(orjson.loads(value))
        self.leads[row.lead_id] = row
        self.lead_index.put(row.lead_id, row.score, row.facets)

    def _account(self, key: str, value: bytes | None) -> None:
        if value is None:  # no one is left in the account
            self.accounts.pop(key, None)
            self.account_index.remove(key)
            return
        doc = orjson.loads(value)
        account_id = str(doc["account_id"])
        self.accounts[account_id] = doc
        self.account_index.put(account_id, int(doc["score"]), (str(doc["stage"]),))

    def _alert(self, row: dict[str, Any]) -> dict[str, Any] | None:
        alert_id = row["alert_id"]
        if alert_id in self._alert_ids:  # re-sent after a crash: shown once
            return None
        self._alert_ids[alert_id] = None
        if len(self._alert_ids) > ALERT_IDS_KEPT:
            self._alert_ids.popitem(last=False)
        self.alerts.appendleft(row)
        self.alerts_seen += 1
        lead_id = row["lead_id"]
        if lead_id is not None:
            mine = self.lead_alerts.setdefault(lead_id, [])
            mine.insert(0, row)
            del mine[ALERTS_PER_LEAD:]
        return row

    def _model(self, value: bytes | None) -> None:
        if value is None:
            return
        try:
            self.model = ScoringModel.parse_text(value.decode("utf-8"), "leads.model")
        except (ModelError, UnicodeDecodeError) as exc:
            log.warning("the model on leads.model is not valid; kept the previous: %s", exc)

    # --- queries -------------------------------------------------------------------------

    def top_leads(self, n: int, where: LeadFilter | None = None) -> list[LeadRow]:
        keys = self.lead_index.top(n, where or LeadFilter())
        return [self.leads[k] for k in keys]

    def top_accounts(self, n: int) -> list[dict[str, Any]]:
        return [self.accounts[k] for k in self.account_index.top(n)]

    def take_changed(self) -> int:
        changed, self.changed = self.changed, 0
        return changed


def alert_row(doc: dict[str, Any], kind: Kind, show_emails: bool) -> dict[str, Any]:
    """An alert of either kind as the console keeps it (the email only when shown)."""
    contact = doc.get("contact")
    if contact is not None:
        contact = {k: contact.get(k) for k in ("name", "company", "job_title", "email")}
        if not show_emails:
            contact["email"] = None
    return {
        "kind": kind,
        "alert_id": str(doc["alert_id"]),
        "lead_id": doc.get("lead_id"),
        "account_id": doc.get("account_id"),
        "threshold": str(doc["threshold"]),
        "level": int(doc["level"]),
        "score": int(doc["score"]),
        "previous_score": int(doc["previous_score"]),
        "occurred_at": doc["occurred_at"],
        "emitted_at": doc["emitted_at"],
        "contactable": doc.get("contactable"),
        "contact": contact,
        "top_leads": doc.get("top_leads", []),
    }
