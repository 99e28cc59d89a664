"""The pure scoring core alone, in a fresh process on one core: no Kafka, no Faust.

Per event it does what the worker's handler does around the core: parse_event (JSON +
validation), read the lead's state blob from a dict (the table) and LeadState.from_bytes,
process (apply + score + outputs), LeadState.to_bytes and store the blob. A second loop
times the whole handler (Pipeline.handle with an in-memory store and a no-op send: also
the partition check, encoding the outputs and the Prometheus metrics). A third times a
decay sweep over the final states (leads re-scored per second). A fourth compares the cost
of an event on a lead holding a full dedupe window (1,000 records) with one on a new lead.

Times are the process's CPU time (time.process_time), not wall time: on a shared 2-core
machine the wall clock also counts whatever else runs. The best of the repeats is kept
(the least disturbed).

Run as `python -m bench.core EVENTS_FILE REPEATS PARTITIONS`; prints one JSON object.
"""

from __future__ import annotations

import gc
import os
import pickle
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from schemas.codec import DecodeError, parse_event
from schemas.events import lead_of
from schemas.topics import WEB
from streams.core import LeadState, ScoringModel, process, rescore
from streams.core.visitors import VisitorState, visit
from streams.kafka.partitioning import partition_for
from streams.settings import VISITOR_MAX_VIEWS

Event = tuple[str, bytes, bytes]  # (contract topic, key, value)


def core_pass(events: list[Event], model: ScoringModel) -> tuple[float, dict[str, bytes]]:
    """CPU seconds for one pass over `events` from empty state, and the final blobs."""
    store: dict[str, bytes] = {}
    visitors: dict[str, bytes] = {}
    now = datetime.now(UTC)

    def apply(lead_id: str, event: Any) -> None:
        raw = store.get(lead_id)
        state = LeadState(lead_id) if raw is None else LeadState.from_bytes(raw)
        step = process(state, event, model, now)
        if step.changed:
            store[lead_id] = state.to_bytes()

    started = time.process_time()
    for topic, key, value in events:
        try:
            event = parse_event(value, topic)
        except DecodeError:
            continue
        lead_id = lead_of(event)
        if lead_id is not None:
            apply(lead_id, event)
            continue
        # A visitor's view or link, as the worker handles it on the visitor's partition.
        anonymous_id = key.decode()
        held = visitors.get(anonymous_id)
        visitor = VisitorState(anonymous_id) if held is None else VisitorState.from_bytes(held)
        result = visit(visitor, event, VISITOR_MAX_VIEWS)
        if result.changed:
            visitors[anonymous_id] = visitor.to_bytes()
        for forward_to, forwarded in result.forward:
            apply(forward_to, parse_event(forwarded, WEB.name))
    return time.process_time() - started, store


def handler_pass(events: list[Event], model: ScoringModel, partitions: int) -> float:
    """CPU seconds for Pipeline.handle over `events` (in-memory table, outputs dropped)."""
    from schemas.topics import Topic
    from streams.app.pipeline import Pipeline
    from streams.settings import MAX_FUTURE_SKEW_SECONDS
    from streams.testing import FakeMessage, MemoryStore

    def send(topic: Topic, key: bytes, value: bytes | None, partition: int | None = None) -> None:
        return None

    pipeline = Pipeline(
        topic_prefix="",
        partitions=partitions,
        max_message_bytes=65536,
        max_future_skew_seconds=MAX_FUTURE_SKEW_SECONDS,
        model=model,
        send=send,
        store=MemoryStore(partitions),
        visitor_store=MemoryStore(partitions),  # forwards are dropped with the outputs
        account_store=MemoryStore(partitions),  # and contributions to accounts too
        history_store=MemoryStore(partitions),
    )
    messages = [
        FakeMessage(t, partition_for(k.decode(), partitions), n, k, v, time.time())
        for n, (t, k, v) in enumerate(events)
    ]
    started = time.process_time()
    for msg in messages:
        pipeline.handle(msg)
    return time.process_time() - started


def sweep_pass(blobs: list[bytes], model: ScoringModel) -> float:
    """CPU seconds for a decay sweep over `blobs` a day after their last events: per lead
    what Pipeline.rescore_slice does (decode, re-score, encode when it changed)."""
    now = datetime.now(UTC)
    day_us = 86_400 * 1_000_000
    started = time.process_time()
    for raw in blobs:
        state = LeadState.from_bytes(raw)
        step = rescore(state, model, now, as_of_us=(state.last_event_us or 0) + day_us)
        if step.score is not None:
            state.to_bytes()
    return time.process_time() - started


