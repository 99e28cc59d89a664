"""What real producers get wrong, injected into a clean stream of events.

- duplicates: the same message again a little later (a producer retry, a replay): same
  event_id, same bytes;
- out of order: a message held back and sent some messages later;
- malformed: an extra, broken copy of an event: bad JSON, invalid UTF-8, a valid event on the
  wrong topic, a timestamp without offset, a missing required field, a field of the wrong
  JSON type. Each says which dead-letter code the worker must give it.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from schemas.outputs import DeadLetterError
from schemas.topics import TOPIC_EVENT_TYPES

Fault = Literal["duplicate", "out_of_order", "malformed"]
Malformation = Literal[
    "truncated_json", "invalid_utf8", "wrong_topic", "naive_timestamp", "missing_field",
    "wrong_type",
]  # fmt: skip
EXPECTED_ERROR: dict[Malformation, DeadLetterError] = {
    "truncated_json": "invalid_json",
    "invalid_utf8": "invalid_json",
    "wrong_topic": "wrong_topic",
    "naive_timestamp": "schema",
    "missing_field": "schema",
    "wrong_type": "schema",
}
MAX_DUPLICATE_LAG = 50  # a redelivery comes within this many messages
MAX_DELAY = 500  # an out-of-order message is held for up to this many messages


@dataclass(frozen=True, slots=True)
class Faults:
    """Probabilities per clean event; each may be 0."""

    duplicates: float = 0.02
    out_of_order: float = 0.05
    malformed: float = 0.01

    def __post_init__(self) -> None:
        for name in ("duplicates", "out_of_order", "malformed"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1]")

    @property
    def extra_share(self) -> float:
        """Messages added per clean event on average (out-of-order adds none)."""
        return self.duplicates + self.malformed


NO_FAULTS = Faults(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One message to send: its contract topic, key and value, and what it is."""

    topic: str  # contract name, e.g. leads.forms (apply Settings.topic for the prefix)
    key: bytes  # the contract's key: the lead id, or a link's or anonymous view's cookie id
    value: bytes
    # The lead the event is about, also when the message does not say (a visitor's view
    # before its link, or never linked); None for a crawler's view: no lead at all.
    lead_id: str | None
    persona: str  # a persona of PERSONA_SHARES, or "crawler"
    kind: str  # the event's type ("email.opened"), or the malformation
    fault: Fault | None = None
    expected_error: DeadLetterError | None = None  # set on malformed messages


def inject(events: Iterable[SimEvent], faults: Faults, rng: random.Random) -> Iterator[SimEvent]:
    """The stream with faults mixed in; held and repeated messages are released in order of
    the position they were scheduled for, and all of them before the stream ends."""
    pending: list[tuple[int, int, SimEvent]] = []  # (release position, tie-break, event)
    position = 0
    ties = itertools.count()  # not id(): ties must break the same way in every run
    for event in events:
        while pending and pending[0][0] <= position:
            yield heapq.heappop(pending)[2]
            position += 1
        if faults.malformed and rng.random() < faults.malformed:
            yield malform(event, rng)
            position += 1
        copy = replace(event, fault="duplicate")
        if faults.out_of_order and rng.random() < faults.out_of_order:
            late = replace(event, fault="out_of_order")
            heapq.heappush(pending, (position + rng.randint(1, MAX_DELAY), next(ties), late))
        else:
            yield event
            position += 1
        if faults.duplicates and rng.random() < faults.duplicates:
            lag = rng.randint(0, MAX_DUPLICATE_LAG)
            heapq.heappush(pending, (position + lag, next(ties), copy))
    while pending:
        yield heapq.heappop(pending)[2]


def malform(event: SimEvent, rng: random.Random) -> SimEvent:
    """A broken message derived from `event` (same key, so it lands on the same partition)."""
    how: Malformation = rng.choice(list(EXPECTED_ERROR))
    topic, value = _MALFORMERS[how](event, rng)
    return replace(
        event,
        topic=topic,
        value=value,
        kind=how,
        fault="malformed",
        expected_error=EXPECTED_ERROR[how],
    )


def _doc(event: SimEvent) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(event.value)
    return doc


def _fresh_id(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    # A broken message is a new message, not a redelivery of the one it was made from.
    return {**doc, "event_id": f"{doc['event_id']}-x{rng.getrandbits(24):06x}"}


def _truncated(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    return event.topic, event.value[: rng.randint(1, len(event.value) - 1)]


def _invalid_utf8(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    # Latin-1 text where UTF-8 is required: a classic legacy-producer bug.
    doc = _fresh_id(_doc(event), rng)
    doc["note"] = "Gr\u00fc\u00dfe"
    return event.topic, orjson.dumps(doc).replace("Grüße".encode(), "Grüße".encode("latin-1"))


def _wrong_topic(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    # A router bug: a valid event, unchanged (same id), on an input topic that does not
    # take its type (one that did would accept it: no fault at all).
    others = sorted(t for t, types in TOPIC_EVENT_TYPES.items() if event.kind not in types)
    return rng.choice(others), event.value


def _naive_timestamp(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    doc = _fresh_id(_doc(event), rng)
    doc["occurred_at"] = doc["occurred_at"].removesuffix("Z")
    return event.topic, orjson.dumps(doc)


# Fields the schema requires, by type (every event also needs its `occurred_at`).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "signup": ("email",),
    "form.submitted": ("email", "form_id"),
    "social.interaction": ("network",),
    "lead.verified": ("method",),
    "lead.associated": ("account_id",),
    "page.viewed": ("url",),
    "identity.linked": ("anonymous_id",),
}


def _missing_field(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    doc = _fresh_id(_doc(event), rng)
    del doc[rng.choice(_required(doc))]
    return event.topic, orjson.dumps(doc)


def _required(doc: dict[str, Any]) -> list[str]:
    fields = ["occurred_at", *_REQUIRED.get(doc["type"], ())]
    if doc["type"] == "page.viewed" and "lead_id" not in doc:
        fields.append("anonymous_id")  # a view with a lead id may go without its cookie id
    return fields


def _wrong_type(event: SimEvent, rng: random.Random) -> tuple[str, bytes]:
    doc = _fresh_id(_doc(event), rng)
    if "company_size" in doc:
        doc["company_size"] = str(doc["company_size"])  # "250" is not an integer
    else:
        doc["occurred_at"] = 1_760_000_000  # a Unix time where RFC 3339 text is required
    return event.topic, orjson.dumps(doc)


_MALFORMERS: dict[Malformation, Callable[[SimEvent, random.Random], tuple[str, bytes]]] = {
    "truncated_json": _truncated,
    "invalid_utf8": _invalid_utf8,
    "wrong_topic": _wrong_topic,
    "naive_timestamp": _naive_timestamp,
    "missing_field": _missing_field,
    "wrong_type": _wrong_type,
}
