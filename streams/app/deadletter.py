"""Dead-letter records: every input that cannot be applied, with its original bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.codec import payload_text
from schemas.outputs import DeadLetter, DeadLetterError


def dead_letter(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    error: DeadLetterError,
    detail: str,
) -> DeadLetter:
    """A dead-letter record that keeps the message exactly (text, or base64 when not UTF-8)."""
    payload, encoding = payload_text(value or b"")
    return DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=None if key is None else key.decode("utf-8", "backslashreplace"),
        payload=payload,
        payload_encoding=encoding,
        error=error,
        detail=detail,
        received_at=datetime.now(UTC),
    )
