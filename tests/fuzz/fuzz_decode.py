"""Coverage-guided fuzzing of the decode -> validate -> apply path, with atheris (libFuzzer).

    .venv/bin/python tests/fuzz/fuzz_decode.py -runs=100000 [-max_len=4096] [CORPUS_DIR ...]

An input is either a raw message value (the first byte picks the contract topic) or, half of
the time, a valid event of some type whose fields the fuzzer rewrites (structure-aware, so
it gets past the JSON and schema checks into the scoring core). Each must end as a
DecodeError (a dead letter) or as a bounded score on a lead whose state round-trips;
anything else (another exception, an out-of-range score) is a crash that atheris reports
with the input, which then replays with `fuzz_decode.py CRASH_FILE`.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports(include=["schemas", "streams"]):
    import orjson

    from schemas.codec import DecodeError, encode, parse_event
    from schemas.topics import TOPIC_EVENT_TYPES
    from streams.core.apply import DEDUPE_WINDOW
    from streams.core.model import ScoringModel
    from streams.core.scoring import score
    from streams.core.state import LeadState
    from streams.core.step import process

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
BASE = datetime(2026, 9, 1, tzinfo=UTC)
TOPICS = sorted(TOPIC_EVENT_TYPES)
KINDS = sorted(kind for kinds in TOPIC_EVENT_TYPES.values() for kind in kinds)
TOPIC_OF = {kind: topic for topic, kinds in TOPIC_EVENT_TYPES.items() for kind in kinds}
FIELDS = [
    "event_id", "lead_id", "occurred_at", "sent_at", "message_id", "user_agent", "url",
    "email", "first_name", "last_name", "company", "job_title", "company_size", "industry",
    "country", "answers", "honeypot", "fill_seconds", "network", "action", "method",
    "outcome", "reason", "form_id", "type",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "fuzz"
STATES: dict[str, LeadState] = {}  # a few leads live across inputs, as in a worker
OUTCOMES: Counter[str] = Counter()  # printed at the end: how far the inputs got
LAST_RUN = [-1]


def base_doc(kind: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": "e1",
        "lead_id": "L1",
        "type": kind,
        "occurred_at": "2026-11-01T09:00:00Z",
    }
    if kind == "form.submitted":
        doc.update(form_id="f", email="ann@acme-corp.com", first_name="Ann", company_size=250)
        doc["answers"] = {"budget": 5e4, "authority": "user", "need": ["x"], "timeline": "now"}
    elif kind == "signup":
        doc["email"] = "ann@acme-corp.com"
    elif kind == "social.interaction":
        doc.update(network="x", action="like")
    elif kind == "lead.verified":
        doc["method"] = "manual"
    elif kind == "lead.outcome":
        doc["outcome"] = "converted"
    elif kind in ("email.opened", "email.clicked"):
        doc.update(message_id="m1", sent_at="2026-11-01T08:59:58Z")
    return doc


def fuzzed_value(fdp: atheris.FuzzedDataProvider) -> Any:
    pick = fdp.ConsumeIntInRange(0, 8)
    if pick == 0:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 300))
    if pick == 1:
        return fdp.ConsumeInt(8)
    if pick == 2:
        return fdp.ConsumeFloat()
    if pick == 3:
        return fdp.ConsumeBool()
    if pick == 4:
        return None
    if pick == 5:
        return [fuzzed_value(fdp) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    if pick == 6:
        return {fdp.ConsumeUnicodeNoSurrogates(8): fuzzed_value(fdp) for _ in range(2)}
    if pick == 7:  # a timestamp-shaped string
        y, mo, d = (fdp.ConsumeIntInRange(0, n) for n in (9999, 13, 32))
        h, mi, s = (fdp.ConsumeIntInRange(0, n) for n in (25, 61, 61))
        zone = fdp.PickValueInList(["Z", "z", "+00:00", "-23:59", "+24:00", "", "+05:30"])
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{zone}"
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 40))  # surrogates included


def message(data: bytes) -> tuple[bytes, str]:
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeBool():
        topic = fdp.PickValueInList(TOPICS)
        return fdp.ConsumeBytes(fdp.remaining_bytes()), topic
    kind = fdp.PickValueInList(KINDS)
    doc = base_doc(kind)
    doc["lead_id"] = fdp.PickValueInList(["L1", "L2", "L3"])
    doc["event_id"] = f"e{fdp.ConsumeIntInRange(0, 2000)}"
    when = BASE + timedelta(seconds=fdp.ConsumeIntInRange(0, 90 * 86400))
    doc["occurred_at"] = when.isoformat()
    for _ in range(fdp.ConsumeIntInRange(0, 4)):
        field = fdp.PickValueInList(FIELDS)
        if fdp.ConsumeIntInRange(0, 5) == 0:
            doc.pop(field, None)
        else:
            doc[field] = fuzzed_value(fdp)
    topic = TOPIC_OF[kind] if fdp.ConsumeIntInRange(0, 7) else fdp.PickValueInList(TOPICS)
    try:
        raw = orjson.dumps(doc)
    except TypeError:  # a lone surrogate: orjson refuses it; send it the way a bad producer would
        raw = repr(doc).encode("utf-8", "surrogatepass")
    return raw, topic


def check(state: LeadState) -> None:
    card = score(state, MODEL)
    if not (0 <= card.score <= 100 and 0 <= card.fit <= 100 and 0 <= card.engagement <= 100):
        raise AssertionError(f"score out of range: {card}")
    if not 0 < card.validity <= 1 or len(state.records) > DEDUPE_WINDOW:
        raise AssertionError(f"validity or records out of range: {card}")
    if LeadState.from_bytes(state.to_bytes()) != state:
        raise AssertionError("the state does not round-trip")


def test_one_input(data: bytes) -> None:
    OUTCOMES["inputs"] += 1
    try:
        apply_one(data)
    finally:
        if OUTCOMES["inputs"] == LAST_RUN[0]:
            print(f"outcomes: {dict(OUTCOMES.most_common())}", file=sys.stderr)


def apply_one(data: bytes) -> None:
    raw, topic = message(data)
    try:
        event = parse_event(raw, topic)
    except DecodeError as exc:
        if not exc.detail or len(exc.detail) > 1100:
            raise AssertionError(f"bad detail: {exc.detail!r}") from None
        OUTCOMES[f"dead letter: {exc.code}"] += 1
        return
    if len(STATES) > 50 or OUTCOMES["inputs"] % 500 == 0:  # now and then, fresh leads
        STATES.clear()
    state = STATES.setdefault(event.lead_id, LeadState(event.lead_id))
    step = process(state, event, MODEL, NOW)
    OUTCOMES[step.outcome] += 1
    OUTCOMES["with a score message"] += step.score is not None
    OUTCOMES["alerts"] += len(step.alerts)
    if step.score is not None:
        encode(step.score)
    for alert in step.alerts:
        encode(alert)
    check(state)


def main() -> None:
    argv = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in argv):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # crash inputs, not in the checkout's root
        argv.append(f"-artifact_prefix={ARTIFACTS}/")
    # libFuzzer ends the process without running atexit handlers: report at the last run.
    runs = [int(a.split("=", 1)[1]) for a in argv if a.startswith("-runs=")]
    LAST_RUN[0] = runs[-1] if runs else -1
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
