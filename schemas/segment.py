"""Segment Spec messages (Segment, RudderStack, Jitsu) translated onto contract events.

Sites already send `page`, `identify`, `group` and `track` calls to a CDP; reading those
from `leads.segment` spares every team a second tracking integration. The translation is
pure (bytes in, validated contract events out) so the worker's agent only sends what it
returns, and the rules are tested without Kafka (docs/segment.md has the table).

Calls and track events leadscore has no use for are *ignored* (a reason code, never a dead
letter). A message that cannot be read, lacks `messageId` or a timestamp, or whose mapped
event misses a required field is a DecodeError. Optional values the contract refuses (a
wrong JSON type, a 3-letter country, an over-long title) are dropped, not fatal: a CDP
forwards whatever a site put in its traits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from schemas.codec import (
    MAX_DETAIL_CHARS,
    MAX_DETAIL_ERRORS,
    DecodeError,
    _json_kind,
    _message,
    decode_json,
    encode,
)
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
from schemas.topics import BY_NAME, TOPIC_OF_TYPE, Topic

Call = Literal["page", "identify", "group", "track", "screen", "alias", "unknown"]
Ignored = Literal["unsupported_call", "unmapped_track", "no_user_id", "no_anonymous_id"]

CALLS: tuple[Call, ...] = ("page", "identify", "group", "track", "screen", "alias", "unknown")
IGNORED_REASONS: tuple[Ignored, ...] = (
    "unsupported_call",
    "unmapped_track",
    "no_user_id",
    "no_anonymous_id",
)


@dataclass(frozen=True, slots=True)
class Routed:
    """One contract event to send: where, with which key, and its bytes."""

    topic: Topic  # the contract topic (schemas.topics) the event goes to
    key: str  # its message key: routing_key(event)
    event: InputEvent  # the validated contract event
    value: bytes  # encode(event): what is sent


@dataclass(frozen=True, slots=True)
class Translation:
    """What one Segment message becomes: events to send, or the reason it is ignored."""

    call: Call  # the Segment call; "unknown" when `type` is not one of the Spec's calls
    routed: tuple[Routed, ...]  # empty when ignored
    ignored: Ignored | None = None  # why nothing is routed
    dropped: tuple[str, ...] = ()  # message paths of optional values the contract refused


class SegmentMessage(BaseModel):
    """A Segment Spec call on `leads.segment` (page, identify, group, track; others ignored).

    The shape published for producers (JSON Schema, AsyncAPI). `translate` does not validate
    against it: it reads the fields it maps leniently (docs/segment.md has the rules).
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str | None = Field(None, description="The call: page, identify, group or track")
    messageId: str | int | None = Field(None, description="Required when translated: event_id")
    timestamp: str | None = Field(None, description="RFC 3339 with offset: occurred_at")
    originalTimestamp: str | None = Field(None, description="Used when timestamp is absent")
    userId: str | int | None = Field(None, description='The lead\'s id ("" means not set)')
    anonymousId: str | int | None = Field(None, description="The visitor's id")
    groupId: str | int | None = Field(None, description="group: the account's id")
    event: str | None = Field(None, description="track: the event name")
    name: str | None = Field(None, description="page: the page's name")
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


# Where a contract field's value was found in the message, and the value (None: absent).
Source = tuple[str, object]
Fields = dict[str, Source]

_ADAPTER: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)
_MODELS: Mapping[str, type[BaseModel]] = {
    "page.viewed": PageViewed,
    "identity.linked": IdentityLinked,
    "lead.associated": LeadAssociated,
    "email.opened": EmailOpened,
    "email.clicked": EmailClicked,
    "email.bounced": EmailBounced,
    "email.unsubscribed": EmailUnsubscribed,
    "email.complained": EmailComplained,
    "signup": Signup,
}
# Contract id fields: some SDKs send numbers for ids, which are stringified.
_ID_FIELDS = frozenset(
    {
        "event_id",
        "lead_id",
        "anonymous_id",
        "account_id",
        "campaign_id",
        "message_id",
        "list_id",
        "session_id",
    }
)
# Never dropped even where the model makes them optional: who the event is about.
_WHO = frozenset({"lead_id", "anonymous_id"})

_EMAIL_IDS = {"campaign_id": ("properties.campaign_id",), "message_id": ("properties.email_id",)}
_USER_AGENT = {"user_agent": ("context.userAgent",)}


def _name_paths(snake: str, camel: str, *scopes: str) -> tuple[str, ...]:
    return tuple(f"{scope}.{key}" for scope in scopes for key in (camel, snake))


