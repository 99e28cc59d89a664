"""Input events (docs/contract.md s3): one model per `type`, and the union of them all."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Literal

from email_validator import validate_email
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, model_validator
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from schemas.common import EventTime, Id, Message

Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


def _check_email(value: str) -> str:
    # A trailing dot names the same domain (its fully qualified form); forms let it through.
    if value.endswith(".") and not value.endswith(".."):
        value = value[:-1]
    try:
        return _normalized_email(value)
    except ValueError:
        # email_validator's messages quote parts of the address; details must not carry
        # personal data, so the reason is dropped (the dead letter keeps the payload).
        raise PydanticCustomError("email_syntax", "is not a valid email address") from None


@lru_cache(maxsize=65536)
def _normalized_email(value: str) -> str:
    """email_validator's normal form (its checks cost ~100 us; a lead's address repeats
    across its forms and signups). Invalid addresses raise and are not cached."""
    return validate_email(value, check_deliverability=False).normalized


EmailAddress = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_check_email),
    Field(json_schema_extra={"format": "email"}),
]

_COUNTRY_PATTERN = "^[A-Za-z]{2}$"
_COUNTRY_RE = re.compile(_COUNTRY_PATTERN)


def _check_country(value: str) -> str:
    if _COUNTRY_RE.fullmatch(value) is None:
        raise PydanticCustomError("country_code", "must be an ISO 3166-1 alpha-2 code (2 letters)")
    return value.upper()


CountryCode = Annotated[
    str, AfterValidator(_check_country), Field(json_schema_extra={"pattern": _COUNTRY_PATTERN})
]

NonNegativeFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
UserAgent = Annotated[str, StringConstraints(max_length=512)]

# Producers are held to the JSON types the contract publishes ("5" is not an integer, true is
# not a number), so the runtime and the exported JSON Schema accept the same documents.
_EVENT_CONFIG = ConfigDict(strict=True)


class _Event(Message):
    model_config = _EVENT_CONFIG

    event_id: Id
    type: str
    occurred_at: EventTime


class EventBase(_Event):
    """Fields every input event has (a page view may stand for a visitor instead)."""

    lead_id: Id


class EmailOpened(EventBase):
    """An email was opened, on `leads.email-opens`."""

    type: Literal["email.opened"]
    campaign_id: Id | None = None
    message_id: Id | None = None
    sent_at: EventTime | None = None
    user_agent: UserAgent | None = None


class EmailClicked(EventBase):
    """A link in an email was clicked, on `leads.email-clicks`."""

    type: Literal["email.clicked"]
    campaign_id: Id | None = None
    message_id: Id | None = None
    url: Annotated[str, StringConstraints(max_length=2048)] | None = None
    sent_at: EventTime | None = None
    user_agent: UserAgent | None = None


class Signup(EventBase):
    """The lead joined a list, on `leads.signups`."""

    type: Literal["signup"]
    email: EmailAddress
    first_name: Name | None = None
    last_name: Name | None = None
    list_id: Id | None = None
    source: Annotated[str, StringConstraints(max_length=128)] | None = None


class SocialInteraction(EventBase):
    """The lead interacted on a social network, on `leads.social`."""

    type: Literal["social.interaction"]
    network: Literal["linkedin", "x", "facebook", "instagram", "youtube", "other"]
    action: Literal["like", "share", "comment", "follow", "click", "mention"]


class Answers(Message):
    """BANT qualification answers of a form."""

    model_config = _EVENT_CONFIG

    budget: NonNegativeFinite | None = None
    authority: Literal["decision_maker", "influencer", "user", "none"] | None = None
    need: list[Annotated[str, StringConstraints(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    timeline: (
        Literal["now", "lt_3_months", "3_6_months", "6_12_months", "gt_12_months", "none"] | None
    ) = None


class FormSubmitted(EventBase):
    """The lead submitted a web form, on `leads.forms`."""

    type: Literal["form.submitted"]
    form_id: Id
    email: EmailAddress
    first_name: Name | None = None
    last_name: Name | None = None
    company: Annotated[str, StringConstraints(max_length=200)] | None = None
    job_title: Annotated[str, StringConstraints(max_length=200)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    industry: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode | None = None
    answers: Answers | None = None
    honeypot: Annotated[str, StringConstraints(max_length=1000)] | None = None
    fill_seconds: NonNegativeFinite | None = None
    # The lead's account, when the form knows it (e.g. a CRM id): as `lead.associated`.
    account_id: Id | None = None


class LeadVerified(EventBase):
    """A real person was confirmed behind the lead, on `leads.lifecycle`."""

    type: Literal["lead.verified"]
    method: Literal["double_opt_in", "sales_call", "manual"]


class LeadOutcome(EventBase):
    """Sales closed the lead one way or another, on `leads.lifecycle`."""

    type: Literal["lead.outcome"]
    outcome: Literal["converted", "disqualified", "lost"]
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class EmailBounced(EventBase):
    """An email could not be delivered, on `leads.email-status`: `hard` (the address does
    not exist) or `soft` (a full mailbox, a server down: delivery may work later)."""

    type: Literal["email.bounced"]
    bounce_type: Literal["hard", "soft"]
    campaign_id: Id | None = None
    message_id: Id | None = None


class EmailUnsubscribed(EventBase):
    """The lead left a list, on `leads.email-status`. `sent_at` and `user_agent` tell a
    link scanner following the unsubscribe link from a person."""

    type: Literal["email.unsubscribed"]
    campaign_id: Id | None = None
    message_id: Id | None = None
    sent_at: EventTime | None = None
    user_agent: UserAgent | None = None


class EmailComplained(EventBase):
    """The lead reported an email as spam, on `leads.email-status`."""

    type: Literal["email.complained"]
    campaign_id: Id | None = None
    message_id: Id | None = None


class LeadRecycled(EventBase):
    """The lead goes back to nurture, on `leads.lifecycle`: engagement dated at or before
    it stops counting, alerts re-arm, the profile stays."""

    type: Literal["lead.recycled"]
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


Url = Annotated[str, StringConstraints(max_length=2048)]


# http or https, then a host: the runtime and the exported JSON Schema check the same.
_WEB_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s]+"
_WEB_URL_RE = re.compile(_WEB_URL_PATTERN)


def _check_web_url(value: str) -> str:
    if _WEB_URL_RE.match(value) is None:
        raise PydanticCustomError("web_url", "must be an http or https URL with a host")
    return value


WebUrl = Annotated[
    Url, AfterValidator(_check_web_url), Field(json_schema_extra={"pattern": _WEB_URL_PATTERN})
]
# A page view names its lead, or its visitor, or both.
_SOMEONE: JsonDict = {
    "anyOf": [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("lead_id", "anonymous_id")
    ]
}


class PageViewed(_Event):
    """A web page was viewed, on `leads.web`: by a known lead (`lead_id`) or by a visitor
    not yet known (`anonymous_id`, a cookie id), whose views count for the lead it is
    linked to (`identity.linked`). Key: `lead_id` when set, else `anonymous_id`."""

    model_config = ConfigDict(strict=True, json_schema_extra=_SOMEONE)

    type: Literal["page.viewed"]
    lead_id: Id | None = None
    anonymous_id: Id | None = None
    url: WebUrl
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    referrer: Url | None = None
    session_id: Id | None = None
    user_agent: UserAgent | None = None

    @model_validator(mode="after")
    def _someone(self) -> PageViewed:
        if self.lead_id is None and self.anonymous_id is None:
            raise PydanticCustomError("page_viewer", "needs a lead_id or an anonymous_id")
        return self


class IdentityLinked(EventBase):
    """A visitor (`anonymous_id`) is the lead `lead_id`, on `leads.web`, key
    `anonymous_id`: its page views, before and after, count for the lead. Optional profile
    fields (what a Segment `identify` call's traits say) are the lead's, last writer wins."""

    type: Literal["identity.linked"]
    anonymous_id: Id
    email: EmailAddress | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    job_title: Annotated[str, StringConstraints(max_length=200)] | None = None
    company: Annotated[str, StringConstraints(max_length=200)] | None = None


class LeadAssociated(EventBase):
    """The lead belongs to an account, on `leads.lifecycle` (last writer wins by
    `occurred_at`). Optional firmographics describe the account's company."""

    type: Literal["lead.associated"]
    account_id: Id
    company: Annotated[str, StringConstraints(max_length=200)] | None = None
    company_size: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    industry: Annotated[str, StringConstraints(max_length=100)] | None = None
    country: CountryCode | None = None


class LeadErased(EventBase):
    """Forget the lead (right to erasure), on `leads.lifecycle`."""

    type: Literal["lead.erased"]


InputEvent = Annotated[
    EmailOpened
    | EmailClicked
    | Signup
    | SocialInteraction
    | FormSubmitted
    | LeadVerified
    | LeadOutcome
    | LeadErased
    | EmailBounced
    | EmailUnsubscribed
    | EmailComplained
    | LeadRecycled
    | LeadAssociated
    | PageViewed
    | IdentityLinked,
    Field(discriminator="type"),
]


def routing_key(event: InputEvent) -> str:
    """The key the contract gives an event's message: the lead's id, except for a link
    and an anonymous page view (the visitor's `anonymous_id`)."""
    if isinstance(event, IdentityLinked):
        return event.anonymous_id
    if event.lead_id is None:
        assert isinstance(event, PageViewed) and event.anonymous_id is not None
        return event.anonymous_id
    return event.lead_id


def lead_of(event: InputEvent) -> str | None:
    """The lead an event is applied to where it is read; None for a visitor's event (an
    anonymous page view, a link), which the visitor's partition handles first."""
    if isinstance(event, IdentityLinked):
        return None
    return event.lead_id
