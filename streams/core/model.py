"""The scoring model: a versioned YAML file that marketing operations own.

Everything that decides a score is a field here, validated by pydantic, so a
bad file is refused with the field and the file named.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, get_args

import yaml
from crawleruseragents import is_crawler
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streams.core.decay import half_life_us
from streams.core.domains import in_domain_list

# What a page rule can call a page: each kind is the activity `page.<kind>`.
PageKind = Literal["pricing", "demo", "contact", "product", "docs", "blog", "careers", "other"]
PAGE_KINDS: tuple[str, ...] = get_args(PageKind)

ACTIVITIES = (
    "email.opened",
    "email.clicked",
    "signup",
    "form.submitted",
    "social.like",
    "social.share",
    "social.comment",
    "social.follow",
    "social.click",
    "social.mention",
    "email.unsubscribed",
    "email.complained",
    "email.bounced.hard",
    "email.bounced.soft",
    *(f"page.{kind}" for kind in PAGE_KINDS),
)
BOT_FLAGS = ("lowercase_name", "free_mail", "disposable_email", "honeypot", "fast_submit")
# Why each flag is raised, in words for people (the console; docs/contract.md has the table).
BOT_FLAG_HELP = {
    "lowercase_name": "the first or last name is written all in lower case",
    "free_mail": "the email is at a free mail provider, not a business domain",
    "disposable_email": "the email is at a disposable (throw-away) mail domain",
    "honeypot": "a form arrived with its hidden honeypot field filled (a bot)",
    "fast_submit": "a form was filled faster than a person can",
}

_LOOKUP_CACHE_SIZE = 65536  # per model: distinct domains, user agents and job titles

Points = Annotated[float, Field(ge=0, le=100)]
SignedPoints = Annotated[float, Field(ge=-100, le=100)]
Factor = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    # A typo in a model file must fail loudly, not be ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Weights(_Strict):
    fit: Factor = 0.5
    engagement: Factor = 0.5


class Thresholds(_Strict):
    hysteresis: Points = 10
    levels: dict[str, Annotated[int, Field(ge=1, le=100)]] = {"mql": 60, "sql": 80}


class Activity(_Strict):
    """Points per occurrence (negative: a loss), the most the activity adds or takes away
    in all, and its own half-life (default: the engagement's)."""

    points: SignedPoints
    cap: Points
    half_life_days: float | None = Field(None, gt=0)


class Machine(_Strict):
    min_seconds_after_send: float = Field(90, ge=0)
    burst_window_seconds: float = Field(10, ge=0)
    burst_min_clicks: int = Field(3, ge=2)
    scanner_user_agents: list[str] = []

    @field_validator("scanner_user_agents")
    @classmethod
    def _lower(cls, agents: list[str]) -> list[str]:
        return [a.lower() for a in agents if a.strip()]


class PageRule(_Strict):
    """URL patterns (case-insensitive regular expressions, searched in the URL's host and
    path) -> a page kind. Both given: both must match; the first matching rule wins."""

    kind: PageKind
    host: str | None = None
    path: str | None = None

    @field_validator("host", "path")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return pattern

    @model_validator(mode="after")
    def _some_pattern(self) -> PageRule:
        if self.host is None and self.path is None:
            raise ValueError("a page rule needs a host or a path pattern")
        return self


class Pages(_Strict):
    """How page views count: the rules, and how long a page viewed again in the same
    session (or, without a session id, by the same lead) counts only once."""

    rules: list[PageRule] = []
    repeat_window_minutes: float = Field(30, ge=0)


class Engagement(_Strict):
    half_life_days: float = Field(30, gt=0)
    activities: dict[str, Activity]
    machine: Machine = Machine()
    pages: Pages = Pages()

    @field_validator("activities")
    @classmethod
    def _known(cls, acts: dict[str, Activity]) -> dict[str, Activity]:
        unknown = sorted(set(acts) - set(ACTIVITIES))
        if unknown:
            raise ValueError(f"unknown activities {unknown}; known: {list(ACTIVITIES)}")
        return acts


class SizeBand(_Strict):
    min: int = Field(ge=0)
    max: int | None = None
    points: Points

    def label(self) -> str:
        return f"{self.min}+" if self.max is None else f"{self.min}-{self.max}"


class ValueList(_Strict):
    points: Points
    values: list[str]


class Seniority(_Strict):
    name: str
    pattern: str
    points: Points

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return pattern


class Bant(_Strict):
    budget_min: float = Field(10000, ge=0)
    budget_points: Points = 10
    authority_points: dict[Literal["decision_maker", "influencer", "user", "none"], Points] = {}
    need_points: Points = 5
    timeline_points: dict[
        Literal["now", "lt_3_months", "3_6_months", "6_12_months", "gt_12_months", "none"], Points
    ] = {}


class Fit(_Strict):
    company_size_bands: list[SizeBand] = []
    industries: ValueList = ValueList(points=0, values=[])
    countries: ValueList = ValueList(points=0, values=[])
    seniority: list[Seniority] = []
    bant: Bant = Bant()


class Disqualifiers(_Strict):
    countries_not_served: list[str] = []
    competitor_domains: list[str] = []
    min_company_size: int = Field(0, ge=0)


class Bots(_Strict):
    fast_submit_seconds: float = Field(3.0, ge=0)
    factors: dict[str, Factor]

    @field_validator("factors")
    @classmethod
    def _all_flags(cls, factors: dict[str, float]) -> dict[str, float]:
        missing = sorted(set(BOT_FLAGS) - set(factors))
        unknown = sorted(set(factors) - set(BOT_FLAGS))
        if missing or unknown:
            raise ValueError(f"factors must name exactly {list(BOT_FLAGS)}")
        return factors


BuyingRole = Literal["decision_maker", "influencer", "user"]
BUYING_ROLES: tuple[BuyingRole, ...] = get_args(BuyingRole)


class AccountThresholds(_Strict):
    hysteresis: Points = 10
    levels: dict[str, Annotated[int, Field(ge=1, le=100)]] = {"mqa": 60}


class Accounts(_Strict):
    """How an account is scored from its people (core/accounts.py)."""

    weights: Weights = Weights()
    # How many of the most engaged people make the account's engagement (their sum, capped).
    engaged_people: int = Field(3, ge=1, le=50)
    # Points added for each buying role present among the account's people.
    role_points: dict[BuyingRole, Points] = {"decision_maker": 10, "influencer": 5, "user": 2}
    # A person's role when they gave no BANT authority answer: from their job title's
    # seniority (the names of fit.seniority).
    seniority_roles: dict[str, BuyingRole] = {}
    thresholds: AccountThresholds = AccountThresholds()
    # People kept per account with their latest contribution (the highest scores); the
    # others are counted, not kept (docs/accounts.md).
    max_people: int = Field(200, ge=5, le=10_000)


class ScoringModel(_Strict):
    """The whole model; `ScoringModel.load(path)` is the one way to read a file."""

    model_version: Annotated[str, Field(min_length=1, max_length=64)]
    weights: Weights = Weights()
    grades: dict[Literal["A", "B", "C"], Points] = {"A": 75, "B": 50, "C": 25}
    thresholds: Thresholds = Thresholds()
    engagement: Engagement
    fit: Fit = Fit()
    disqualifiers: Disqualifiers = Disqualifiers()
    bots: Bots
    accounts: Accounts = Accounts()

    @model_validator(mode="after")
    def _weights_sum(self) -> ScoringModel:
        total = self.weights.fit + self.weights.engagement
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"weights.fit + weights.engagement must be 1, got {total}")
        accounts = self.accounts.weights.fit + self.accounts.weights.engagement
        if abs(accounts - 1.0) > 1e-9:
            raise ValueError(f"accounts.weights must add up to 1, got {accounts}")
        known = {s.name for s in self.fit.seniority}
        unknown = sorted(set(self.accounts.seniority_roles) - known)
        if unknown:
            raise ValueError(f"accounts.seniority_roles: {unknown} are not fit.seniority names")
        return self

    @cached_property
    def seniority_patterns(self) -> list[tuple[Seniority, re.Pattern[str]]]:
        return [(s, re.compile(s.pattern, re.IGNORECASE)) for s in self.fit.seniority]

    @cached_property
    def rules(self) -> EngagementRules:
        """What a lead's engagement sums depend on (engagement.py): when any of it changes,
        the sums are rebuilt from the records."""
        e = self.engagement
        m = e.machine
        half_lives = {
            kind: half_life_us(a.half_life_days or e.half_life_days)
            for kind, a in sorted(e.activities.items())
        }
        min_after_ms = m.min_seconds_after_send * 1000
        window_us = m.burst_window_seconds * 1e6
        repeat_us = e.pages.repeat_window_minutes * 60e6
        text = repr(
            (sorted(half_lives.items()), min_after_ms, window_us, m.burst_min_clicks, repeat_us)
        )
        key = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
        spans = tuple(sorted(set(half_lives.values())))
        return EngagementRules(
            half_lives, spans, min_after_ms, window_us, m.burst_min_clicks, repeat_us, key
        )

    # Derived lookups for the scoring hot path (computed once per model, or cached per
    # input value in bounded dicts: the same answers as the plain code, without its cost).

    @cached_property
    def industry_set(self) -> frozenset[str]:
        """The ICP industries, lowercased (fit compares case-insensitively)."""
        return frozenset(v.lower() for v in self.fit.industries.values)

    @cached_property
    def competitor_domain_set(self) -> frozenset[str]:
        return frozenset(self.disqualifiers.competitor_domains)

    @cached_property
    def lookup_cache(self) -> dict[tuple[str, str], Any]:
        return {}

    def _cached(self, kind: str, key: str, compute: Callable[[str], Any]) -> Any:
        cache = self.lookup_cache
        try:
            return cache[(kind, key)]
        except KeyError:
            if len(cache) >= _LOOKUP_CACHE_SIZE:
                cache.clear()
            value = cache[(kind, key)] = compute(key)
            return value

    def is_competitor_domain(self, domain: str) -> bool:
        """The domain or any parent of it is a competitor's."""

        def compute(d: str) -> bool:
            return in_domain_list(d, self.competitor_domain_set)

        return bool(self._cached("competitor", domain, compute))

    def is_scanner_agent(self, user_agent: str) -> bool:
        """A known mail-scanner user agent (case-insensitive substring)."""

        def compute(agent: str) -> bool:
            ua = agent.lower()
            return any(s in ua for s in self.engagement.machine.scanner_user_agents)

        return bool(self._cached("agent", user_agent, compute))

    def is_crawler_agent(self, user_agent: str) -> bool:
        """A known crawler's user agent (the crawler-user-agents list, maintained upstream)."""
        return bool(self._cached("crawler", user_agent, is_crawler))

    def page_kind(self, host: str, path: str) -> str:
        """The kind of a page: the first page rule that matches it, else "other"."""

        def compute(page: str) -> str:
            for rule, host_re, path_re in self.page_patterns:
                if (host_re is None or host_re.search(host)) and (
                    path_re is None or path_re.search(path)
                ):
                    return rule.kind
            return "other"

        kind: str = self._cached("page", f"{host}{path}", compute)
        return kind

    @cached_property
    def page_patterns(
        self,
    ) -> list[tuple[PageRule, re.Pattern[str] | None, re.Pattern[str] | None]]:
        def compiled(pattern: str | None) -> re.Pattern[str] | None:
            return None if pattern is None else re.compile(pattern, re.IGNORECASE)

        return [(r, compiled(r.host), compiled(r.path)) for r in self.engagement.pages.rules]

    def seniority_of(self, title: str) -> Seniority | None:
        """The first seniority whose pattern a (non-empty) job title matches."""

        def compute(t: str) -> Seniority | None:
            for seniority, pattern in self.seniority_patterns:
                if pattern.search(t):
                    return seniority
            return None

        found: Seniority | None = self._cached("title", title, compute)
        return found

    @classmethod
    def load(cls, path: Path | None = None) -> ScoringModel:
        """Read and validate a model file (the packaged default when `path` is None)."""
        if path is None:
            text = resources.files("streams.core").joinpath("default_model.yaml").read_text()
            return cls.parse_text(text, "default_model.yaml")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelError(f"{path}: cannot read model file: {exc.strerror}") from exc
        return cls.parse_text(text, str(path))

    @classmethod
    def parse_text(cls, text: str, source: str) -> ScoringModel:
        """Validate YAML text; errors name the source and every bad field."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ModelError(f"{source}: not valid YAML: {exc}") from exc
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ModelError(f"{source}: invalid model: {_fields(exc)}") from exc


class EngagementRules(NamedTuple):
    half_lives: dict[str, int]  # activity -> half-life in microseconds
    distinct_half_lives: tuple[int, ...]
    min_after_ms: float  # an open or click sooner after its send is machine-made
    burst_window_us: float
    burst_min_clicks: int
    repeat_window_us: float  # a page viewed again in its session within this counts once
    key: int  # fingerprint of the above, kept in each lead's state


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and field."""

    def one_line(self) -> str:
        """The error as one line, naming the file once (its message starts with the file);
        a YAML syntax error as its problem and position, without the quoted snippet."""
        text = str(self)
        source, marker, _ = text.partition(": not valid YAML: ")
        cause = self.__cause__
        if marker and isinstance(cause, yaml.MarkedYAMLError) and cause.problem_mark is not None:
            at = cause.problem_mark
            problem = cause.problem or cause.context or "unreadable"
            text = f"{source}{marker}{problem} (line {at.line + 1}, column {at.column + 1})"
        return " ".join(text.split())


def _fields(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
