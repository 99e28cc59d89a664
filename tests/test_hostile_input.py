"""Hostile input on the decode -> validate -> apply path (schemas.codec.parse_event, then
streams.core.step.process, and the Pipeline around them): every message ends as a DecodeError
(a dead letter) or as a correct, bounded score, never as another exception; dead-letter
details never repeat the input; a lead's state stays bounded however it is bombarded."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, get_args

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schemas.codec import MAX_DETAIL_CHARS, DecodeError, encode, parse_event
from schemas.events import lead_of, routing_key
from schemas.outputs import DeadLetterError
from schemas.topics import TOPIC_EVENT_TYPES
from streams.app.pipeline import Pipeline
from streams.core.apply import DEDUPE_WINDOW
from streams.core.model import ScoringModel
from streams.core.scoring import score
from streams.core.state import LeadState
from streams.core.step import Step, process
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, MemoryStore, SentMessage, memory_pipeline
from tests.core_events import valid_doc

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TOPICS = sorted(TOPIC_EVENT_TYPES)
TOPIC_OF = {kind: topic for topic, kinds in TOPIC_EVENT_TYPES.items() for kind in kinds}
CODES = set(get_args(DeadLetterError))
MARK = "Zq7Marker"  # in hostile values, so echoes of the input can be found
# A changelog record must fit Kafka's default message size (1 MiB, broker and producer).
KAFKA_MESSAGE_LIMIT = 1_048_576

HYPO = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- hostile variations of valid documents -------------------------------------------


KINDS = st.sampled_from(sorted(TOPIC_OF))

HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.sampled_from(
        [
            f"<script>alert('{MARK}')</script>",
            f"<img src=x onerror=alert(1)>{MARK}",
            f"{MARK}\x00\x07\x1b[31mred\x1b[0m",
            f"\u202e{MARK}\u202d",  # right-to-left override
            f"{MARK}\r\nX-Injected: 1",
            f"{MARK}%s%n%x{{0}}",
            " ",
            "",
            "\ufeff",
            MARK * 200,
            f"{MARK}@",
            f"{MARK}@acme-corp.com\n",
            "\U0001f600" * 128,
        ]
    ),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    HOSTILE_TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=25,
)
TIMESTAMPS = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.isoformat() + "Z"
    ),
    st.sampled_from(
        [
            "2026-02-30T00:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-12-31T23:59:60Z",
            "2026-11-01t09:00:00z",
            "2026-11-01T09:00:00.123456789+05:30",
            "2026-11-01T09:00:00+24:00",
            "2026-11-01T09:00:00",
            "2099-12-31T23:59:59.999999-23:59",
            "2000-01-01T00:00:00+00:01",
            "0000-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "+275760-09-13T00:00:00Z",
            "",
        ]
    ),
    st.integers(-(2**40), 2**40),
    st.floats(),
)
# JSON number texts orjson must read or refuse (not crash on): overflow, NaN spellings. True:
# orjson reads a number; False: it is not JSON (RFC 8259), or beyond a double's range (orjson
# refuses those rather than read an infinity): invalid_json wherever it stands.
ABSURD_NUMBERS: dict[str, bool] = {
    "1e999": False, "-1e999": False, "1" + "0" * 400: False, "NaN": False, "Infinity": False,
    "0x10": False, "01": False, "1.": False, ".5": False,
    "-0": True, "0.0000001": True, "-1" + "0" * 30: True, "18446744073709551616": True,
    "-9223372036854775809": True, "1e-400": True,
}  # fmt: skip


@st.composite
def hostile_docs(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid document of some type with hostile changes: fields replaced by any JSON value
    or hostile text, removed, or added; the topic may not match."""
    kind = draw(KINDS)
    doc = valid_doc(kind)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["replace", "text", "time", "delete", "add"]))
        field = draw(st.sampled_from([*sorted(doc), "answers", "company_size", "budget"]))
        if action == "replace":
            doc[field] = draw(JSON_VALUES)
        elif action == "text":
            doc[field] = draw(HOSTILE_TEXT)
        elif action == "time":
            doc[draw(st.sampled_from(["occurred_at", "sent_at"]))] = draw(TIMESTAMPS)
        elif action == "delete":
            doc.pop(field, None)
        else:
            doc[draw(st.text(max_size=12))] = draw(JSON_VALUES)
    topic = TOPIC_OF[kind] if draw(st.integers(0, 4)) else draw(st.sampled_from(TOPICS))
    return topic, doc


