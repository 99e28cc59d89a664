"""Segment Spec messages (Segment, RudderStack, Jitsu) onto contract events (schemas.segment).

Messages are built in the shapes the CDPs send; each mapped one is compared with its native
twin, the contract event a producer would have sent directly with the same values.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from schemas.codec import DecodeError, encode, parse_event
from schemas.events import (
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailOpened,
    EmailUnsubscribed,
    IdentityLinked,
    InputEvent,
    LeadAssociated,
    PageViewed,
    Signup,
    routing_key,
)
from schemas.segment import (
    IGNORED_REASONS,
    Call,
    Ignored,
    Routed,
    SegmentMessage,
    Translation,
    translate,
)
from schemas.topics import (
    EMAIL_CLICKS,
    EMAIL_OPENS,
    EMAIL_STATUS,
    LIFECYCLE,
    SIGNUPS,
    WEB,
    Topic,
)

TS = "2024-05-01T12:00:00.000Z"
AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)
# Personal data in the messages below: never in a DecodeError's detail.
EMAIL = "jane.doe@example.com"
FIRST, LAST = "Janelle", "Doerrington"
PII = (EMAIL, FIRST, LAST, "jane.doe")

# --- Messages as the CDPs send them ---------------------------------------------------------


def segment_context(**extra: Any) -> dict[str, Any]:
    return {
        "ip": "203.0.113.7",
        "library": {"name": "analytics.js", "version": "next-1.64.0"},
        "locale": "en-US",
        "userAgent": UA,
        "page": {
            "path": "/pricing",
            "referrer": "https://www.google.com/",
            "search": "",
            "title": "Pricing | Acme",
            "url": "https://acme.example/pricing",
        },
        **extra,
    }


def segment_page() -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": "ajs-next-1714564800000-3f1c9a",
        "anonymousId": "507f191e810c19729de860ea",
        "userId": "lead-42",
        "name": "Pricing",
        "channel": "client",
        "context": segment_context(),
        "properties": {
            "path": "/pricing",
            "referrer": "https://www.google.com/",
            "search": "",
            "title": "Pricing | Acme",
            "url": "https://acme.example/pricing",
        },
        "integrations": {},
        "originalTimestamp": "2024-05-01T11:59:59.870Z",
        "sentAt": "2024-05-01T11:59:59.900Z",
        "receivedAt": "2024-05-01T12:00:00.120Z",
        "timestamp": TS,
        "version": 2,
    }


def rudder_page() -> dict[str, Any]:
    """RudderStack's JS SDK: userId "" until identify, a numeric session id, rudderId."""
    return {
        "type": "page",
        "messageId": "1714564800000-7d2c6e55-5a0a-4d1b-9f37-0d2a3c1b8e41",
        "anonymousId": "8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
        "userId": "",
        "rudderId": "4b3e1f0a-2c5d-4e6f-8a7b-9c0d1e2f3a4b",
        "channel": "web",
        "name": "Pricing",
        "context": {
            "app": {"build": "1.0.0", "name": "RudderLabs JavaScript SDK", "version": "3.0.0"},
            "library": {"name": "RudderLabs JavaScript SDK", "version": "3.0.0"},
            "locale": "en-US",
            "os": {"name": "", "version": ""},
            "screen": {"density": 2, "width": 1440, "height": 900},
            "traits": {},
            "userAgent": UA,
            "sessionId": 1714564712345,
            "page": {
                "path": "/pricing",
                "referrer": "$direct",
                "title": "Pricing | Acme",
                "url": "https://acme.example/pricing",
            },
        },
        "properties": {
            "name": "Pricing",
            "path": "/pricing",
            "referrer": "$direct",
            "referring_domain": "",
            "search": "",
            "tab_url": "https://acme.example/pricing",
            "title": "Pricing | Acme",
            "url": "https://acme.example/pricing",
        },
        "integrations": {"All": True},
        "originalTimestamp": "2024-05-01T11:59:59.870Z",
        "sentAt": "2024-05-01T11:59:59.900Z",
        "receivedAt": "2024-05-01T12:00:00.120Z",
        "request_ip": "203.0.113.7",
        "timestamp": TS,
    }


