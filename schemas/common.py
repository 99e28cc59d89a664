"""Types shared by every message: ids, event timestamps and the model configuration."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

# Producers evolve first, so unknown fields are dropped rather than rejected; frozen because
# a parsed message is a fact about the past; whitespace is kept because ids are compared as-is.
MODEL_CONFIG = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class Message(BaseModel):
    """Base of every model on the wire."""

    model_config = MODEL_CONFIG


# --- Id -----------------------------------------------------------------------------------

# Published in the JSON Schema and used at run time, so both sides agree on what an id is:
# no control characters (Unicode category Cc) and at least one non-space character.
_NO_CONTROL = r"[^\u0000-\u001f\u007f-\u009f]"
ID_PATTERN = rf"^{_NO_CONTROL}*[^\s\u0000-\u001f\u007f-\u009f]{_NO_CONTROL}*$"
_ID_RE = re.compile(ID_PATTERN)


def _check_id(value: str) -> str:
    if _ID_RE.fullmatch(value) is None:
        if any(unicodedata.category(char) == "Cc" for char in value):
            raise PydanticCustomError("id_control", "must not contain control characters")
        raise PydanticCustomError("id_blank", "must not be blank")
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    AfterValidator(_check_id),
    Field(json_schema_extra={"pattern": ID_PATTERN}),
]

# --- Event time ---------------------------------------------------------------------------

# The scoring core decays from a fixed epoch, so timestamps far from it are rejected.
EVENT_TIME_MIN = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_TIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive

_AFTER_YEAR = r"-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
_DATE_TIME = rf"[0-9]{{4}}{_AFTER_YEAR}"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
# Only the year range is in the published pattern; the exact bounds are checked after the
# offset is applied, which a regular expression cannot do.
EVENT_TIME_PATTERN = rf"^20[0-9]{{2}}{_AFTER_YEAR}{_OFFSET}$"
_RFC3339_RE = re.compile(rf"{_DATE_TIME}{_OFFSET}")
_NAIVE_RE = re.compile(_DATE_TIME)


def _parse_rfc3339(value: Any) -> Any:
    """Accept only RFC 3339 text (or an aware datetime from Python code).

    Pydantic alone would also take unix timestamps and digit strings, which the contract does
    not allow and which hide producer bugs.
    """
    if isinstance(value, datetime):
        return value  # naive ones are rejected by AwareDatetime with the field's name
    if not isinstance(value, str):
        raise PydanticCustomError("rfc3339_type", "must be an RFC 3339 timestamp string")
    if _RFC3339_RE.fullmatch(value) is None:
        if _NAIVE_RE.fullmatch(value) is not None:
            raise PydanticCustomError(
                "naive_datetime", "timestamp has no UTC offset; add 'Z' or '+hh:mm'"
            )
        raise PydanticCustomError(
            "rfc3339_format", "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z"
        )
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError:
        raise PydanticCustomError("rfc3339_value", "is not a real date or time") from None


def to_utc(value: datetime) -> datetime:
    """The same instant in UTC, so equal instants compare and serialise identically."""
    return value.astimezone(UTC)


def _check_event_time(value: datetime) -> datetime:
    value = to_utc(value)
    if not EVENT_TIME_MIN <= value < EVENT_TIME_MAX:
        raise PydanticCustomError(
            "event_time_range",
            "must be from 2000-01-01T00:00:00Z up to (not including) 2100-01-01T00:00:00Z",
        )
    return value


EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(_parse_rfc3339),
    AfterValidator(_check_event_time),
    Field(
        json_schema_extra={
            "pattern": EVENT_TIME_PATTERN,
            "description": "RFC 3339 with offset or Z, in [2000-01-01T00:00:00Z, "
            "2100-01-01T00:00:00Z)",
        }
    ),
]

# Timestamps that leadscore itself produces: aware, normalised to UTC, no range check.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
