"""The wire contract (docs/contract.md s3-s4) as the schemas package enforces it."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_args

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from schemas import (
    TOPIC_EVENT_TYPES,
    Alert,
    Answers,
    Contact,
    DeadLetter,
    DecodeError,
    EmailBounced,
    EmailClicked,
    EmailComplained,
    EmailOpened,
    EmailUnsubscribed,
    Factor,
    FormSubmitted,
    IdentityLinked,
    InputEvent,
    LeadAssociated,
    LeadErased,
    LeadOutcome,
    LeadRecycled,
    LeadVerified,
    PageViewed,
    ScoreUpdate,
    Signup,
    SocialInteraction,
    decode_json,
    encode,
    export,
    parse_event,
    payload_text,
)

T0 = "2024-05-01T12:00:00Z"
BASE = {"event_id": "evt-1", "lead_id": "lead-1", "occurred_at": T0}

FORM_FULL = {
    **BASE,
    "type": "form.submitted",
    "form_id": "demo-request",
    "email": "Jane.Doe@Example.COM",
    "first_name": "Jane",
    "last_name": "Doe",
    "company": "Acme GmbH",
    "job_title": "Head of Operations",
    "company_size": 250,
    "industry": "manufacturing",
    "country": "de",
    "answers": {
        "budget": 50000,
        "authority": "decision_maker",
        "need": ["reporting", "forecasting"],
        "timeline": "lt_3_months",
    },
    "honeypot": "",
    "fill_seconds": 42.5,
}


def without(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != key}


# (contract topic, payload, model): every event type, minimal and with every field.
VALID: list[tuple[str, dict[str, Any], type[BaseModel]]] = [
    ("leads.email-opens", {**BASE, "type": "email.opened"}, EmailOpened),
    (
        "leads.email-opens",
        {
            **BASE,
            "type": "email.opened",
            "campaign_id": "spring",
            "message_id": "m-1",
            "sent_at": "2024-05-01T11:59:00+02:00",
            "user_agent": "Mozilla/5.0",
        },
        EmailOpened,
    ),
    ("leads.email-clicks", {**BASE, "type": "email.clicked"}, EmailClicked),
    (
        "leads.email-clicks",
        {
            **BASE,
            "type": "email.clicked",
            "campaign_id": "spring",
            "message_id": "m-1",
            "url": "https://example.com/pricing",
            "sent_at": None,
            "user_agent": None,
        },
        EmailClicked,
    ),
    ("leads.signups", {**BASE, "type": "signup", "email": "jane@example.com"}, Signup),
    (
        "leads.signups",
        {
            **BASE,
            "type": "signup",
            "email": "jane@example.com",
            "first_name": "Jane",
            "last_name": "Doe",
            "list_id": "newsletter",
            "source": "footer",
        },
        Signup,
    ),
    (
        "leads.social",
        {**BASE, "type": "social.interaction", "network": "linkedin", "action": "comment"},
        SocialInteraction,
    ),
    (
        "leads.forms",
        {**BASE, "type": "form.submitted", "form_id": "f", "email": "j@example.com"},
        FormSubmitted,
    ),
    ("leads.forms", FORM_FULL, FormSubmitted),
    (
        "leads.forms",
        {**FORM_FULL, "answers": {"budget": None, "authority": None, "need": [], "timeline": None}},
        FormSubmitted,
    ),
    (
        "leads.lifecycle",
        {**BASE, "type": "lead.verified", "method": "double_opt_in"},
        LeadVerified,
    ),
    ("leads.lifecycle", {**BASE, "type": "lead.outcome", "outcome": "converted"}, LeadOutcome),
    (
        "leads.lifecycle",
        {**BASE, "type": "lead.outcome", "outcome": "lost", "reason": "chose a competitor"},
        LeadOutcome,
    ),
    ("leads.lifecycle", {**BASE, "type": "lead.erased"}, LeadErased),
    ("leads.lifecycle", {**BASE, "type": "lead.recycled"}, LeadRecycled),
    ("leads.lifecycle", {**BASE, "type": "lead.recycled", "reason": "lost"}, LeadRecycled),
    ("leads.email-status", {**BASE, "type": "email.bounced", "bounce_type": "hard"}, EmailBounced),
    (
        "leads.email-status",
        {**BASE, "type": "email.bounced", "bounce_type": "soft", "message_id": "m-1"},
        EmailBounced,
    ),
    ("leads.email-status", {**BASE, "type": "email.unsubscribed"}, EmailUnsubscribed),
    (
        "leads.email-status",
        {
            **BASE,
            "type": "email.unsubscribed",
            "campaign_id": "spring",
            "message_id": "m-1",
            "sent_at": "2024-05-01T11:59:00Z",
            "user_agent": "Mozilla/5.0",
        },
        EmailUnsubscribed,
    ),
    ("leads.email-status", {**BASE, "type": "email.complained"}, EmailComplained),
    ("leads.lifecycle", {**BASE, "type": "lead.associated", "account_id": "acme"}, LeadAssociated),
    (
        "leads.lifecycle",
        {
            **BASE,
            "type": "lead.associated",
            "account_id": "acme",
            "company": "Acme",
            "company_size": 120,
            "industry": "saas",
            "country": "de",
        },
        LeadAssociated,
    ),
    ("leads.web", {**BASE, "type": "page.viewed", "url": "https://acme.com/pricing"}, PageViewed),
    (
        "leads.web",
        {
            **without(BASE, "lead_id"),
            "type": "page.viewed",
            "anonymous_id": "anon-1",
            "url": "http://acme.com/",
            "title": "Acme",
            "referrer": "https://www.google.com/",
            "session_id": "s-1",
            "user_agent": "Mozilla/5.0",
        },
        PageViewed,
    ),
    ("leads.web", {**BASE, "type": "identity.linked", "anonymous_id": "anon-1"}, IdentityLinked),
    (
        "leads.web",
        {
            **BASE,
            "type": "identity.linked",
            "anonymous_id": "anon-1",
            "email": "jane@acme.com",
            "first_name": "Jane",
            "last_name": "Doe",
            "job_title": "CTO",
            "company": "Acme",
        },
        IdentityLinked,
    ),
]
VALID_IDS = [f"{topic}:{len(payload)}" for topic, payload, _ in VALID]

SOCIAL = {**BASE, "type": "social.interaction", "network": "x", "action": "like"}


def raw(payload: object) -> bytes:
    return orjson.dumps(payload)


def schema_error(payload: object, topic: str) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        parse_event(raw(payload), topic)
    return caught.value


# --- valid messages -------------------------------------------------------------------------


@pytest.mark.parametrize(("topic", "payload", "model"), VALID, ids=VALID_IDS)
def test_valid_examples_parse_and_round_trip(
    topic: str, payload: dict[str, Any], model: type[BaseModel]
) -> None:
    event = parse_event(raw(payload), topic)
    assert type(event) is model
    assert parse_event(encode(event), topic) == event


def test_fields_are_normalised() -> None:
    event = parse_event(raw({**FORM_FULL, "occurred_at": "2024-05-01t14:00:00.5+02:00"}), None)
    assert isinstance(event, FormSubmitted)
    assert event.email == "Jane.Doe@example.com"  # domain lower-cased, local part kept
    assert event.country == "DE"
    assert event.occurred_at == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert orjson.loads(encode(event))["occurred_at"] == "2024-05-01T12:00:00.500000Z"


def test_unknown_extra_fields_are_ignored() -> None:
    payload = {**FORM_FULL, "utm_source": "ads", "answers": {**FORM_FULL["answers"], "x": 1}}
    event = parse_event(raw(payload), "leads.forms")
    assert event == parse_event(raw(FORM_FULL), "leads.forms")
    assert "utm_source" not in orjson.loads(encode(event))


def test_events_are_frozen() -> None:
    event = parse_event(raw(SOCIAL), "leads.social")
    with pytest.raises(ValidationError):
        event.lead_id = "other"  # type: ignore[misc]


def test_timestamp_bounds_are_inclusive_then_exclusive() -> None:
    assert parse_event(raw({**SOCIAL, "occurred_at": "2000-01-01T00:00:00Z"}), "leads.social")
    last = "2099-12-31T23:59:59.999999Z"
    assert parse_event(raw({**SOCIAL, "occurred_at": last}), "leads.social")
    err = schema_error({**SOCIAL, "occurred_at": "2100-01-01T00:00:00Z"}, "leads.social")
    assert err.detail.startswith("occurred_at:")


def test_topic_table_matches_the_union() -> None:
    members = get_args(get_args(InputEvent)[0])
    union_types = {get_args(model.model_fields["type"].annotation)[0] for model in members}
    assert set().union(*TOPIC_EVENT_TYPES.values()) == union_types
    assert {model for _, _, model in VALID} == set(members)


def test_topic_none_skips_the_topic_check() -> None:
    assert isinstance(parse_event(raw(SOCIAL), None), SocialInteraction)


def test_unknown_topic_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="contract input topic"):
        parse_event(raw(SOCIAL), "prod.leads.social")


# --- invalid messages -----------------------------------------------------------------------

FORM = {**BASE, "type": "form.submitted", "form_id": "f", "email": "j@example.com"}

SIGNUP = {**BASE, "type": "signup", "email": "j@example.com"}
OPENED = {**BASE, "type": "email.opened"}
LIFECYCLE = {**BASE, "type": "lead.verified", "method": "manual"}


# case id -> (contract topic, payload, the field the detail must name); all are schema errors.
INVALID: dict[str, tuple[str, dict[str, Any], str]] = {
    "naive": ("leads.social", {**SOCIAL, "occurred_at": "2024-05-01T12:00:00"}, "occurred_at"),
    "naive-sent": ("leads.email-opens", {**OPENED, "sent_at": "2024-05-01 12:00"}, "sent_at"),
    "unix-number": ("leads.social", {**SOCIAL, "occurred_at": 1714564800}, "occurred_at"),
    "unix-string": ("leads.social", {**SOCIAL, "occurred_at": "1714564800"}, "occurred_at"),
    "year-1970": ("leads.social", {**SOCIAL, "occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at"),
    "year-2200": ("leads.social", {**SOCIAL, "occurred_at": "2200-01-01T00:00:00Z"}, "occurred_at"),
    "not-a-date": (
        "leads.social",
        {**SOCIAL, "occurred_at": "2024-02-30T00:00:00Z"},
        "occurred_at",
    ),
    "unknown-type": ("leads.social", {**SOCIAL, "type": "email.delivered"}, "type"),
    "unknown-bounce": (
        "leads.email-status",
        {**BASE, "type": "email.bounced", "bounce_type": "maybe"},
        "bounce_type",
    ),
    "no-type": ("leads.social", without(SOCIAL, "type"), "type"),
    "empty-lead-id": ("leads.social", {**SOCIAL, "lead_id": ""}, "lead_id"),
    "blank-lead-id": ("leads.social", {**SOCIAL, "lead_id": "   "}, "lead_id"),
    "control-event-id": ("leads.social", {**SOCIAL, "event_id": "a\x00b"}, "event_id"),
    "long-lead-id": ("leads.social", {**SOCIAL, "lead_id": "x" * 129}, "lead_id"),
    "int-lead-id": ("leads.social", {**SOCIAL, "lead_id": 42}, "lead_id"),
    "no-event-id": ("leads.social", without(SOCIAL, "event_id"), "event_id"),
    "unknown-network": ("leads.social", {**SOCIAL, "network": "myspace"}, "network"),
    "unknown-action": ("leads.social", {**SOCIAL, "action": "poke"}, "action"),
    "negative-size": ("leads.forms", {**FORM, "company_size": -1}, "company_size"),
    "string-size": ("leads.forms", {**FORM, "company_size": "250"}, "company_size"),
    "bool-size": ("leads.forms", {**FORM, "company_size": True}, "company_size"),
    "huge-size": ("leads.forms", {**FORM, "company_size": 10**12}, "company_size"),
    "bad-email": ("leads.forms", {**FORM, "email": "jane.doe@@example"}, "email"),
    "no-email": ("leads.signups", without(SIGNUP, "email"), "email"),
    "country-3": ("leads.forms", {**FORM, "country": "DEU"}, "country"),
    "country-digit": ("leads.forms", {**FORM, "country": "D1"}, "country"),
    "budget-negative": ("leads.forms", {**FORM, "answers": {"budget": -1}}, "answers.budget"),
    "budget-nan": ("leads.forms", {**FORM, "answers": {"budget": "NaN"}}, "answers.budget"),
    "need-empty": ("leads.forms", {**FORM, "answers": {"need": [""]}}, "answers.need[0]"),
    "need-21": ("leads.forms", {**FORM, "answers": {"need": ["x"] * 21}}, "answers.need"),
    "fill-negative": ("leads.forms", {**FORM, "fill_seconds": -0.1}, "fill_seconds"),
    "long-name": ("leads.forms", {**FORM, "first_name": "J" * 101}, "first_name"),
    "empty-name": ("leads.signups", {**SIGNUP, "last_name": ""}, "last_name"),
    "bad-method": ("leads.lifecycle", {**LIFECYCLE, "method": "guess"}, "method"),
    "bad-outcome": ("leads.lifecycle", {**LIFECYCLE, "type": "lead.outcome"}, "outcome"),
    "no-viewer": (
        "leads.web",
        {**without(BASE, "lead_id"), "type": "page.viewed", "url": "https://a.io/"},
        "(message)",
    ),
    "ftp-url": ("leads.web", {**BASE, "type": "page.viewed", "url": "ftp://a.io/x"}, "url"),
    "no-host": ("leads.web", {**BASE, "type": "page.viewed", "url": "https://"}, "url"),
    "long-url": (
        "leads.web",
        {**BASE, "type": "page.viewed", "url": "https://a.io/" + "x" * 2048},
        "url",
    ),
    "link-no-anon": ("leads.web", {**BASE, "type": "identity.linked"}, "anonymous_id"),
    "no-account": ("leads.lifecycle", {**BASE, "type": "lead.associated"}, "account_id"),
}


@pytest.mark.parametrize(("topic", "payload", "field"), INVALID.values(), ids=INVALID.keys())
def test_invalid_examples_are_rejected_naming_the_field(
    topic: str, payload: dict[str, Any], field: str
) -> None:
    err = schema_error(payload, topic)
    assert err.code == "schema"
    assert f"{field}:" in err.detail


@pytest.mark.parametrize("payload", [SOCIAL, FORM, SIGNUP, OPENED], ids=lambda p: p["type"])
def test_an_event_on_another_types_topic_is_wrong_topic(payload: dict[str, Any]) -> None:
    err = schema_error(payload, "leads.lifecycle")
    assert err.code == "wrong_topic"
    assert err.detail.startswith("type:")


def test_non_finite_numbers_are_rejected_in_python_too() -> None:
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValidationError, match="budget"):
            Answers(budget=bad)


def test_naive_datetime_from_python_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="occurred_at"):
        LeadErased(event_id="e", lead_id="l", type="lead.erased", occurred_at=datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "data", [b"", b"not json", b'{"a": 1,}', b"\xff\xfe", b'{"lead_id": "\xc3"}', None]
)
def test_bad_bytes_are_invalid_json(data: bytes | None) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_event(data, "leads.social")
    assert caught.value.code == "invalid_json"


def test_invalid_utf8_is_reported_as_such() -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_json(b'{"a": "\xe9"}')


@pytest.mark.parametrize("payload", [[SOCIAL], "text", 1, 1.5, True, None])
def test_a_json_value_that_is_not_an_object_is_a_schema_error(payload: object) -> None:
    err = schema_error(payload, "leads.social")
    assert err.code == "schema"
    assert "JSON object" in err.detail


def test_detail_is_capped() -> None:
    payload = {**FORM, "answers": {"need": [""] * 20}, "first_name": "", "email": "x"}
    detail = schema_error(payload, "leads.forms").detail
    assert "more)" in detail
    assert len(detail) <= 1000


def test_decode_error_pickles_and_prints() -> None:
    err = pickle.loads(pickle.dumps(DecodeError("schema", "lead_id: must not be blank")))
    assert (err.code, err.detail) == ("schema", "lead_id: must not be blank")
    assert str(err) == "schema: lead_id: must not be blank"


def test_payload_text() -> None:
    assert payload_text('{"n": "é"}'.encode()) == ('{"n": "é"}', "utf-8")
    assert payload_text(b"\xff\x00") == ("/wA=", "base64")


# --- outputs --------------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))


def score_update(**changes: Any) -> ScoreUpdate:
    fields: dict[str, Any] = {
        "lead_id": "lead-1",
        "score": 72,
        "fit": 80,
        "engagement": 64,
        "validity": 1.0,
        "grade": "B",
        "stage": "mql",
        "bot_flags": ["free_mail"],
        "factors": [Factor(factor="email.clicked", points=18.0)],
        "model_version": "default-1",
        "events_counted": 5,
        "last_event_at": NOW,
        "cause_event_id": "evt-1",
        "updated_at": NOW,
    }
    return ScoreUpdate(**{**fields, **changes})


OUTPUTS: list[BaseModel] = [
    score_update(),
    score_update(last_event_at=None, cause_event_id=None, factors=[], bot_flags=[]),
    Alert(
        alert_id="lead-1:mql:1",
        lead_id="lead-1",
        threshold="mql",
        level=60,
        score=72,
        previous_score=55,
        factors=[Factor(factor="form.submitted", points=20)],
        contact=Contact(name="Jane Doe", email="Jane.Doe@example.com"),
        occurred_at=NOW,
        emitted_at=NOW,
    ),
    DeadLetter(
        source_topic="leads.forms",
        partition=3,
        offset=1042,
        key=None,
        payload="/wA=",
        payload_encoding="base64",
        error="invalid_json",
        detail="not valid UTF-8 (byte 0)",
        received_at=NOW,
    ),
]


def test_outputs_encode_utc_with_z() -> None:
    data = orjson.loads(encode(score_update()))
    assert data["updated_at"] == "2024-05-01T12:00:00Z"
    assert data["validity"] == 1.0
    assert type(score_update()).model_validate(data) == score_update()


OUT_OF_CONTRACT = [
    {"score": 101},
    {"fit": -1},
    {"validity": 1.5},
    {"validity": float("nan")},
    {"updated_at": datetime(2024, 5, 1)},  # naive
]


@pytest.mark.parametrize("changes", OUT_OF_CONTRACT, ids=lambda c: next(iter(c)))
def test_outputs_refuse_values_outside_the_contract(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match=next(iter(changes))):
        score_update(**changes)


# --- exported JSON Schemas ------------------------------------------------------------------


def json_schema(name: str) -> Draft202012Validator:
    schema = orjson.loads((export.JSON_DIR / f"{name}.json").read_bytes())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_json_schema_files_are_current() -> None:
    assert export.stale_files() == [], "run: python -m schemas.export"


def test_export_check_finds_edited_missing_and_orphan_files(tmp_path: Path) -> None:
    export.write(tmp_path)
    (tmp_path / "Signup.json").write_text("{}\n")
    (tmp_path / "Alert.json").unlink()
    (tmp_path / "Gone.json").write_text("{}\n")
    assert export.stale_files(tmp_path) == ["Alert.json", "Gone.json", "Signup.json"]
    assert export.main(["--check"]) == 0
    export.write(tmp_path)
    assert export.stale_files(tmp_path) == []


@pytest.mark.parametrize(("topic", "payload", "model"), VALID, ids=VALID_IDS)
def test_json_schemas_accept_the_valid_examples(
    topic: str, payload: dict[str, Any], model: type[BaseModel]
) -> None:
    json_schema(model.__name__).validate(payload)
    json_schema("InputEvent").validate(payload)


# Checks that JSON Schema cannot express (email syntax, calendar dates) are left out.
SCHEMA_ONLY_AT_RUN_TIME = {"bad-email", "not-a-date"}


@pytest.mark.parametrize(
    "payload",
    [case[1] for name, case in INVALID.items() if name not in SCHEMA_ONLY_AT_RUN_TIME],
    ids=[name for name in INVALID if name not in SCHEMA_ONLY_AT_RUN_TIME],
)
def test_json_schemas_reject_the_invalid_examples(payload: dict[str, Any]) -> None:
    assert not json_schema("InputEvent").is_valid(payload)


@pytest.mark.parametrize("message", OUTPUTS, ids=lambda m: type(m).__name__)
def test_json_schemas_accept_encoded_outputs(message: BaseModel) -> None:
    json_schema(type(message).__name__).validate(orjson.loads(encode(message)))


# --- properties -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = sorted({key for _, payload, _ in VALID for key in payload} | {"answers.budget"})


def _mutated(payload: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    return {**payload, **changes}


MESSAGES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(raw),
    st.builds(
        _mutated,
        st.sampled_from([payload for _, payload, _ in VALID]),
        st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=4),
    ).map(raw),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=MESSAGES, topic=st.sampled_from(sorted(TOPIC_EVENT_TYPES)))
def test_any_bytes_give_an_event_or_a_decode_error(data: bytes, topic: str) -> None:
    try:
        event = parse_event(data, topic)
    except DecodeError as err:
        assert err.code in {"invalid_json", "schema", "wrong_topic"}
        assert err.detail
    else:
        assert event.type in TOPIC_EVENT_TYPES[topic]


# Personal values carry a marker that no error message contains, so any echo is detected.
PERSONAL_TEXT = st.text(max_size=120).map(lambda text: "§" + text)
TOO_LONG_NAME = st.text(min_size=100, max_size=120).map(lambda text: "§" + text)  # 101-121
EMAILS = st.one_of(
    st.emails(), PERSONAL_TEXT, st.builds("{}@{}".format, PERSONAL_TEXT, PERSONAL_TEXT)
)
OTHER_FIELDS = st.dictionaries(st.sampled_from(["company_size", "country", "lead_id"]), JSON_VALUES)
SIGNUP_BASE = {**BASE, "type": "signup"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    email=EMAILS,
    long_name=st.sampled_from(["first_name", "last_name"]),
    too_long=TOO_LONG_NAME,
    other_name=PERSONAL_TEXT,
    other=OTHER_FIELDS,
)
def test_schema_details_never_echo_emails_or_names(
    email: str, long_name: str, too_long: str, other_name: str, other: dict[str, Any]
) -> None:
    """Every message here is refused (one name is over 100 characters), whatever else is
    wrong with it; the detail names the fields and repeats none of the personal values."""
    names = {"first_name": other_name, "last_name": other_name, long_name: too_long}
    for topic, base in (("leads.forms", FORM), ("leads.signups", SIGNUP_BASE)):
        payload = {**base, **other, "email": email, **names}
        with pytest.raises(DecodeError) as caught:
            parse_event(raw(payload), topic)
        err = caught.value
        assert err.code == "schema"
        assert f"{long_name}: String should have at most 100 characters" in err.detail
        assert "§" not in err.detail
        assert "@" not in err.detail
        assert email not in err.detail


VALID_NAME = st.text(max_size=99).map(lambda text: "§" + text)  # 1-100 characters
VALID_EMAIL = st.tuples(
    st.from_regex(r"[A-Za-z0-9]{1,20}(\.[A-Za-z0-9_+-]{1,10})?", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9]{1,20}\.(com|de|IO)", fullmatch=True),
)
VALID_OTHER = st.fixed_dictionaries(
    {},
    optional={
        "company_size": st.integers(0, 10_000_000),
        "country": st.from_regex(r"[A-Za-z]{2}", fullmatch=True),
        "lead_id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}", fullmatch=True),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(email=VALID_EMAIL, first_name=VALID_NAME, last_name=VALID_NAME, other=VALID_OTHER)
def test_valid_emails_and_names_are_kept_as_sent(
    email: tuple[str, str], first_name: str, last_name: str, other: dict[str, Any]
) -> None:
    """The same fields within the contract parse; names are kept exactly, an email's domain
    is lower-cased and its local part kept."""
    local, domain = email
    for topic, base in (("leads.forms", FORM), ("leads.signups", SIGNUP_BASE)):
        payload = {
            **base,
            **other,
            "email": f"{local}@{domain}",
            "first_name": first_name,
            "last_name": last_name,
        }
        event = parse_event(raw(payload), topic)
        assert isinstance(event, FormSubmitted | Signup)
        assert (event.first_name, event.last_name) == (first_name, last_name)
        assert event.email == f"{local}@{domain.lower()}"
        assert event.lead_id == other.get("lead_id", BASE["lead_id"])
        if isinstance(event, FormSubmitted):
            assert event.company_size == other.get("company_size")
            assert event.country == (other["country"].upper() if "country" in other else None)