def jitsu_page() -> dict[str, Any]:
    return {
        "type": "page",
        "messageId": "2f7v3q1x8k",
        "anonymousId": "jitsu-anon-91",
        "userId": None,
        "context": {
            "library": {"name": "@jitsu/js", "version": "1.9.0"},
            "ip": "203.0.113.7",
            "userAgent": UA,
            "locale": "en-US",
            "page": {
                "path": "/blog/scoring",
                "referrer": "",
                "title": "Lead scoring in practice",
                "url": "https://acme.example/blog/scoring",
                "host": "acme.example",
            },
        },
        "properties": {
            "path": "/blog/scoring",
            "title": "Lead scoring in practice",
            "url": "https://acme.example/blog/scoring",
        },
        "receivedAt": "2024-05-01T12:00:00.050Z",
        "sentAt": "2024-05-01T11:59:59.990Z",
        "timestamp": TS,
    }


def segment_identify() -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": "ajs-next-identify-81b2",
        "anonymousId": "507f191e810c19729de860ea",
        "userId": "lead-42",
        "traits": {
            "email": EMAIL,
            "firstName": FIRST,
            "lastName": LAST,
            "title": "VP Marketing",
            "company": {"name": "Acme Corp", "industry": "Software", "employee_count": 250},
            "createdAt": "2024-04-01T09:00:00.000Z",
        },
        "context": segment_context(),
        "integrations": {},
        "timestamp": TS,
    }


def rudder_identify() -> dict[str, Any]:
    """RudderStack's JS SDK puts identify traits in context.traits."""
    return {
        "type": "identify",
        "messageId": "1714564800001-0b6a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
        "anonymousId": "8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
        "userId": "lead-42",
        "rudderId": "4b3e1f0a-2c5d-4e6f-8a7b-9c0d1e2f3a4b",
        "channel": "web",
        "context": {
            "library": {"name": "RudderLabs JavaScript SDK", "version": "3.0.0"},
            "traits": {
                "email": EMAIL,
                "first_name": FIRST,
                "last_name": LAST,
                "title": "VP Marketing",
                "company": "Acme Corp",
            },
            "userAgent": UA,
            "sessionId": 1714564712345,
        },
        "integrations": {"All": True},
        "originalTimestamp": TS,
        "sentAt": "2024-05-01T12:00:00.020Z",
    }


def segment_group() -> dict[str, Any]:
    return {
        "type": "group",
        "messageId": "ajs-next-group-5d1e",
        "anonymousId": "507f191e810c19729de860ea",
        "userId": "lead-42",
        "groupId": "acct-0042",
        "traits": {
            "name": "Acme Corp",
            "employees": "250",  # the spec types it as a string
            "industry": "Software",
            "plan": "enterprise",
            "website": "https://acme.example",
            "address": {"city": "Berlin", "country": "DE", "postalCode": "10115"},
        },
        "context": segment_context(),
        "timestamp": TS,
    }


def track(event: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": f"api-{event.lower().replace(' ', '-')}-1",
        "userId": "lead-42",
        "properties": properties,
        "context": {"library": {"name": "analytics-python", "version": "2.3.2"}, "userAgent": UA},
        "integrations": {},
        "timestamp": TS,
        **extra,
    }


_TRACK_EVENTS = (
    "Email Opened",
    "Email Link Clicked",
    "Email Bounced",
    "Unsubscribed",
    "Email Marked as Spam",
    "Signed Up",
)
EMAIL_PROPS = {"email_id": "18vzF7u6", "campaign_id": "cmp-spring", "campaign_name": "Spring"}


def raw(msg: object) -> bytes:
    return orjson.dumps(msg)


def routed_one(msg: dict[str, Any]) -> Routed:
    result = translate(raw(msg))
    assert result.ignored is None
    assert len(result.routed) == 1
    return result.routed[0]


def schema_error(msg: object) -> str:
    with pytest.raises(DecodeError) as caught:
        translate(raw(msg))
    assert caught.value.code == "schema"
    for value in PII:
        assert value.lower() not in caught.value.detail.lower()
    return caught.value.detail


# --- Each kind against its native twin ------------------------------------------------------

