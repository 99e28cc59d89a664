"""The one way messages are turned into bytes and back (orjson everywhere).

Errors carry a dead-letter code and a detail a person can act on. Details name fields and
say what is wrong with them but never repeat input values: dead letters are read by people
who must not see leads' emails or names in logs and dashboards.
"""

from __future__ import annotations

import base64
from typing import Literal

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from schemas.events import InputEvent
from schemas.outputs import DeadLetterError
from schemas.topics import TOPIC_EVENT_TYPES

_EVENT_ADAPTER: TypeAdapter[InputEvent] = TypeAdapter(InputEvent)
_EVENT_TYPES: frozenset[str] = frozenset().union(*TOPIC_EVENT_TYPES.values())
_EXPECTED_TYPES = ", ".join(sorted(_EVENT_TYPES))

MAX_DETAIL_ERRORS = 8
MAX_DETAIL_CHARS = 1000


class DecodeError(Exception):
    """An input message that cannot be applied; `code` is the dead letter's `error`."""

    def __init__(self, code: DeadLetterError, detail: str) -> None:
        super().__init__(code, detail)  # both in args, so the exception pickles
        self.code: DeadLetterError = code
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def encode(msg: BaseModel) -> bytes:
    """JSON bytes of a message; datetimes are RFC 3339 (UTC ones end in Z)."""
    return msg.__pydantic_serializer__.to_json(msg)  # pydantic's Rust serializer, no dict


def decode_json(raw: bytes | None) -> object:
    """Parse JSON bytes; a null Kafka value (tombstone) is invalid JSON too."""
    if raw is None:
        raise DecodeError("invalid_json", "message has no value (null)")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise DecodeError("invalid_json", _json_problem(raw, err)) from None


def _json_problem(raw: bytes, err: orjson.JSONDecodeError) -> str:
    # orjson reports bad UTF-8 as a surrogate problem; say what a producer would look for.
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 (byte {bad.start})"
    return f"not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"


def parse_event(raw: bytes | None, topic: str | None) -> InputEvent:
    """Decode and validate one input message read from the contract topic `topic`.

    `topic` is the un-prefixed contract name; None skips the topic check (offline files).
    Raises DecodeError (invalid_json, schema or wrong_topic) for any bad input, and
    ValueError for a topic the contract does not define, which is a programming error.
    """
    allowed = _allowed_types(topic)
    data = decode_json(raw)
    if not isinstance(data, dict):
        raise DecodeError("schema", f"expected a JSON object, got {_json_kind(data)}")
    kind = data.get("type")
    if allowed is not None and isinstance(kind, str) and kind in _EVENT_TYPES - allowed:
        raise DecodeError(
            "wrong_topic",
            f"type: {kind} is not allowed on {topic}; expected {', '.join(sorted(allowed))}",
        )
    try:
        return _EVENT_ADAPTER.validate_python(data)
    except ValidationError as err:
        raise DecodeError("schema", _schema_detail(err)) from None


def _allowed_types(topic: str | None) -> frozenset[str] | None:
    if topic is None:
        return None
    try:
        return TOPIC_EVENT_TYPES[topic]
    except KeyError:
        raise ValueError(f"not a contract input topic (strip the prefix?): {topic}") from None


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _schema_detail(err: ValidationError) -> str:
    """`field: message` entries of a validation error, capped, without input values."""
    errors = err.errors(include_url=False)
    entries = [f"{_location(e)}: {_message(e)}" for e in errors[:MAX_DETAIL_ERRORS]]
    if len(errors) > MAX_DETAIL_ERRORS:
        entries.append(f"(+{len(errors) - MAX_DETAIL_ERRORS} more)")
    detail = "; ".join(entries)
    return detail if len(detail) <= MAX_DETAIL_CHARS else detail[: MAX_DETAIL_CHARS - 3] + "..."


def _location(error: ErrorDetails) -> str:
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return "type"
    loc = list(error["loc"])
    if loc and loc[0] in _EVENT_TYPES:
        loc = loc[1:]  # the union's tag: the message's type, not a field
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "(message)"


def _message(error: ErrorDetails) -> str:
    if error["type"] == "union_tag_invalid":
        return f"unknown event type; expected one of {_EXPECTED_TYPES}"  # pydantic quotes it
    if error["type"] == "union_tag_not_found":
        return f"missing or not a string; expected one of {_EXPECTED_TYPES}"
    msg = error["msg"]
    value = error.get("input")
    # Defence in depth for messages not reviewed here: a literal error lists only the allowed
    # values, any other message that contains the input is replaced by its error type.
    echoes_input = isinstance(value, str) and len(value) > 2 and value in msg
    if echoes_input and error["type"] != "literal_error":
        return f"invalid value ({error['type']})"
    return msg


def payload_text(raw: bytes) -> tuple[str, Literal["utf-8", "base64"]]:
    """The original bytes for a dead letter: text when valid UTF-8, else base64."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"