# Track event name (Segment Email and B2B SaaS specs) -> contract type, field -> paths.
_TRACK: Mapping[str, tuple[str, Mapping[str, tuple[str, ...]]]] = {
    "Email Opened": ("email.opened", {**_EMAIL_IDS, **_USER_AGENT}),
    "Email Link Clicked": (
        "email.clicked",
        {"url": ("properties.link_url",), **_EMAIL_IDS, **_USER_AGENT},
    ),
    "Email Bounced": ("email.bounced", {"bounce_type": ("properties.bounce_type",), **_EMAIL_IDS}),
    "Unsubscribed": ("email.unsubscribed", {**_EMAIL_IDS, **_USER_AGENT}),
    "Email Marked as Spam": ("email.complained", _EMAIL_IDS),
    "Signed Up": (
        "signup",
        {
            "email": ("properties.email", "context.traits.email", "traits.email"),
            "first_name": _name_paths("first_name", "firstName", "properties", "context.traits"),
            "last_name": _name_paths("last_name", "lastName", "properties", "context.traits"),
            "list_id": ("properties.list_id",),
            "source": ("properties.type",),  # the spec's signup type (organic, invited...)
        },
    ),
}


def translate(raw: bytes | None) -> Translation:
    """Translate one `leads.segment` message.

    Raises DecodeError `invalid_json` for bytes that are not a JSON value, and `schema` for
    a message that is not an object, lacks `messageId` or a timestamp, or whose mapped event
    misses a required field or has an invalid one. Details name fields, never values.
    """
    msg = decode_json(raw)
    if not isinstance(msg, dict):
        raise DecodeError("schema", f"expected a JSON object, got {_json_kind(msg)}")
    kind = msg.get("type")
    if isinstance(kind, str) and kind in _MAPPERS:
        return _MAPPERS[kind](msg)
    call: Call = "screen" if kind == "screen" else "alias" if kind == "alias" else "unknown"
    return Translation(call, (), ignored="unsupported_call")


def call_of(raw: bytes | None) -> Call:
    """The call a message claims to be (a metric label: a closed set), whatever else is
    wrong with it."""
    try:
        msg = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return "unknown"
    kind = msg.get("type") if isinstance(msg, dict) else None
    known: dict[object, Call] = {c: c for c in CALLS}
    return known.get(kind, "unknown") if isinstance(kind, str) else "unknown"


def _page(msg: Mapping[str, object]) -> Translation:
    user, visitor = _ident(msg, "userId"), _ident(msg, "anonymousId")
    if user[1] is None and visitor[1] is None:
        raise DecodeError("schema", "userId or anonymousId: missing")
    fields = _envelope(msg, "page.viewed") | {
        "lead_id": user,
        "anonymous_id": visitor,
        "url": _pick(msg, "properties.url", "context.page.url"),
        "title": _pick(msg, "properties.title", "context.page.title", "name"),
        "referrer": _pick(msg, "properties.referrer", "context.page.referrer"),
        "user_agent": _pick(msg, "context.userAgent"),
        "session_id": _pick(msg, "context.sessionId", "properties.session_id"),
    }
    return _translated("page", fields)


def _identify(msg: Mapping[str, object]) -> Translation:
    user, visitor = _ident(msg, "userId"), _ident(msg, "anonymousId")
    if user[1] is None:
        return Translation("identify", (), ignored="no_user_id")
    if visitor[1] is None:
        return Translation("identify", (), ignored="no_anonymous_id")
    traits = ("traits", "context.traits")  # RudderStack sends them in context.traits
    fields = _envelope(msg, "identity.linked") | {
        "lead_id": user,
        "anonymous_id": visitor,
        "email": _pick(msg, *(f"{scope}.email" for scope in traits)),
        "first_name": _pick(msg, *_name_paths("first_name", "firstName", *traits)),
        "last_name": _pick(msg, *_name_paths("last_name", "lastName", *traits)),
        "job_title": _pick(msg, *(f"{scope}.title" for scope in traits)),
        "company": _company(_pick(msg, *(f"{scope}.company" for scope in traits))),
    }
    return _translated("identify", fields)


def _group(msg: Mapping[str, object]) -> Translation:
    user = _ident(msg, "userId")
    if user[1] is None:
        return Translation("group", (), ignored="no_user_id")
    fields = _envelope(msg, "lead.associated") | {
        "lead_id": user,
        "account_id": _ident(msg, "groupId"),
        "company": _pick(msg, "traits.name"),
        "company_size": _count(_pick(msg, "traits.employees")),
        "industry": _pick(msg, "traits.industry"),
        "country": _country(msg, "traits.address.country", "traits.country"),
    }
    return _translated("group", fields)