TWINS: list[tuple[str, dict[str, Any], InputEvent, Topic, str]] = [
    (
        "segment page",
        segment_page(),
        PageViewed(
            event_id="ajs-next-1714564800000-3f1c9a",
            type="page.viewed",
            occurred_at=AT,
            lead_id="lead-42",
            anonymous_id="507f191e810c19729de860ea",
            url="https://acme.example/pricing",
            title="Pricing | Acme",
            referrer="https://www.google.com/",
            user_agent=UA,
        ),
        WEB,
        "lead-42",
    ),
    (
        "rudderstack page",
        rudder_page(),
        PageViewed(
            event_id="1714564800000-7d2c6e55-5a0a-4d1b-9f37-0d2a3c1b8e41",
            type="page.viewed",
            occurred_at=AT,
            anonymous_id="8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
            url="https://acme.example/pricing",
            title="Pricing | Acme",
            referrer="$direct",
            session_id="1714564712345",
            user_agent=UA,
        ),
        WEB,
        "8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
    ),
    (
        "jitsu page",
        jitsu_page(),
        PageViewed(
            event_id="2f7v3q1x8k",
            type="page.viewed",
            occurred_at=AT,
            anonymous_id="jitsu-anon-91",
            url="https://acme.example/blog/scoring",
            title="Lead scoring in practice",
            referrer="",
            user_agent=UA,
        ),
        WEB,
        "jitsu-anon-91",
    ),
    (
        "segment identify",
        segment_identify(),
        IdentityLinked(
            event_id="ajs-next-identify-81b2",
            type="identity.linked",
            occurred_at=AT,
            lead_id="lead-42",
            anonymous_id="507f191e810c19729de860ea",
            email=EMAIL,
            first_name=FIRST,
            last_name=LAST,
            job_title="VP Marketing",
            company="Acme Corp",
        ),
        WEB,
        "507f191e810c19729de860ea",
    ),
    (
        "rudderstack identify",
        rudder_identify(),
        IdentityLinked(
            event_id="1714564800001-0b6a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
            type="identity.linked",
            occurred_at=AT,
            lead_id="lead-42",
            anonymous_id="8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
            email=EMAIL,
            first_name=FIRST,
            last_name=LAST,
            job_title="VP Marketing",
            company="Acme Corp",
        ),
        WEB,
        "8c1f2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b",
    ),
    (
        "segment group",
        segment_group(),
        LeadAssociated(
            event_id="ajs-next-group-5d1e",
            type="lead.associated",
            occurred_at=AT,
            lead_id="lead-42",
            account_id="acct-0042",
            company="Acme Corp",
            company_size=250,
            industry="Software",
            country="DE",
        ),
        LIFECYCLE,
        "lead-42",
    ),
    (
        "email opened",
        track("Email Opened", {**EMAIL_PROPS, "email_subject": "Spring is here"}),
        EmailOpened(
            event_id="api-email-opened-1",
            type="email.opened",
            occurred_at=AT,
            lead_id="lead-42",
            campaign_id="cmp-spring",
            message_id="18vzF7u6",
            user_agent=UA,
        ),
        EMAIL_OPENS,
        "lead-42",
    ),
    (
        "email link clicked",
        track(
            "Email Link Clicked",
            {**EMAIL_PROPS, "link_url": "https://acme.example/demo?utm_source=email"},
        ),
        EmailClicked(
            event_id="api-email-link-clicked-1",
            type="email.clicked",
            occurred_at=AT,
            lead_id="lead-42",
            campaign_id="cmp-spring",
            message_id="18vzF7u6",
            url="https://acme.example/demo?utm_source=email",
            user_agent=UA,
        ),
        EMAIL_CLICKS,
        "lead-42",
    ),
    (
        "email bounced",
        track("Email Bounced", {**EMAIL_PROPS, "bounce_type": "soft"}),
        EmailBounced(
            event_id="api-email-bounced-1",
            type="email.bounced",
            occurred_at=AT,
            lead_id="lead-42",
            bounce_type="soft",
            campaign_id="cmp-spring",
            message_id="18vzF7u6",
        ),
        EMAIL_STATUS,
        "lead-42",
    ),
    (
        "unsubscribed",
        track("Unsubscribed", {**EMAIL_PROPS, "list_id": "newsletter"}),
        EmailUnsubscribed(
            event_id="api-unsubscribed-1",
            type="email.unsubscribed",
            occurred_at=AT,
            lead_id="lead-42",
            campaign_id="cmp-spring",
            message_id="18vzF7u6",
            user_agent=UA,
        ),
        EMAIL_STATUS,
        "lead-42",
    ),
    (
        "email marked as spam",
        track("Email Marked as Spam", dict(EMAIL_PROPS)),
        EmailComplained(
            event_id="api-email-marked-as-spam-1",
            type="email.complained",
            occurred_at=AT,
            lead_id="lead-42",
            campaign_id="cmp-spring",
            message_id="18vzF7u6",
        ),
        EMAIL_STATUS,
        "lead-42",
    ),
    (
        "signed up",
        track(
            "Signed Up",
            {
                "type": "organic",
                "email": EMAIL,
                "first_name": FIRST,
                "last_name": LAST,
                "username": "jdoe",
                "list_id": "newsletter",
            },
        ),
        Signup(
            event_id="api-signed-up-1",
            type="signup",
            occurred_at=AT,
            lead_id="lead-42",
            email=EMAIL,
            first_name=FIRST,
            last_name=LAST,
            list_id="newsletter",
            source="organic",
        ),
        SIGNUPS,
        "lead-42",
    ),
]