# --- the property every input must satisfy --------------------------------------------


def check_decode_error(exc: DecodeError, raw: bytes) -> None:
    assert exc.code in CODES, exc.code
    assert isinstance(exc.detail, str) and 0 < len(exc.detail) <= MAX_DETAIL_CHARS + 40
    assert MARK not in exc.detail, f"the detail repeats the input: {exc.detail!r}"
    assert str(exc) == f"{exc.code}: {exc.detail}"


def check_bounded(state: LeadState, step: Step) -> None:
    for card in (score(state, MODEL), step.card):
        if card is None:
            continue
        assert 0 <= card.score <= 100 and 0 <= card.fit <= 100 and 0 <= card.engagement <= 100
        assert 0 < card.validity <= 1 and math.isfinite(card.validity)
        assert all(math.isfinite(points) for _, points in card.factors)
    if step.score is not None:
        assert 0 <= step.score.score <= 100
        assert step.score.events_counted == state.events_counted
        orjson.loads(encode(step.score))  # publishable: valid JSON, no NaN
    for alert in step.alerts:
        orjson.loads(encode(alert))
    assert len(state.records) <= DEDUPE_WINDOW
    assert LeadState.from_bytes(state.to_bytes()) == state


def decode_and_apply(raw: bytes, topic: str, state: LeadState | None = None) -> Step | DecodeError:
    """The DecodeError when dead-lettered (checked: a known code, a short detail that does
    not repeat the input); otherwise the step that applied the event to `state` (a fresh
    lead's when None or another lead's), checked to be bounded."""
    try:
        event = parse_event(raw, topic)
    except DecodeError as exc:
        check_decode_error(exc, raw)
        return exc
    if state is None or state.lead_id != event.lead_id:
        state = LeadState(event.lead_id)
    step = process(state, event, MODEL, NOW)
    check_bounded(state, step)
    return step


def expect_error(outcome: Step | DecodeError, code: str, field: str | None = None) -> DecodeError:
    """A dead letter with `code` whose detail starts with `field` (when given)."""
    assert isinstance(outcome, DecodeError), f"applied ({outcome.outcome}), expected {code}"
    assert outcome.code == code, str(outcome)
    if field is not None:
        assert outcome.detail.startswith(f"{field}:"), outcome.detail
    return outcome


def expect_applied(outcome: Step | DecodeError) -> Step:
    """Applied to a fresh lead: its first score is published (an erasure's tombstone instead)."""
    assert isinstance(outcome, Step), f"dead-lettered: {outcome}"
    assert outcome.outcome == "applied"
    assert (outcome.score is None) == outcome.tombstone, outcome
    return outcome


OTHER_TOPICS_TYPES = {
    topic: frozenset().union(*TOPIC_EVENT_TYPES.values()) - kinds
    for topic, kinds in TOPIC_EVENT_TYPES.items()
}


