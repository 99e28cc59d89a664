"""The incremental engagement sums against a brute-force reference (docs/state.md).

The reference below recomputes, from the set of events alone, what a lead must hold:
the kept records (the newest DEDUPE_WINDOW by time, then id digest), which opens and
clicks are machine-made (a burst judged over all of a message's kept clicks), the exact
fixed-point sums and the decayed weights as plain floats. The core keeps all of it up to
date one event at a time; these properties check it does so exactly, in any order, with
duplicates and with evictions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import (
    EmailBounced,
    EmailClicked,
    EmailOpened,
    EmailUnsubscribed,
    InputEvent,
    LeadRecycled,
    PageViewed,
    SocialInteraction,
)
from streams.core import LeadState, ScoringModel, apply, decay, event_key, process, rescore, to_us
from streams.core.pages import page_of, session_page_key
from streams.core.records import BURST, REPEAT, message_key
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, memory_pipeline
from streams.tools.score import score_lines, topic_for
from tests.core_events import BASE, parsed, raw

MODEL = ScoringModel.load()
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NOW = datetime(2026, 11, 27, tzinfo=UTC)
DAY_US = 86_400_000_000
PROPS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- generated leads: bursts, scanners, sends, ties, old and new events ------------------


@st.composite
def lines(draw: st.DrawFn, max_events: int = 30) -> list[bytes]:
    """Raw input events of one lead (distinct ids), as a producer would send them."""
    n = draw(st.integers(1, max_events))
    out = []
    for i in range(n):
        kind = draw(
            st.sampled_from(
                ["click", "click", "open", "social", "signup", "form", "status", "recycle", "page"]
            )
        )
        # Minutes on a coarse grid (ties) plus seconds (clicks within a burst window).
        minutes = draw(st.sampled_from([0, 1, 60, 600, 60 * 24 * 40, 60 * 24 * 400]))
        minutes += draw(st.integers(0, 20)) / 60
        eid = f"e{i}"
        if kind == "click":
            extra = {"message_id": draw(st.sampled_from(["m0", "m1", "m2"]))}
            if draw(st.booleans()):
                extra["user_agent"] = draw(st.sampled_from(["Mimecast/2", "Mozilla/5.0"]))
            out.append(raw("email.clicked", "L1", minutes, eid, **extra))
        elif kind == "open":
            sent = draw(st.sampled_from([None, 0.0, 30.0]))  # minutes before the open
            extra = {"message_id": "m0"}
            if sent is not None:
                sent_at = BASE.timestamp() + minutes * 60 - sent * 60
                extra["sent_at"] = datetime.fromtimestamp(sent_at, UTC).isoformat()
            out.append(raw("email.opened", "L1", minutes, eid, **extra))
        elif kind == "social":
            action = draw(st.sampled_from(["like", "share", "comment"]))
            out.append(raw("social.interaction", "L1", minutes, eid, network="x", action=action))
        elif kind == "signup":
            out.append(raw("signup", "L1", minutes, eid, email="a@acme-corp.com"))
        elif kind == "status":
            status = draw(st.sampled_from(["unsub", "unsub", "complaint", "hard", "soft"]))
            if status == "unsub":  # a person's, or a scanner's (too soon, or by its agent)
                sent = draw(st.sampled_from([0.05, 30.0]))  # minutes before
                sent_at = datetime.fromtimestamp(BASE.timestamp() + (minutes - sent) * 60, UTC)
                extra = {"message_id": "m0", "sent_at": sent_at.isoformat()}
                if draw(st.booleans()):
                    extra["user_agent"] = draw(st.sampled_from(["Mimecast/2", "Mozilla/5.0"]))
                out.append(raw("email.unsubscribed", "L1", minutes, eid, **extra))
            elif status == "complaint":
                out.append(raw("email.complained", "L1", minutes, eid))
            else:
                out.append(raw("email.bounced", "L1", minutes, eid, bounce_type=status))
        elif kind == "recycle":
            out.append(raw("lead.recycled", "L1", minutes, eid))
        elif kind == "page":  # reloads within a session, crawlers, a gateway rendering a link
            path = draw(st.sampled_from(["/pricing", "/pricing?utm=x", "/blog/a", "/careers"]))
            extra = {"url": f"https://www.acme-corp.com{path}"}
            session = draw(st.sampled_from(["s1", "s2", None]))
            if session is not None:
                extra["session_id"] = session
            extra["user_agent"] = draw(st.sampled_from([BROWSER, BROWSER, GOOGLEBOT, "Mimecast/2"]))
            out.append(raw("page.viewed", "L1", minutes, eid, **extra))
        else:
            fields = {"form_id": "d", "email": "a@acme-corp.com", "company_size": 250}
            out.append(raw("form.submitted", "L1", minutes, eid, **fields))
    return out


def run(events: list[InputEvent], model: ScoringModel = MODEL) -> LeadState:
    state = LeadState("L1")
    for e in events:
        process(state, e, model, NOW)
    return state


def facts(state: LeadState) -> bytes:
    """The state's bytes less its delivery bookkeeping (which alerts fired along the way,
    the last message): what guarantee 3 makes a function of the set of events."""
    return replace(state, alerts={}, last_event=None, last_position=None, outbox=[]).to_bytes()


# --- the reference ---------------------------------------------------------------------


@dataclass
class Expected:
    kept: list[tuple[int, int]]  # (at, event key), oldest first
    evicted: int
    burst: set[int]
    repeat: set[int]  # page views of a page seen in their session within the window before
    machine: int
    sums: dict[str, int]
    floats: dict[str, float]  # decayed weights as of `as_of`, plain floating point


def reference(events: list[InputEvent], window: int, as_of: int, model: ScoringModel) -> Expected:
    distinct = {event_key(e.event_id): e for e in reversed(events)}  # first one wins
    ordered = sorted((to_us(e.occurred_at), k) for k, e in distinct.items())
    kept = ordered[-window:]
    by_key = {k: distinct[k] for _, k in kept}
    rules = model.rules
    clicks: dict[int, list[int]] = defaultdict(list)
    for at, k in kept:
        e = by_key[k]
        if isinstance(e, EmailClicked) and e.message_id is not None:
            clicks[message_key(e.message_id)].append(at)
    burst = set()
    for at, k in kept:
        e = by_key[k]
        if isinstance(e, EmailClicked) and e.message_id is not None:
            near = [
                t for t in clicks[message_key(e.message_id)] if abs(t - at) <= rules.burst_window_us
            ]
            if len(near) >= rules.burst_min_clicks:
                burst.add(k)
    views: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for at, k in kept:
        e = by_key[k]
        if isinstance(e, PageViewed):
            views[session_page_key(e.session_id, page_of(e.url))].append((at, k))
    repeat = {
        seen[j][1]
        for seen in views.values()
        for j in range(1, len(seen))
        if seen[j][0] - seen[j - 1][0] <= rules.repeat_window_us
    }
    newest = kept[-1][0]
    recycled = [to_us(e.occurred_at) for e in distinct.values() if isinstance(e, LeadRecycled)]
    recycled_at = max(recycled, default=None)
    machine, sums = 0, defaultdict(int)
    floats: dict[str, list[float]] = defaultdict(list)
    for at, k in kept:
        e = by_key[k]
        kind = _kind(e)
        if kind not in rules.half_lives or (recycled_at is not None and at <= recycled_at):
            continue
        if _is_machine(e, k in burst, model):
            machine += 1
            continue
        if k in repeat:
            continue
        h = rules.half_lives[kind]
        sums[kind] += decay.weight(at, decay.epoch(newest, h), h)
        floats[kind].append(2.0 ** (-(as_of - at) / h))
    return Expected(
        kept=kept,
        evicted=len(ordered) - len(kept),
        burst=burst,
        repeat=repeat,
        machine=machine,
        sums={k: v for k, v in sums.items() if v},
        floats={k: math.fsum(v) for k, v in floats.items()},
    )


def _kind(e: InputEvent) -> str:
    if isinstance(e, SocialInteraction):
        return f"social.{e.action}"
    if isinstance(e, EmailBounced):
        return f"email.bounced.{e.bounce_type}"
    if isinstance(e, PageViewed):
        page = page_of(e.url)
        return f"page.{MODEL.page_kind(page.host, page.path)}"
    return e.type


def _is_machine(e: InputEvent, in_burst: bool, model: ScoringModel) -> bool:
    if isinstance(e, PageViewed):
        agent = e.user_agent or ""
        return model.is_crawler_agent(agent) or model.is_scanner_agent(agent)
    if not isinstance(e, EmailOpened | EmailClicked | EmailUnsubscribed):
        return False
    if e.user_agent and model.is_scanner_agent(e.user_agent):
        return True
    min_seconds = model.engagement.machine.min_seconds_after_send
    after = None if e.sent_at is None else (e.occurred_at - e.sent_at).total_seconds()
    if after is not None and after < min_seconds:
        return True
    return in_burst


def check(state: LeadState, expected: Expected, as_of: int) -> None:
    log = state.records
    assert [(r.at, r.event) for r in log] == expected.kept
    assert state.evicted == expected.evicted
    assert {r.event for r in log if r.flags & BURST} == expected.burst
    assert {r.event for r in log if r.flags & REPEAT} == expected.repeat
    assert state.tally.sums == expected.sums, "the sums differ from a rebuild from scratch"
    assert state.tally.machine == expected.machine
    newest = log.newest_at()
    assert newest is not None
    for kind, total in state.tally.sums.items():
        h = MODEL.rules.half_lives[kind]
        exact = decay.value(total, decay.epoch(newest, h), as_of, h)
        # Fixed point keeps 52 bits below the point: a weight far below 1 (a 14-day
        # half-life a year on) is exact to that absolute resolution, not relatively.
        assert math.isclose(exact, expected.floats[kind], rel_tol=1e-12, abs_tol=1e-14)


# --- properties ------------------------------------------------------------------------


@PROPS
@given(lines(), st.randoms(), st.integers(0, 400 * DAY_US))
def test_the_sums_are_the_reference_in_any_order(batch: list[bytes], rnd: Any, later: int) -> None:
    events = parsed(batch)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    a, b = run(events), run(shuffled)
    assert facts(a) == facts(b), "the same events in another order gave other state bytes"
    newest = a.records.newest_at() or 0
    check(a, reference(events, apply.DEDUPE_WINDOW, newest + later, MODEL), newest + later)


@PROPS
@given(lines(), st.randoms())
def test_duplicates_change_nothing(batch: list[bytes], rnd: Any) -> None:
    events = parsed(batch)
    with_dups = events + [rnd.choice(events) for _ in range(len(events))]
    rnd.shuffle(with_dups)
    once, twice = run(events), run(with_dups)
    assert facts(once) == facts(twice)
    before = twice.to_bytes()
    assert {process(twice, e, MODEL, NOW).outcome for e in events} == {"duplicate"}
    assert twice.to_bytes() == before


@PROPS
@given(lines(max_events=40), st.randoms(), st.integers(1, 12))
def test_evictions_keep_the_newest_records_and_exact_sums(
    batch: list[bytes], rnd: Any, window: int
) -> None:
    events = parsed(batch)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    with patch.object(apply, "DEDUPE_WINDOW", window):
        a, b = run(events), run(shuffled)
    assert facts(a) == facts(b), "evictions depended on the order of arrival"
    newest = a.records.newest_at() or 0
    check(a, reference(events, window, newest, MODEL), newest)
    assert a.events_counted == len(events)


@PROPS
@given(lines(), st.floats(1, 90), st.floats(0, 600))
def test_a_new_model_rebuilds_the_sums_it_would_have_built(
    batch: list[bytes], half_life_days: float, min_seconds: float
) -> None:
    data = MODEL.model_dump()
    data["model_version"] = "other"
    data["engagement"]["half_life_days"] = half_life_days
    data["engagement"]["machine"]["min_seconds_after_send"] = min_seconds
    other = ScoringModel.model_validate(data)
    events = parsed(batch)
    state = run(events)
    rescore(state, other, NOW)  # a model change: the sweep re-scores every lead
    direct = run(events, other)
    # Opt-out signals are judged once, on apply, with the model then in force (as scanner
    # user agents are): everything else is what the new model builds from the records.
    assert replace(state, published=None, signals={}).to_bytes() == (
        replace(direct, published=None, signals={}).to_bytes()
    )
    newest = state.records.newest_at() or 0
    expected = reference(events, apply.DEDUPE_WINDOW, newest, other)
    assert state.tally.sums == expected.sums and state.tally.machine == expected.machine


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines(), st.randoms())
def test_the_worker_and_the_offline_scorer_agree(batch: list[bytes], rnd: Any) -> None:
    """The shell (Pipeline.handle over a memory table) in one order, the offline scorer in
    another: the same final score message, field for field."""
    pipe, sent, _ = memory_pipeline(topic_prefix="")
    shuffled = list(batch)
    rnd.shuffle(shuffled)
    clock = BASE + timedelta(days=500)  # after every generated event
    partition = partition_for("L1", PARTITIONS)
    for n, value in enumerate(batch):
        msg = FakeMessage(topic_for(value), partition, n, b"L1", value, clock.timestamp())
        pipe.handle(msg)
    scores = [m for m in sent if m.topic == "leads.scores" and m.value is not None]
    offline = list(score_lines(shuffled, MODEL, clock).final_scores())
    assert scores and len(offline) == 1
    stream = orjson.loads(scores[-1].value)
    final = offline[-1].model_dump(mode="json")
    for volatile in ("updated_at", "cause_event_id"):
        stream.pop(volatile), final.pop(volatile)
    assert stream == final