@pytest.mark.parametrize(
    ("msg", "twin", "topic", "key"),
    [case[1:] for case in TWINS],
    ids=[case[0] for case in TWINS],
)
def test_segment_message_equals_its_native_twin(
    msg: dict[str, Any], twin: InputEvent, topic: Topic, key: str
) -> None:
    result = translate(raw(msg))
    assert result.call == msg["type"]
    assert result.ignored is None and result.dropped == ()
    (routed,) = result.routed
    assert routed.event == twin
    assert routed.event.type == twin.type
    assert routed.topic == topic
    assert routed.key == key == routing_key(twin)
    assert routed.event.event_id == msg["messageId"]
    assert routed.value == encode(twin)
    assert parse_event(routed.value, routed.topic.name) == routed.event


@pytest.mark.parametrize("msg", [case[1] for case in TWINS], ids=[case[0] for case in TWINS])
def test_published_schema_accepts_the_cdp_shapes(msg: dict[str, Any]) -> None:
    SegmentMessage.model_validate(msg)
    Draft202012Validator(SegmentMessage.model_json_schema()).validate(msg)


def test_translation_is_immutable() -> None:
    result = translate(raw(segment_page()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.call = "track"  # type: ignore[misc]


# --- page -----------------------------------------------------------------------------------


def test_page_properties_win_over_context_page() -> None:
    msg = segment_page()
    msg["properties"] = {"url": "https://acme.example/a", "title": "A", "referrer": "https://r/"}
    event = routed_one(msg).event
    assert isinstance(event, PageViewed)
    assert (event.url, event.title, event.referrer) == ("https://acme.example/a", "A", "https://r/")


def test_page_falls_back_to_context_page_then_name() -> None:
    msg = segment_page()
    del msg["properties"]
    event = routed_one(msg).event
    assert isinstance(event, PageViewed)
    assert event.url == "https://acme.example/pricing"
    assert event.title == "Pricing | Acme"
    assert event.referrer == "https://www.google.com/"
    del msg["context"]["page"]["title"]
    msg["context"]["page"]["url"] = "https://acme.example/pricing"
    event = routed_one(msg).event
    assert isinstance(event, PageViewed)
    assert event.title == "Pricing"


def test_page_session_id_from_context_else_properties() -> None:
    msg = segment_page()
    msg["properties"]["session_id"] = "sess-9"
    event = routed_one(msg).event
    assert isinstance(event, PageViewed) and event.session_id == "sess-9"
    msg["context"]["sessionId"] = 1714564712345
    event = routed_one(msg).event
    assert isinstance(event, PageViewed) and event.session_id == "1714564712345"


def test_rudderstack_empty_user_id_is_an_anonymous_view() -> None:
    routed = routed_one(rudder_page())
    assert isinstance(routed.event, PageViewed)
    assert routed.event.lead_id is None
    assert routed.key == routed.event.anonymous_id


def test_known_page_view_keyed_by_user_without_anonymous_id() -> None:
    msg = segment_page()
    del msg["anonymousId"]
    routed = routed_one(msg)
    assert routed.key == "lead-42"
    assert isinstance(routed.event, PageViewed) and routed.event.anonymous_id is None


def test_numeric_ids_are_stringified() -> None:
    msg = segment_page()
    msg["userId"], msg["anonymousId"] = 42, 7
    routed = routed_one(msg)
    assert isinstance(routed.event, PageViewed)
    assert (routed.event.lead_id, routed.event.anonymous_id, routed.key) == ("42", "7", "42")


def test_page_without_any_id_is_a_schema_error() -> None:
    msg = segment_page()
    msg["userId"], msg["anonymousId"] = None, ""
    assert schema_error(msg) == "userId or anonymousId: missing"


def test_page_without_url_is_a_schema_error() -> None:
    msg = segment_page()
    del msg["properties"]["url"], msg["context"]["page"]["url"]
    assert schema_error(msg) == "properties.url or context.page.url: missing"


def test_page_with_non_web_url_names_the_field_not_the_value() -> None:
    msg = segment_page()
    msg["properties"]["url"] = "file:///Users/jane.doe/pricing.html"
    detail = schema_error(msg)
    assert detail.startswith("properties.url: ")


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("properties", "title"), "x" * 501),
        (("properties", "title"), 12),
        (("properties", "referrer"), {"url": "https://r/"}),
        (("context", "userAgent"), "u" * 513),
        (("context", "sessionId"), True),
        (("context", "sessionId"), 1.5),
        (("context", "sessionId"), "   "),
    ],
)
def test_page_bad_optional_values_are_dropped(path: tuple[str, str], bad: object) -> None:
    msg = segment_page()
    msg[path[0]][path[1]] = bad
    result = translate(raw(msg))
    assert result.dropped == (".".join(path),)
    (routed,) = result.routed
    assert isinstance(routed.event, PageViewed)
    assert routed.event.url == "https://acme.example/pricing"