def check_outcome(outcome: Step | DecodeError, raw: bytes, topic: str) -> None:
    """What the outcome of any message on a fresh lead must agree with: bytes that are not
    JSON are invalid_json; a known type of another topic is wrong_topic; any other refusal is
    a schema error; an applied event has a type its topic carries."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        expect_error(outcome, "invalid_json")
        return
    kind = data.get("type") if isinstance(data, dict) else None
    if isinstance(outcome, DecodeError):
        elsewhere = isinstance(kind, str) and kind in OTHER_TOPICS_TYPES[topic]
        expect_error(outcome, "wrong_topic" if elsewhere else "schema")
        return
    assert isinstance(kind, str) and kind in TOPIC_EVENT_TYPES[topic], (kind, topic)
    expect_applied(outcome)


# --- properties -----------------------------------------------------------------------


@HYPO
@given(st.binary(max_size=3000), st.sampled_from(TOPICS))
def test_arbitrary_bytes(raw: bytes, topic: str) -> None:
    check_outcome(decode_and_apply(raw, topic), raw, topic)


@HYPO
@given(hostile_docs())
def test_hostile_documents(case: tuple[str, dict[str, Any]]) -> None:
    topic, doc = case
    raw = orjson.dumps(doc)
    check_outcome(decode_and_apply(raw, topic), raw, topic)


@HYPO
@given(KINDS, st.data())
def test_mutated_bytes_of_valid_events(kind: str, data: st.DataObject) -> None:
    raw = bytearray(orjson.dumps(valid_doc(kind)))
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, len(raw)))
        how = data.draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if how == "flip" and at < len(raw):
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif how == "delete":
            del raw[at : at + data.draw(st.integers(1, 8))]
        else:
            del raw[at:]
    check_outcome(decode_and_apply(bytes(raw), TOPIC_OF[kind]), bytes(raw), TOPIC_OF[kind])


# String fields a number is put in, and the types that have them (others ignore the field).
STRING_FIELDS = {
    "event_id": frozenset(TOPIC_OF),
    "occurred_at": frozenset(TOPIC_OF),
    "first_name": frozenset({"form.submitted", "identity.linked", "signup"}),
    "company": frozenset({"form.submitted", "identity.linked", "lead.associated"}),
}
# The readable numbers each number field of a form accepts: company_size an integer in
# 0..10,000,000 (strictly: 1e-400 reads as the float 0.0), fill_seconds any number >= 0.
NUMBER_FIELDS = {
    "company_size": frozenset({"-0"}),
    "fill_seconds": frozenset({"-0", "0.0000001", "18446744073709551616", "1e-400"}),
}


def with_literal(doc: dict[str, Any], field: str, number: str) -> bytes:
    return orjson.dumps({**doc, field: "@@N@@"}).replace(b'"@@N@@"', number.encode())


@pytest.mark.parametrize(("number", "readable"), ABSURD_NUMBERS.items(), ids=lambda n: str(n)[:24])
def test_absurd_number_literals(number: str, readable: bool) -> None:
    for kind in sorted(TOPIC_OF):
        for field, kinds in STRING_FIELDS.items():
            outcome = decode_and_apply(with_literal(valid_doc(kind), field, number), TOPIC_OF[kind])
            if not readable:
                expect_error(outcome, "invalid_json")
            elif kind in kinds:
                expect_error(outcome, "schema", field)  # a number is not a string
            else:
                expect_applied(outcome)
    for name, accepted in NUMBER_FIELDS.items():
        raw = with_literal(valid_doc("form.submitted"), name, number)
        outcome = decode_and_apply(raw, "leads.forms")
        if not readable:
            expect_error(outcome, "invalid_json")
        elif number in accepted:
            expect_applied(outcome)
        else:
            expect_error(outcome, "schema", name)


ORJSON_MAX_DEPTH = 1024  # orjson refuses documents nested deeper (its recursion limit)


@HYPO
@given(st.integers(0, 1200), st.sampled_from(["[", "{"]), st.booleans())
@example(ORJSON_MAX_DEPTH, "[", False)
@example(ORJSON_MAX_DEPTH, "{", True)
@example(ORJSON_MAX_DEPTH + 1, "{", False)
def test_deep_nesting(depth: int, opener: str, inside_event: bool) -> None:
    nested = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
    if inside_event:
        raw = orjson.dumps(valid_doc("email.opened"))[:-1] + f',"x":{nested}}}'.encode()
    else:
        raw = nested.encode()
    outcome = decode_and_apply(raw, "leads.email-opens")
    if depth + inside_event > ORJSON_MAX_DEPTH:
        assert "depth limit" in expect_error(outcome, "invalid_json").detail
    elif depth == 0 and opener == "[":  # no value at all
        expect_error(outcome, "invalid_json")
    elif inside_event:  # an unknown field, ignored
        expect_applied(outcome)
    elif opener == "[":
        assert "got an array" in expect_error(outcome, "schema").detail
    elif depth == 0:
        assert "got a number" in expect_error(outcome, "schema").detail
    else:
        expect_error(outcome, "schema", "type")


def signup_with(field: str, escape: str) -> bytes:
    """A signup whose `field` is the JSON text `x{escape}y`."""
    doc = orjson.dumps({**valid_doc("signup"), field: "@@S@@"})
    return doc.replace(b"@@S@@", f"x{escape}y".encode())


@pytest.mark.parametrize("escape", [r"\ud800", r"\udfff", r"\ud83d"])
def test_lone_surrogate_escapes_are_invalid_json(escape: str) -> None:
    for field in ("first_name", "event_id", "email", "lead_id"):
        err = expect_error(
            decode_and_apply(signup_with(field, escape), "leads.signups"), "invalid_json"
        )
        assert "surrogate" in err.detail


@pytest.mark.parametrize(
    ("escape", "char"),
    [(r"\u202e", "\u202e"), (r"\ufffe", "\ufffe"), (r"\uDBFF\uDFFF", "\U0010ffff")],
)
def test_unusual_escapes_are_kept_in_names_and_ids(escape: str, char: str) -> None:
    state = LeadState("L1")
    expect_applied(decode_and_apply(signup_with("first_name", escape), "leads.signups", state))
    assert state.profile["first_name"].value == f"x{char}y"
    step = expect_applied(decode_and_apply(signup_with("event_id", escape), "leads.signups"))
    assert step.score is not None and step.score.cause_event_id == f"x{char}y"
    step = expect_applied(decode_and_apply(signup_with("lead_id", escape), "leads.signups"))
    assert step.score is not None and step.score.lead_id == f"x{char}y"
    expect_error(decode_and_apply(signup_with("email", escape), "leads.signups"), "schema", "email")


def test_a_nul_escape_is_kept_in_a_name_and_refused_in_ids_and_emails() -> None:
    state = LeadState("L1")
    expect_applied(decode_and_apply(signup_with("first_name", r"\u0000"), "leads.signups", state))
    assert state.profile["first_name"].value == "x\x00y"
    for field in ("event_id", "lead_id"):
        err = expect_error(
            decode_and_apply(signup_with(field, r"\u0000"), "leads.signups"), "schema", field
        )
        assert "control characters" in err.detail
    outcome = decode_and_apply(signup_with("email", r"\u0000"), "leads.signups")
    expect_error(outcome, "schema", "email")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"\xff\xfe{}", "not valid UTF-8 (byte 0)"),
        (b"\xc3\x28", "not valid UTF-8 (byte 0)"),
        (b'{"event_id":"\xed\xa0\x80"}', "not valid UTF-8 (byte 13)"),  # an encoded surrogate
        (b'{"first_name":"\xc0\xaf"}', "not valid UTF-8 (byte 15)"),  # overlong encoding
        (b"\xef\xbb\xbf" + orjson.dumps(valid_doc("signup")), "byte order mark"),  # a BOM
        (  # a raw NUL, which JSON allows only escaped
            orjson.dumps(valid_doc("signup")).replace(b"Ann", b"A\x00nn"),
            "control character",
        ),
    ],
    ids=["ff-fe", "c3-28", "surrogate", "overlong", "bom", "raw-nul"],
)
def test_invalid_utf8(raw: bytes, detail: str) -> None:
    err = expect_error(decode_and_apply(raw, "leads.signups"), "invalid_json")
    assert detail in err.detail


# case id -> (topic, document, the field its schema error names: None when applied).
HUGE: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "name": ("leads.signups", {**valid_doc("signup"), "first_name": MARK * 100_000}, "first_name"),
    "need": (
        "leads.forms",
        {**valid_doc("form.submitted"), "answers": {"need": ["x"] * 100_000}},
        "answers.need",
    ),
    "company": ("leads.forms", {**valid_doc("form.submitted"), "company": "A" * 10**6}, "company"),
    "fields": (
        "leads.email-opens",
        {**valid_doc("email.opened"), **{f"k{i}": i for i in range(20_000)}},
        None,
    ),
    "url": ("leads.email-clicks", {**valid_doc("email.clicked"), "url": "h" * 10**6}, "url"),
}


@pytest.mark.parametrize(("topic", "doc", "field"), HUGE.values(), ids=HUGE.keys())
def test_huge_payloads_are_refused_or_bounded(
    topic: str, doc: dict[str, Any], field: str | None
) -> None:
    state = LeadState("L1")
    outcome = decode_and_apply(orjson.dumps(doc), topic, state)
    if field is not None:
        expect_error(outcome, "schema", field)
    else:  # unknown fields are ignored: none of them is kept
        expect_applied(outcome)
        assert state.events_counted == 1 and len(state.to_bytes()) < 2_000


def test_timestamps_outside_the_supported_range_are_dead_lettered() -> None:
    for when in ("1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                 "2000-01-01T00:30:00+01:00"):  # fmt: skip
        doc = {**valid_doc("email.opened"), "occurred_at": when}
        with pytest.raises(DecodeError) as caught:
            parse_event(orjson.dumps(doc), "leads.email-opens")
        assert caught.value.code == "schema"
    for when in ("2000-01-01T00:00:00Z", "2099-12-31T23:59:59.999999Z"):
        doc = {**valid_doc("email.opened"), "occurred_at": when}
        step = expect_applied(decode_and_apply(orjson.dumps(doc), "leads.email-opens"))
        assert step.score is not None and step.score.last_event_at == datetime.fromisoformat(when)


def test_html_and_control_characters_in_names_are_data_not_markup() -> None:
    """Names are kept as the producer sent them (consumers escape for their medium); the
    alert that carries them (its contact) is JSON with the control characters escaped."""
    first, last = "<b>Ann</b>\x1b[2J\x07", "\u202eO\x00"
    pipe, sent, store = pipeline()
    at = partition_for("L1", PARTITIONS)
    # Clicks first, so that the form crosses the mql threshold: an alert names the lead.
    docs = [
        (
            "leads.email-clicks",
            {**valid_doc("email.clicked", eid=f"c{i}", minutes=i), "message_id": f"m{i}"},
        )
        for i in range(4)
    ]
    form = {
        **valid_doc("form.submitted", eid="f1", minutes=10),
        "first_name": first,
        "last_name": last,
    }
    docs.append(("leads.forms", form))
    for offset, (topic, doc) in enumerate(docs):
        pipe.handle(FakeMessage(f"p.{topic}", at, offset, b"L1", orjson.dumps(doc)))
    assert not [s for s in sent if s.topic == "p.leads.dead-letter"]
    alerts = [s.value for s in sent if s.topic == "p.leads.alerts"]
    assert len(alerts) == 1 and alerts[0] is not None
    raw = alerts[0]
    assert [b for b in raw if b < 0x20] == [], "a raw control character in the alert's JSON"
    assert b"<b>Ann</b>\\u001b[2J\\u0007 \xe2\x80\xaeO\\u0000" in raw  # escaped, not altered
    assert orjson.loads(raw)["contact"]["name"] == f"{first} {last}"
    state = LeadState.from_bytes(store["L1"])
    assert state.profile["first_name"].value == first
    assert state.profile["last_name"].value == last
    check_bounded(state, Step("applied"))


# --- one lead, bombarded -------------------------------------------------------------------


def bombard(n: int, make_id: Callable[[int], str], kind: str = "email.clicked") -> LeadState:
    state = LeadState("L1")
    for i in range(n):
        doc = {**valid_doc(kind, eid=make_id(i), minutes=i % 50_000), "message_id": make_id(i)}
        event = parse_event(orjson.dumps(doc), TOPIC_OF[kind])
        process(state, event, MODEL, NOW)
    return state


def test_a_lead_bombarded_with_5000_events_keeps_the_dedupe_window() -> None:
    state = bombard(5000, lambda i: f"evt-{i:06d}")
    assert len(state.records) == DEDUPE_WINDOW
    assert state.events_counted == 5000
    card = score(state, MODEL)
    assert 0 <= card.score <= 100 and card.events_counted == 5000
    assert len(state.to_bytes()) < 300_000


def widest_id(n: int) -> str:
    """A distinct valid id of 128 four-byte characters (512 bytes of UTF-8)."""
    tail = "".join(chr(0x1F300 + (n >> shift) % 256) for shift in (0, 8, 16, 24))
    return "\U0001f600" * 124 + tail


def test_the_largest_possible_lead_state_fits_a_kafka_message() -> None:
    """128-character ids of 4-byte characters are valid; the state (one changelog record) of a
    lead with a full dedupe window of them, as event and message ids, and profile fields at
    their maximum must still fit in one Kafka message, or the worker crashes on the write
    (MessageSizeTooLargeError), and again on every restart."""
    state = bombard(DEDUPE_WINDOW + 50, widest_id)
    wide = "\U0001f600"
    for n, kind in enumerate(("form.submitted", "signup")):
        doc = valid_doc(kind, eid=widest_id(10**6 + n), minutes=10**5)
        doc.update(first_name=wide * 100, last_name=wide * 100)
        if kind == "form.submitted":
            doc.update(company=wide * 200, job_title=wide * 200, industry=wide * 100,
                       answers={"need": [wide * 200] * 20}, honeypot=wide * 1000)  # fmt: skip
        process(state, parse_event(orjson.dumps(doc), TOPIC_OF[kind]), MODEL, NOW)
    assert len(state.records) <= DEDUPE_WINDOW
    size = len(state.to_bytes())
    assert size < 200_000, f"{size} bytes (Faust's producer refuses records over 1,000,000)"


# --- the Pipeline around them: keys, partitions, sizes --------------------------------


def pipeline() -> tuple[Pipeline, list[SentMessage], MemoryStore]:
    return memory_pipeline(MODEL, topic_prefix="p.", partitions=PARTITIONS)


KEYS = st.one_of(st.none(), st.binary(max_size=20), st.sampled_from([b"L1", b"L2", b"l1", b"L1 "]))


@HYPO
@given(st.one_of(hostile_docs(), KINDS.map(lambda k: (TOPIC_OF[k], valid_doc(k)))), KEYS,
       st.booleans(), st.booleans())  # fmt: skip
def test_pipeline_dead_letters_or_applies_never_fails(
    case: tuple[str, dict[str, Any]], key: bytes | None, keyed_right: bool, owner: bool
) -> None:
    topic, doc = case
    raw = orjson.dumps(doc)
    # The contract's key: the lead, or the visitor for a link or an anonymous page view.
    lead = doc.get("anonymous_id") if doc.get("type") == "identity.linked" else doc.get("lead_id")
    lead = lead if lead is not None or doc.get("type") != "page.viewed" else doc.get("anonymous_id")
    if keyed_right and isinstance(lead, str):
        key = lead.encode("utf-8", "surrogatepass")
    right = partition_for(lead, PARTITIONS) if isinstance(lead, str) and lead else 0
    partition = right if owner else (right + 1) % PARTITIONS
    pipe, sent, store = pipeline()
    pipe.handle(FakeMessage(f"p.{topic}", partition, 7, key, raw))
    dead = [orjson.loads(v) for t, _, v, _ in sent if t == "p.leads.dead-letter" and v]
    assert all(d["error"] != "processing_error" for d in dead), dead
    if dead:
        assert len(dead) == 1 and dead[0]["error"] in CODES
        assert MARK not in dead[0]["detail"]
        assert not store, "a dead-lettered message changed state"
        return
    event = parse_event(raw, topic)
    owner_key = routing_key(event)
    if key is not None:
        assert key == owner_key.encode(), "a message whose key differs was applied"
    if partition != partition_for(owner_key, PARTITIONS):
        assert [s[0] for s in sent] == [f"p.{topic}"] and not store  # re-routed, not applied
        return
    lead_id = lead_of(event)
    if lead_id is None:  # a visitor's: held or forwarded, the lead's table untouched
        assert not store and pipe.visitor_store.get(owner_key) is not None
        return
    state = LeadState.from_bytes(store[lead_id])
    check_bounded(state, Step("applied"))


def test_key_mismatch_and_too_large_are_dead_lettered() -> None:
    pipe, sent, store = pipeline()
    raw = orjson.dumps(valid_doc("email.opened", lead="L1"))
    pipe.handle(FakeMessage("p.leads.email-opens", partition_for("L1", PARTITIONS), 1, b"L2", raw))
    big = orjson.dumps({**valid_doc("email.opened"), "pad": "x" * 70_000})
    pipe.handle(FakeMessage("p.leads.email-opens", partition_for("L1", PARTITIONS), 2, b"L1", big))
    pipe.handle(FakeMessage("p.leads.email-opens", 0, 3, b"L1", None))  # a tombstone on an input
    errors = [orjson.loads(v)["error"] for t, _, v, _ in sent if t == "p.leads.dead-letter" and v]
    assert errors == ["key_mismatch", "too_large", "invalid_json"] and not store


def test_long_ids_still_deduplicate_exactly() -> None:
    state = LeadState("L1")
    twins = [widest_id(1), widest_id(1)[:-1] + "x"]  # same 508-byte prefix, different ids
    for eid in (*twins, *twins):
        doc = valid_doc("email.clicked", eid=eid)
        process(state, parse_event(orjson.dumps(doc), "leads.email-clicks"), MODEL, NOW)
    assert state.events_counted == 2
