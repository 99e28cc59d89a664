"""Accounts: a company scored from its people, in real time (docs/accounts.md).

Two halves, both pure:
- the lead's side: which account a lead belongs to (`account_of`), its buying role, and
  the contribution it sends its account whenever its published score changes (step.py
  calls `contributions`);
- the account's side: `contribute(state, contribution)` keeps each lead's latest
  contribution (by version, so arrival order does not matter) and `account_card` scores the
  account from them: fit = the best fit of its people, engagement = the sum of its most
  engaged people's engagement (weighted by their validity), capped at 100, plus points
  per buying role present; thresholds (default `mqa`) with hysteresis, like a lead's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import msgpack
import orjson
from publicsuffixlist import PublicSuffixList

from schemas.outputs import AccountAlert, AccountScore, AccountStage
from streams.core.apply import from_us
from streams.core.domains import email_domain
from streams.core.model import BUYING_ROLES, ScoringModel
from streams.core.signals import is_disposable, is_free_mail
from streams.core.state import AlertArm, LeadState, Position, Published, published_digest

TOP_LEADS = 5  # the contract's top_leads: up to 5
# People counted per account beyond the kept ones (their id and version only); past this,
# only plain counts (docs/accounts.md: exact up to max_people + this many people).
OTHERS_PER_KEPT = 20
LEFT_KEPT = 1000  # removed leads remembered per account (a late contribution stays out)
OUTBOX_SIZE = 4

_PSL = PublicSuffixList()

# --- the lead's side ---------------------------------------------------------------------


def account_of(state: LeadState) -> str | None:
    """The lead's account: its `account_id` (last writer wins), else the registrable domain
    of its business email. Free-mail and disposable domains never form an account."""
    explicit = state.profile.get("account_id")
    if explicit is not None:
        return str(explicit.value)
    email = state.profile.get("email")
    domain = None if email is None else email_domain(email.value)
    return None if domain is None else business_domain(domain)


@lru_cache(maxsize=65536)
def business_domain(domain: str) -> str | None:
    """The registrable domain (mail.acme.co.uk -> acme.co.uk) of a business address's
    domain; None for free-mail and disposable domains and for public suffixes."""
    if is_free_mail(domain) or is_disposable(domain):
        return None
    found: str | None = _PSL.privatesuffix(domain)
    return found


def buying_role(state: LeadState, model: ScoringModel) -> str | None:
    """The lead's BANT authority answer, else the role of its job title's seniority."""
    p = state.profile
    authority = p.get("authority")
    if authority is not None and authority.value in BUYING_ROLES:
        return str(authority.value)
    title = p.get("job_title")
    seniority = None if title is None or not title.value else model.seniority_of(title.value)
    return None if seniority is None else model.accounts.seniority_roles.get(seniority.name)


class Version(NamedTuple):
    """Orders one lead's contributions: newer erasure, then more events, then a later time
    scored as of (a sweep), then a later re-score (a sweep or a new model: its wall-clock
    time; 0 for an event's step). A replay of an event recomputes the same version with
    the same content, so a redelivered contribution is a duplicate. The last field keeps
    a new model's contribution ahead of the old one's even when both are scored as of the
    same time (a lead whose newest event is dated ahead of the clock)."""

    erased_at: int
    events: int
    as_of_us: int
    rescored_us: int = 0


@dataclass(frozen=True, slots=True)
class Contribution:
    """What a lead tells its account (key: account_id), or a removal (`removed`)."""

    lead_id: str
    account_id: str
    version: Version
    removed: bool = False
    fit: int = 0
    engagement: int = 0
    score: int = 0
    validity: float = 1.0
    stage: str = "new"
    role: str | None = None
    occurred_us: int = 0  # event time of the lead's change (an account alert's occurred_at)

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "lead_id": self.lead_id,
                "account_id": self.account_id,
                "version": list(self.version),
                "removed": self.removed,
                "fit": self.fit,
                "engagement": self.engagement,
                "score": self.score,
                "validity": self.validity,
                "stage": self.stage,
                "role": self.role,
                "occurred_us": self.occurred_us,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Contribution:
        """Raises KeyError, TypeError or ValueError for anything but a contribution."""
        d = orjson.loads(raw)
        return cls(
            lead_id=str(d["lead_id"]),
            account_id=str(d["account_id"]),
            version=Version(*(int(v) for v in d["version"])),
            removed=bool(d["removed"]),
            fit=int(d["fit"]),
            engagement=int(d["engagement"]),
            score=int(d["score"]),
            validity=float(d["validity"]),
            stage=str(d["stage"]),
            role=None if d["role"] is None else str(d["role"]),
            occurred_us=int(d["occurred_us"]),
        )


def version_of(state: LeadState, rescored_us: int = 0) -> Version:
    """The version of what the lead publishes now (after its step); `rescored_us`: the
    wall-clock time of a re-score (sweep, new model), 0 for an event's step."""
    as_of = state.published.as_of_us if state.published is not None else None
    as_of_us = as_of or state.last_event_us or 0
    return Version(state.erased_at or 0, state.events_counted, as_of_us, rescored_us)


# --- the account's side ------------------------------------------------------------------


class Member(NamedTuple):
    """A lead's latest contribution, as its account keeps it."""

    version: Version
    fit: int
    engagement: int
    score: int
    validity: float
    stage: str
    role: str | None


class Other(NamedTuple):
    """A person counted but not kept (beyond max_people)."""

    version: Version
    engaged: bool


@dataclass(slots=True)
class AccountState:
    account_id: str
    members: dict[str, Member] = field(default_factory=dict)
    others: dict[str, Other] = field(default_factory=dict)
    overflow: int = 0  # people beyond `others` too: counted only
    overflow_engaged: int = 0
    left: dict[str, Version] = field(default_factory=dict)  # removed leads' last versions
    alerts: dict[str, AlertArm] = field(default_factory=dict)
    published: Published | None = None
    # Crash recovery as for leads (docs/delivery.md): the message that last changed the
    # state, and recent alerts with the message that caused them.
    last_position: Position | None = None
    outbox: list[tuple[dict[str, Any], Position | None]] = field(default_factory=list)

    @property
    def people(self) -> int:
        return len(self.members) + len(self.others) + self.overflow

    def to_bytes(self) -> bytes:
        header = [
            1,
            self.account_id,
            sorted([k, list(m.version), *m[1:]] for k, m in self.members.items()),
            sorted([k, list(o.version), o.engaged] for k, o in self.others.items()),
            self.overflow,
            self.overflow_engaged,
            sorted([k, list(v)] for k, v in self.left.items()),
            sorted((name, a.armed, a.fired) for name, a in self.alerts.items()),
            None if self.published is None else list(self.published),
            None if self.last_position is None else list(self.last_position),
            [[alert, None if p is None else list(p)] for alert, p in self.outbox],
        ]
        packed: bytes = msgpack.packb(header, use_bin_type=True)
        return packed

    @classmethod
    def from_bytes(cls, raw: bytes) -> AccountState:
        (
            version,
            account_id,
            members,
            others,
            overflow,
            overflow_engaged,
            left,
            alerts,
            published,
            last_position,
            outbox,
        ) = msgpack.unpackb(raw, raw=False)
        if version != 1:
            raise ValueError(f"account state version {version} is not known")
        return cls(
            account_id=account_id,
            members={k: Member(Version(*v), *rest) for k, v, *rest in members},
            others={k: Other(Version(*v), engaged) for k, v, engaged in others},
            overflow=overflow,
            overflow_engaged=overflow_engaged,
            left={k: Version(*v) for k, v in left},
            alerts={name: AlertArm(armed, fired) for name, armed, fired in alerts},
            published=None if published is None else Published(*published),
            last_position=None if last_position is None else Position(*last_position),
            outbox=[(a, None if p is None else Position(*p)) for a, p in outbox],
        )


Merge = Literal["applied", "duplicate", "stale"]


def merge(state: AccountState, c: Contribution, model: ScoringModel) -> Merge:
    """Keep `c` if it is the newest contribution of its lead this account has seen."""
    lead = c.lead_id
    held = _held_version(state, lead)
    if held is not None and c.version <= held:
        return "duplicate" if c.version == held else "stale"
    known = lead in state.members or lead in state.others
    state.members.pop(lead, None)
    state.others.pop(lead, None)
    if c.removed:
        if not known and state.overflow:  # a person counted only
            state.overflow -= 1
            state.overflow_engaged = min(state.overflow_engaged, state.overflow)
        state.left[lead] = c.version
        if len(state.left) > LEFT_KEPT:
            del state.left[min(state.left, key=lambda k: (state.left[k], k))]
        return "applied"
    state.left.pop(lead, None)
    role = c.role if c.role in BUYING_ROLES else None
    member = Member(c.version, c.fit, c.engagement, c.score, c.validity, c.stage, role)
    state.members[lead] = member
    if len(state.members) > model.accounts.max_people:
        _set_aside(state, model)
    return "applied"


def _held_version(state: AccountState, lead: str) -> Version | None:
    member = state.members.get(lead)
    if member is not None:
        return member.version
    other = state.others.get(lead)
    if other is not None:
        return other.version
    return state.left.get(lead)


def _set_aside(state: AccountState, model: ScoringModel) -> None:
    """The lowest-scoring kept person is counted from now on, not kept."""
    lowest = min(state.members, key=lambda k: (state.members[k].score, _desc(k)))
    member = state.members.pop(lowest)
    engaged = member.engagement > 0
    if len(state.others) < OTHERS_PER_KEPT * model.accounts.max_people:
        state.others[lowest] = Other(member.version, engaged)
    else:
        state.overflow += 1
        state.overflow_engaged += engaged


def _desc(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


@dataclass(frozen=True, slots=True)
class AccountCard:
    """The published fields of an account's score (AccountScore minus id and timestamp)."""

    score: int
    fit: int
    engagement: int
    people: int
    engaged_people: int
    roles: tuple[str, ...]
    top_leads: tuple[tuple[str, int], ...]
    factors: tuple[tuple[str, float], ...]
    stage: AccountStage
    model_version: str

    def digest(self) -> bytes:
        return published_digest(
            {
                "score": self.score,
                "fit": self.fit,
                "engagement": self.engagement,
                "people": self.people,
                "engaged_people": self.engaged_people,
                "roles": list(self.roles),
                "top_leads": [list(t) for t in self.top_leads],
                "factors": [list(f) for f in self.factors],
                "stage": self.stage,
                "model_version": self.model_version,
            }
        )


def account_card(state: AccountState, model: ScoringModel) -> AccountCard:
    """Score an account from the contributions it keeps (a pure function of them)."""
    rules = model.accounts
    members = state.members
    counted = [m for m in members.values() if m.stage != "disqualified"]
    fit = max((m.fit for m in counted), default=0)
    weighted = sorted((m.engagement * m.validity for m in counted), reverse=True)
    engagement = _clamp(sum(weighted[: rules.engaged_people]))
    roles = tuple(r for r in BUYING_ROLES if any(m.role == r for m in counted))
    role_pts = [(f"role {r}", rules.role_points.get(r, 0.0)) for r in roles]
    w = rules.weights
    parts = [
        ("fit (best person)", w.fit * fit),
        (f"engagement (top {rules.engaged_people} people)", w.engagement * engagement),
        *role_pts,
    ]
    total = _clamp(sum(points for _, points in parts))
    factors = sorted(((k, round(v, 2)) for k, v in parts if v), key=lambda kv: (-abs(kv[1]), kv[0]))
    top = sorted(members.items(), key=lambda kv: (-kv[1].score, kv[0]))[:TOP_LEADS]
    engaged = sum(m.engagement > 0 for m in members.values())
    engaged += sum(o.engaged for o in state.others.values()) + state.overflow_engaged
    return AccountCard(
        score=total,
        fit=fit,
        engagement=engagement,
        people=state.people,
        engaged_people=engaged,
        roles=roles,
        top_leads=tuple((lead, m.score) for lead, m in top),
        factors=tuple(factors),
        stage=_stage(total, engagement, model),
        model_version=model.model_version,
    )


def _stage(score: int, engagement: int, model: ScoringModel) -> AccountStage:
    levels = model.accounts.thresholds.levels
    if levels and score >= min(levels.values()):
        return "mqa"
    return "engaged" if engagement > 0 else "new"


def _clamp(x: float) -> int:
    if not math.isfinite(x):
        return 0
    return max(0, min(100, round(x)))


@dataclass(slots=True)
class AccountStep:
    """What one contribution decided for its account."""

    outcome: Merge
    score: AccountScore | None = None
    tombstone: bool = False
    alerts: list[AccountAlert] = field(default_factory=list)
    republish: bool = False


def contribute(
    state: AccountState,
    c: Contribution,
    model: ScoringModel,
    now: datetime,
    position: Position | None = None,
) -> AccountStep:
    """Apply a lead's contribution (or removal) to its account, in place."""
    outcome = merge(state, c, model)
    if outcome != "applied":
        return _redeliver(state, outcome, model, now, position)
    state.last_position = position
    step = rescore_account(state, model, now, from_us(c.occurred_us))
    step.outcome = outcome
    if step.alerts:
        sent = [(a.model_dump(mode="json"), position) for a in step.alerts]
        state.outbox = [*state.outbox, *sent][-OUTBOX_SIZE:]
    return step


def rescore_account(
    state: AccountState, model: ScoringModel, now: datetime, occurred: datetime
) -> AccountStep:
    """Publish the account's score if a published field changed (a tombstone when no one
    is left), and its alerts."""
    if not state.people:
        _arm(state, model, 0)
        if state.published is None:
            return AccountStep("applied")
        state.published = None
        return AccountStep("applied", tombstone=True)
    card = account_card(state, model)
    digest = card.digest()
    if state.published is not None and state.published.digest == digest:
        return AccountStep("applied")
    previous = 0 if state.published is None else state.published.score
    state.published = Published(digest, card.score, None)
    alerts = [
        _alert(state, card, name, level, previous, nth, occurred, now)
        for name, level, nth in _arm(state, model, card.score)
    ]
    return AccountStep("applied", score=account_score(state.account_id, card, now), alerts=alerts)


def _arm(state: AccountState, model: ScoringModel, score: int) -> list[tuple[str, int, int]]:
    """Fire on an upward crossing; re-arm only below level - hysteresis."""
    fired = []
    t = model.accounts.thresholds
    for name, level in sorted(t.levels.items(), key=lambda kv: kv[1]):
        arm = state.alerts.setdefault(name, AlertArm())
        if arm.armed and score >= level:
            arm.armed = False
            arm.fired += 1
            fired.append((name, level, arm.fired))
        elif not arm.armed and score < level - t.hysteresis:
            arm.armed = True
    return fired


def _redeliver(
    state: AccountState,
    outcome: Merge,
    model: ScoringModel,
    now: datetime,
    position: Position | None,
) -> AccountStep:
    """A contribution already kept: nothing changes, but the redelivery of the very message
    that last changed the account publishes its outputs again (a crash may have kept the
    state and lost them), as for a lead."""
    step = AccountStep(outcome)
    if position is None:
        return step
    if position == state.last_position:
        if state.published is None:
            step.tombstone = not state.people
        else:
            card = account_card(state, model)
            if card.digest() == state.published.digest:
                step.score = account_score(state.account_id, card, now)
    step.alerts = [AccountAlert.model_validate(a) for a, p in state.outbox if p == position]
    step.republish = step.tombstone or step.score is not None or bool(step.alerts)
    return step


def account_score(account_id: str, card: AccountCard, now: datetime) -> AccountScore:
    return AccountScore.model_validate(
        {
            "account_id": account_id,
            "score": card.score,
            "fit": card.fit,
            "engagement": card.engagement,
            "people": card.people,
            "engaged_people": card.engaged_people,
            "roles": list(card.roles),
            "top_leads": [{"lead_id": lead, "score": s} for lead, s in card.top_leads],
            "factors": [{"factor": k, "points": v} for k, v in card.factors],
            "stage": card.stage,
            "model_version": card.model_version,
            "updated_at": now,
        }
    )


def account_alert_id(account_id: str, threshold: str, nth: int) -> str:
    """Deterministic, so a replay after a crash re-publishes the same id."""
    key = f"account\x1f{account_id}\x1f{threshold}\x1f{nth}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def _alert(
    state: AccountState,
    card: AccountCard,
    name: str,
    level: int,
    previous: int,
    nth: int,
    occurred: datetime,
    now: datetime,
) -> AccountAlert:
    return AccountAlert.model_validate(
        {
            "alert_id": account_alert_id(state.account_id, name, nth),
            "account_id": state.account_id,
            "threshold": name,
            "level": level,
            "score": card.score,
            "previous_score": previous,
            "top_leads": [{"lead_id": lead, "score": s} for lead, s in card.top_leads],
            "occurred_at": occurred,
            "emitted_at": now,
        }
    )