def test_invalid_user_id_is_fatal_not_dropped() -> None:
    msg = segment_page()
    msg["userId"] = "  "
    assert schema_error(msg) == "userId: must not be blank"


# --- identify -------------------------------------------------------------------------------


def test_identify_prefers_top_level_traits_over_context_traits() -> None:
    msg = segment_identify()
    msg["context"]["traits"] = {"email": "other@example.org", "title": "CTO", "lastName": "Other"}
    del msg["traits"]["lastName"]
    event = routed_one(msg).event
    assert isinstance(event, IdentityLinked)
    assert (event.email, event.job_title, event.last_name) == (EMAIL, "VP Marketing", "Other")


def test_identify_company_as_a_string() -> None:
    msg = segment_identify()
    msg["traits"]["company"] = "Initech"
    event = routed_one(msg).event
    assert isinstance(event, IdentityLinked) and event.company == "Initech"


def test_identify_without_traits_links_only() -> None:
    msg = segment_identify()
    del msg["traits"]
    event = routed_one(msg).event
    assert event == IdentityLinked(
        event_id="ajs-next-identify-81b2",
        type="identity.linked",
        occurred_at=AT,
        lead_id="lead-42",
        anonymous_id="507f191e810c19729de860ea",
    )


def test_identify_bad_traits_are_dropped_not_fatal() -> None:
    msg = segment_identify()
    msg["traits"].update(
        email="jane.doe@",
        firstName="J" * 101,
        lastName=["Doe"],
        title=42,
        company={"name": "C" * 201},
    )
    result = translate(raw(msg))
    assert set(result.dropped) == {
        "traits.email",
        "traits.firstName",
        "traits.lastName",
        "traits.title",
        "traits.company.name",
    }
    (routed,) = result.routed
    assert routed.event == IdentityLinked(
        event_id="ajs-next-identify-81b2",
        type="identity.linked",
        occurred_at=AT,
        lead_id="lead-42",
        anonymous_id="507f191e810c19729de860ea",
    )


@pytest.mark.parametrize(
    ("user", "anonymous", "reason"),
    [
        ("lead-42", None, "no_anonymous_id"),
        ("lead-42", "", "no_anonymous_id"),
        (None, "anon-1", "no_user_id"),
        ("", "anon-1", "no_user_id"),
        (None, None, "no_user_id"),
    ],
)
def test_identify_needs_both_ids(user: str | None, anonymous: str | None, reason: Ignored) -> None:
    msg = segment_identify()
    msg["userId"], msg["anonymousId"] = user, anonymous
    assert translate(raw(msg)) == Translation("identify", (), ignored=reason)


# --- group ----------------------------------------------------------------------------------