def history_cost(model: ScoringModel, rounds: int = 30, batch: int = 200) -> dict[str, Any]:
    """Cost of one event on a lead that holds a full dedupe window of records (and on one
    holding a tenth of it), against the same kind of event on a new lead: per event as the
    worker does it (parse, decode the state, process, encode). The three run in small
    interleaved batches, so the machine's drift hits them alike; medians are reported."""
    from datetime import timedelta

    from schemas.topics import TOPIC_OF_TYPE
    from streams.core import DEDUPE_WINDOW

    base = datetime(2026, 6, 1, tzinfo=UTC)
    kinds = ("email.opened", "email.clicked", "social.interaction", "signup")
    now = datetime.now(UTC)

    def line(i: int, lead: str) -> tuple[str, bytes]:
        kind = kinds[i % len(kinds)]
        doc: dict[str, Any] = {"event_id": f"{lead}-{i}", "lead_id": lead, "type": kind}
        doc["occurred_at"] = (base + timedelta(minutes=7 * i)).isoformat()
        if kind.startswith("email."):
            doc["message_id"] = f"m{i % 50}"
        elif kind == "social.interaction":
            doc |= {"network": "x", "action": "like"}
        else:
            doc["email"] = "ann@acme-corp.com"
        return TOPIC_OF_TYPE[kind], orjson.dumps(doc)

    def lead_with(records: int, lead: str) -> bytes:
        state = LeadState(lead)
        for i in range(records):
            topic, value = line(i, lead)
            process(state, parse_event(value, topic), model, now)
        return state.to_bytes()

    def per_event(lines: list[tuple[str, bytes]], stored: bytes | None) -> float:
        started = time.process_time()
        for topic, value in lines:
            event = parse_event(value, topic)
            state = LeadState(event.lead_id) if stored is None else LeadState.from_bytes(stored)
            process(state, event, model, now)
            state.to_bytes()
        return (time.process_time() - started) / len(lines)

    full, tenth = lead_with(DEDUPE_WINDOW, "full"), lead_with(DEDUPE_WINDOW // 10, "tenth")
    times: dict[str, list[float]] = {"full": [], "tenth": [], "new": []}
    for r in range(rounds):
        at = DEDUPE_WINDOW + r * batch
        gc.collect()
        times["full"].append(per_event([line(at + i, "full") for i in range(batch)], full))
        times["tenth"].append(per_event([line(at + i, "tenth") for i in range(batch)], tenth))
        times["new"].append(per_event([line(at + i, f"n{at + i}") for i in range(batch)], None))
    us = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    return {
        "records": DEDUPE_WINDOW,
        "full_lead_us": round(us["full"], 1),
        "tenth_lead_us": round(us["tenth"], 1),
        "new_lead_us": round(us["new"], 1),
        "ratio": round(us["full"] / us["new"], 2),
        "full_over_tenth": round(us["full"] / us["tenth"], 2),
        "full_lead_state_bytes": len(full),
    }


def sizes(store: dict[str, bytes]) -> dict[str, Any]:
    lengths = sorted(len(b) for b in store.values())
    if not lengths:
        return {"leads": 0}
    return {
        "leads": len(lengths),
        "median": lengths[len(lengths) // 2],
        "p95": lengths[min(len(lengths) - 1, int(len(lengths) * 0.95))],
        "mean": round(statistics.fmean(lengths), 1),
        "max": lengths[-1],
    }


def main(path: str, repeats: int, partitions: int) -> dict[str, Any]:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})  # one core
    events: list[Event] = pickle.loads(Path(path).read_bytes())
    model = ScoringModel.load()
    core_times, handler_times = [], []
    store: dict[str, bytes] = {}
    for _ in range(repeats):
        gc.collect()
        seconds, store = core_pass(events, model)
        core_times.append(seconds)
        gc.collect()
        handler_times.append(handler_pass(events, model, partitions))
    blobs = list(store.values())
    sweep_s = min(sweep_pass(blobs, model) for _ in range(repeats))
    core_s, handler_s = min(core_times), min(handler_times)
    return {
        "events": len(events),
        "core_eps": len(events) / core_s,
        "core_eps_runs": [round(len(events) / t) for t in core_times],
        "handler_eps": len(events) / handler_s,
        "handler_eps_runs": [round(len(events) / t) for t in handler_times],
        "state_bytes": sizes(store),
        "sweep_leads_per_s": len(blobs) / sweep_s,
        "history": history_cost(model),
        "blobs": list(store.values()),
    }


if __name__ == "__main__":
    result = main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
    blobs = result.pop("blobs")
    Path(sys.argv[1] + ".blobs").write_bytes(pickle.dumps(blobs))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
