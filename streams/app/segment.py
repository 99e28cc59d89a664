"""The Segment agent's work: a Segment Spec message in, contract events out.

Stateless: each message is translated (schemas/segment.py) and its events are sent to
their contract topics on their keys' partitions, where the scoring agent applies them as
if a producer had sent them. A redelivered message sends the same events again (same event
ids: duplicates downstream). Unmapped calls are counted as ignored; unreadable ones are
dead-lettered with the reason.
"""

from __future__ import annotations

import logging

from schemas import topics
from schemas.codec import DecodeError, encode
from schemas.outputs import DeadLetterError
from schemas.segment import call_of, translate
from streams.app import metrics
from streams.app.deadletter import dead_letter
from streams.app.pipeline import Message, Sender
from streams.kafka.partitioning import partition_for

log = logging.getLogger(__name__)


class SegmentTranslator:
    def __init__(self, *, partitions: int, max_message_bytes: int, send: Sender) -> None:
        self.partitions = partitions
        self.max_message_bytes = max_message_bytes
        self.send = send
        metrics.EVENTS.labels(topics.SEGMENT.name, "dead_letter")

    def handle(self, msg: Message) -> None:
        """Translate one message; never raises for bad input (it is dead-lettered)."""
        raw = msg.value or b""
        if len(raw) > self.max_message_bytes:
            limit = self.max_message_bytes
            return self._reject(msg, "unknown", "too_large", f"{len(raw)} bytes > limit {limit}")
        try:
            translation = translate(msg.value)
        except DecodeError as exc:
            return self._reject(msg, call_of(msg.value), exc.code, exc.detail)
        except Exception as exc:  # a bug must not lose the message
            log.exception("segment translation failed at %s@%d", msg.topic, msg.offset)
            detail = f"internal error: {type(exc).__name__}"
            return self._reject(msg, "unknown", "processing_error", detail)
        for routed in translation.routed:
            partition = partition_for(routed.key, self.partitions)
            self.send(routed.topic, routed.key.encode(), routed.value, partition)
        outcome = "ignored" if translation.ignored else "translated"
        metrics.SEGMENT.labels(translation.call, outcome, translation.ignored or "").inc()
        metrics.EVENTS.labels(topics.SEGMENT.name, outcome).inc()
        return None

    def _reject(self, msg: Message, call: str, code: DeadLetterError, detail: str) -> None:
        record = dead_letter(msg.topic, msg.partition, msg.offset, msg.key, msg.value, code, detail)
        self.send(topics.DEAD_LETTER, msg.key or b"", encode(record))
        metrics.SEGMENT.labels(call, "dead_letter", code).inc()
        metrics.EVENTS.labels(topics.SEGMENT.name, "dead_letter").inc()
        metrics.DEAD_LETTERS.labels(code).inc()