def test_group_employees_as_an_integer() -> None:
    msg = segment_group()
    msg["traits"]["employees"] = 1200
    event = routed_one(msg).event
    assert isinstance(event, LeadAssociated) and event.company_size == 1200


def test_group_country_takes_the_first_two_letter_code() -> None:
    msg = segment_group()
    msg["traits"]["address"]["country"] = "Germany"
    msg["traits"]["country"] = "de"
    event = routed_one(msg).event
    assert isinstance(event, LeadAssociated) and event.country == "DE"
    msg["traits"]["country"] = "DEU"
    event = routed_one(msg).event
    assert isinstance(event, LeadAssociated) and event.country is None


@pytest.mark.parametrize(
    ("trait", "bad", "path"),
    [
        ("employees", "1,000", "traits.employees"),
        ("employees", "about 50", "traits.employees"),
        ("employees", "99999999999999999999", "traits.employees"),
        ("employees", -3, "traits.employees"),
        ("employees", True, "traits.employees"),
        ("employees", 12.0, "traits.employees"),
        ("industry", "i" * 101, "traits.industry"),
        ("name", {"legal": "Acme"}, "traits.name"),
        ("address", {"country": "1A"}, "traits.address.country"),
    ],
)
def test_group_bad_traits_are_dropped(trait: str, bad: object, path: str) -> None:
    msg = segment_group()
    msg["traits"][trait] = bad
    result = translate(raw(msg))
    assert result.dropped == (path,)
    (routed,) = result.routed
    assert isinstance(routed.event, LeadAssociated) and routed.event.account_id == "acct-0042"


def test_group_numeric_group_id_is_stringified() -> None:
    msg = segment_group()
    msg["groupId"] = 9001
    event = routed_one(msg).event
    assert isinstance(event, LeadAssociated) and event.account_id == "9001"


def test_group_without_user_is_ignored() -> None:
    msg = segment_group()
    del msg["userId"]
    assert translate(raw(msg)) == Translation("group", (), ignored="no_user_id")


def test_group_without_group_id_is_a_schema_error() -> None:
    msg = segment_group()
    del msg["groupId"]
    assert schema_error(msg) == "groupId: missing"


# --- track ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("given", "stored"), [("hard", "hard"), (None, "hard"), ("block", "hard")])
def test_bounce_type_defaults_to_hard(given: str | None, stored: str) -> None:
    event = routed_one(track("Email Bounced", {**EMAIL_PROPS, "bounce_type": given})).event
    assert isinstance(event, EmailBounced) and event.bounce_type == stored


def test_signup_email_falls_back_to_traits() -> None:
    msg = track("Signed Up", {"type": "invited"})
    msg["context"]["traits"] = {"email": EMAIL, "firstName": FIRST, "last_name": LAST}
    event = routed_one(msg).event
    assert isinstance(event, Signup)
    assert (event.email, event.first_name, event.last_name) == (EMAIL, FIRST, LAST)
    del msg["context"]["traits"]
    msg["traits"] = {"email": EMAIL}
    event = routed_one(msg).event
    assert isinstance(event, Signup) and event.email == EMAIL and event.first_name is None


def test_signup_without_email_is_a_schema_error() -> None:
    msg = track("Signed Up", {"type": "organic", "first_name": FIRST})
    detail = schema_error(msg)
    assert detail == "properties.email or context.traits.email or traits.email: missing"


def test_signup_with_invalid_email_names_the_field_not_the_value() -> None:
    msg = track("Signed Up", {"email": "jane.doe@@example.com", "first_name": FIRST})
    assert schema_error(msg) == "properties.email: is not a valid email address"


def test_signup_bad_optional_properties_are_dropped() -> None:
    msg = track(
        "Signed Up",
        {"email": EMAIL, "type": {"kind": "organic"}, "list_id": "", "first_name": ""},
    )
    result = translate(raw(msg))
    assert set(result.dropped) == {"properties.type", "properties.list_id", "properties.first_name"}
    (routed,) = result.routed
    assert isinstance(routed.event, Signup) and routed.event.email == EMAIL


def test_numeric_campaign_and_email_ids_are_stringified() -> None:
    event = routed_one(track("Email Opened", {"email_id": 1234, "campaign_id": 56})).event
    assert isinstance(event, EmailOpened)
    assert (event.message_id, event.campaign_id) == ("1234", "56")