def _track(msg: Mapping[str, object]) -> Translation:
    name = msg.get("event")
    mapping = _TRACK.get(name) if isinstance(name, str) else None
    if mapping is None:
        return Translation("track", (), ignored="unmapped_track")
    user = _ident(msg, "userId")
    if user[1] is None:
        return Translation("track", (), ignored="no_user_id")
    kind, paths = mapping
    fields = _envelope(msg, kind) | {"lead_id": user}
    fields |= {field: _pick(msg, *candidates) for field, candidates in paths.items()}
    if kind == "email.bounced":
        where, value = fields["bounce_type"]
        fields["bounce_type"] = (where, value if value in ("hard", "soft") else "hard")
    return _translated("track", fields)


_MAPPERS: Mapping[str, Callable[[Mapping[str, object]], Translation]] = {
    "page": _page,
    "identify": _identify,
    "group": _group,
    "track": _track,
}


# --- Reading the message -------------------------------------------------------------------


def _at(msg: Mapping[str, object], path: str) -> object:
    value: object = msg
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _pick(msg: Mapping[str, object], *paths: str) -> Source:
    """The first of `paths` that is set (not null), else all of them named and None."""
    for path in paths:
        value = _at(msg, path)
        if value is not None:
            return path, value
    return " or ".join(paths), None


def _ident(msg: Mapping[str, object], path: str) -> Source:
    """A Segment id; RudderStack sends "" for a user not yet identified."""
    where, value = _pick(msg, path)
    return where, None if value == "" else value


def _envelope(msg: Mapping[str, object], kind: str) -> Fields:
    return {
        "type": ("type", kind),
        "event_id": _pick(msg, "messageId"),
        "occurred_at": _pick(msg, "timestamp", "originalTimestamp"),
    }


def _company(source: Source) -> Source:
    """Segment's `company` trait is a name or an object with one."""
    where, value = source
    if isinstance(value, dict):
        return f"{where}.name", value.get("name")
    return source


def _count(source: Source) -> Source:
    """The spec types `employees` as a string: digits are read as the integer."""
    where, value = source
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
        return where, int(value)
    return source


def _country(msg: Mapping[str, object], *paths: str) -> Source:
    """The first of `paths` holding a 2-letter code (others often hold a country's name)."""
    for path in paths:
        value = _at(msg, path)
        if isinstance(value, str) and len(value) == 2:
            return path, value
    return " or ".join(paths), None


# --- Validating ----------------------------------------------------------------------------


def _translated(call: Call, fields: Fields) -> Translation:
    event, dropped = _validate(fields)
    routed = Routed(BY_NAME[TOPIC_OF_TYPE[event.type]], routing_key(event), event, encode(event))
    return Translation(call, (routed,), dropped=dropped)


def _validate(fields: Fields) -> tuple[InputEvent, tuple[str, ...]]:
    """The contract event of `fields`; optional values it refuses are dropped (their paths
    returned), a missing or refused required one raises DecodeError `schema`."""
    model = _MODELS[str(fields["type"][1])]
    required = {name for name, info in model.model_fields.items() if info.is_required()}
    missing = [
        where for name, (where, value) in fields.items() if value is None and name in required
    ]
    if missing:
        raise DecodeError("schema", "; ".join(f"{where}: missing" for where in missing))
    doc = {
        name: _as_id(value) if name in _ID_FIELDS else value for name, (_, value) in fields.items()
    }
    doc = {name: value for name, value in doc.items() if value is not None}
    try:
        return _ADAPTER.validate_python(doc), ()
    except ValidationError as err:
        errors = err.errors(include_url=False)
    keep = required | _WHO
    fatal = [e for e in errors if _field(e) is None or _field(e) in keep]
    if fatal:
        raise DecodeError("schema", _detail(fatal, fields))
    refused = {_field(e) for e in errors}
    try:
        event = _ADAPTER.validate_python({k: v for k, v in doc.items() if k not in refused})
    except ValidationError as err:  # not expected: the refused values are gone
        raise DecodeError("schema", _detail(err.errors(include_url=False), fields)) from None
    return event, tuple(fields[name][0] for name in fields if name in refused)


def _as_id(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _field(error: ErrorDetails) -> str | None:
    loc = error["loc"]  # (the union's tag, field, ...)
    return str(loc[1]) if len(loc) > 1 else None


def _detail(errors: list[ErrorDetails], fields: Fields) -> str:
    """`path: message` entries named by where the value was in the Segment message,
    without the values (the codec's rule for dead letters)."""
    entries = []
    for error in errors[:MAX_DETAIL_ERRORS]:
        name = _field(error)
        where = "(message)" if name is None else fields.get(name, (name, None))[0]
        entries.append(f"{where}: {_message(error)}")
    if len(errors) > MAX_DETAIL_ERRORS:
        entries.append(f"(+{len(errors) - MAX_DETAIL_ERRORS} more)")
    detail = "; ".join(entries)
    return detail if len(detail) <= MAX_DETAIL_CHARS else detail[: MAX_DETAIL_CHARS - 3] + "..."