@pytest.mark.parametrize("event", ["Order Completed", "email opened", "Email Delivered", "", None])
def test_unmapped_track_is_ignored(event: str | None) -> None:
    msg = track("Email Opened", EMAIL_PROPS)
    msg["event"] = event
    assert translate(raw(msg)) == Translation("track", (), ignored="unmapped_track")


def test_unmapped_track_is_ignored_even_when_incomplete() -> None:
    msg = {"type": "track", "event": "Product Viewed", "properties": {"sku": 5}}
    assert translate(raw(msg)) == Translation("track", (), ignored="unmapped_track")


@pytest.mark.parametrize("user", [None, ""])
@pytest.mark.parametrize("event", ["Email Opened", "Signed Up", "Unsubscribed"])
def test_anonymous_track_is_ignored(user: str | None, event: str) -> None:
    msg = track(event, {**EMAIL_PROPS, "email": EMAIL}, anonymousId="anon-1")
    msg["userId"] = user
    assert translate(raw(msg)) == Translation("track", (), ignored="no_user_id")


# --- Other calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "call"),
    [
        ({"type": "screen", "name": "Home", "userId": "lead-42", "messageId": "m"}, "screen"),
        ({"type": "alias", "previousId": "anon-1", "userId": "lead-42"}, "alias"),
        ({"type": "Page", "userId": "lead-42"}, "unknown"),
        ({"type": "batch", "batch": []}, "unknown"),
        ({"type": ["page"]}, "unknown"),
        ({"type": {"page": 1}}, "unknown"),
        ({"userId": "lead-42"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_other_calls_are_unsupported(msg: dict[str, Any], call: Call) -> None:
    assert translate(raw(msg)) == Translation(call, (), ignored="unsupported_call")


def test_ignored_reasons_are_the_documented_ones() -> None:
    assert set(IGNORED_REASONS) == {
        "unsupported_call",
        "unmapped_track",
        "no_user_id",
        "no_anonymous_id",
    }


# --- Messages that cannot be read -----------------------------------------------------------

MAPPED = [segment_page(), segment_identify(), segment_group(), track("Signed Up", {"email": EMAIL})]


@pytest.mark.parametrize("msg", MAPPED, ids=lambda m: m["type"])
def test_missing_message_id_is_a_schema_error(msg: dict[str, Any]) -> None:
    msg = copy.deepcopy(msg)
    del msg["messageId"]
    assert schema_error(msg) == "messageId: missing"


@pytest.mark.parametrize("msg", MAPPED, ids=lambda m: m["type"])
def test_missing_timestamp_is_a_schema_error(msg: dict[str, Any]) -> None:
    msg = copy.deepcopy(msg)
    msg.pop("timestamp", None)
    msg.pop("originalTimestamp", None)
    assert schema_error(msg) == "timestamp or originalTimestamp: missing"


def test_original_timestamp_stands_in_for_timestamp() -> None:
    msg = segment_page()
    msg["timestamp"] = None
    event = routed_one(msg).event
    assert event.occurred_at == datetime(2024, 5, 1, 11, 59, 59, 870000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stamp", "problem"),
    [
        ("2024-05-01T12:00:00.000", "timestamp: timestamp has no UTC offset"),
        (1714564800000, "timestamp: must be an RFC 3339 timestamp string"),
        ("1999-12-31T23:59:59Z", "timestamp: must be from 2000-01-01"),
    ],
)
def test_bad_timestamp_is_a_schema_error(stamp: object, problem: str) -> None:
    msg = segment_identify()
    msg["timestamp"] = stamp
    assert schema_error(msg).startswith(problem)


def test_timestamp_offsets_are_normalised_to_utc() -> None:
    msg = segment_group()
    msg["timestamp"] = "2024-05-01T14:00:00+02:00"
    assert routed_one(msg).event.occurred_at == AT


@pytest.mark.parametrize("bad", [{"id": 1}, ["m"], "  ", "m\n1", "m" * 129, 1.5, True])
def test_bad_message_id_is_a_schema_error(bad: object) -> None:
    msg = segment_identify()
    msg["messageId"] = bad
    assert schema_error(msg).startswith("messageId: ")


def test_required_and_optional_errors_report_only_the_fatal_ones() -> None:
    msg = segment_identify()
    msg["messageId"] = ""
    msg["traits"]["email"] = "jane.doe@"
    assert schema_error(msg) == "messageId: String should have at least 1 character"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (None, "invalid_json"),
        (b"", "invalid_json"),
        (b'{"type": "page", ', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "schema"),
        (b'"page"', "schema"),
        (b"null", "schema"),
        (b"42", "schema"),
    ],
)
def test_unreadable_messages(data: bytes | None, code: str) -> None:
    with pytest.raises(DecodeError) as caught:
        translate(data)
    assert caught.value.code == code


def test_invalid_json_detail_does_not_echo_the_message() -> None:
    data = raw(segment_identify())[:-20]
    with pytest.raises(DecodeError) as caught:
        translate(data)
    assert caught.value.code == "invalid_json"
    for value in PII:
        assert value not in caught.value.detail


# --- Property: any JSON object translates or is a DecodeError --------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=20,
)


def either(*good: object) -> st.SearchStrategy[object]:
    """A value the mapping expects for a field (mostly), or any JSON value at all."""
    choices = [st.just(value) for value in good]
    return st.sampled_from([*choices * 3, JSON]).flatmap(lambda chosen: chosen)


def some_of(fields: dict[str, st.SearchStrategy[object]]) -> st.SearchStrategy[object]:
    """An object with `fields` (each may be null or anything else), or any JSON value."""
    return st.fixed_dictionaries(fields) | JSON


WEB_URLS = either("https://acme.example/p", "ftp://acme.example/p", "")
NAMES = either(FIRST, "", "x" * 101)
TRAITS = some_of(
    {
        "email": either(EMAIL, "jane.doe@", ""),
        "firstName": NAMES,
        "first_name": NAMES,
        "lastName": NAMES,
        "last_name": NAMES,
        "title": either("VP", "t" * 201),
        "company": either("Acme", {"name": "Acme"}, {"name": 5}),
        "name": either("Acme"),
        "employees": either(250, "250", "1,000", "99999999999999999999", -1),
        "industry": either("Software"),
        "address": some_of({"country": either("DE", "Germany", "1A")}),
        "country": either("de", "DEU"),
    }
)
PROPERTIES = some_of(
    {
        "url": WEB_URLS,
        "title": either("Pricing"),
        "referrer": either("https://r.example/"),
        "session_id": either("s-1", 5),
        "email": either(EMAIL, "jane.doe@"),
        "first_name": NAMES,
        "email_id": either("18vzF7u6", 12),
        "campaign_id": either("cmp-1", ""),
        "link_url": either("https://acme.example/l"),
        "bounce_type": either("hard", "soft", "block"),
        "list_id": either("newsletter"),
        "type": either("organic"),
    }
)
MESSAGES = st.fixed_dictionaries(
    {
        "messageId": either("m-1", 12345),
        "timestamp": either(TS, "2024-05-01T14:00:00+02:00"),
        "userId": either("lead-42", 42, ""),
        "anonymousId": either("anon-1", 7, ""),
        "groupId": either("acct-1", 9),
        "event": either(*_TRACK_EVENTS, "Order Completed"),
        "properties": PROPERTIES,
    },
    optional={
        "originalTimestamp": either(TS),
        "name": either("Home"),
        "traits": TRAITS,
        "context": some_of(
            {
                "page": some_of({"url": WEB_URLS, "title": either("T"), "referrer": JSON}),
                "traits": TRAITS,
                "userAgent": either(UA, "u" * 513),
                "sessionId": either(1714564712345, "s-1", True),
            }
        ),
    },
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    doc=MESSAGES | st.dictionaries(st.text(max_size=12), JSON, max_size=8),
    call=st.sampled_from(["page", "identify", "group", "track", "screen"]),
)
def test_any_message_translates_or_is_a_decode_error(doc: dict[str, Any], call: str) -> None:
    doc["type"] = call
    try:
        result = translate(raw(doc))
    except DecodeError as err:
        assert err.code in ("invalid_json", "schema")
        return
    assert result.call == call
    assert (result.ignored is None) == (len(result.routed) == 1)
    for routed in result.routed:
        assert routed.key == routing_key(routed.event)
        assert routed.value == encode(routed.event)
        assert parse_event(routed.value, routed.topic.name) == routed.event
