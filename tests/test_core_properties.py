"""Properties of the scoring core over the whole event space of the contract.

Every event type of docs/contract.md s3 is drawn (BANT answers, honeypots, fast forms,
free-mail and disposable addresses, scanners and sends, outcomes, erasures, recycling,
visitors), with exact duplicates drawn into the stream, times on a coarse grid (ties), and
windows small enough to overflow. Whole lead states are compared, not only the published
card: a profile field that feeds an alert's contact, a visitor an erasure must reach, a
count beyond the window. Examples: the `core` hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.events import InputEvent, LeadErased
from streams.core import LeadState, ScoringModel, apply, process, score, to_us
from streams.core.apply import apply_event
from streams.core.step import score_update
from streams.tools.score import score_lines
from tests.core_events import BASE, FORM_FIELDS, facts, parsed, raw
from tests.properties import CORE_PROPERTIES, CORE_WINDOW_PROPERTIES

MODEL = ScoringModel.load()
NOW = BASE + timedelta(days=800)  # after every drawn event: none is refused as future
DAY_US = 86_400_000_000

KINDS = (
    "email.opened",
    "email.clicked",
    "signup",
    "social.interaction",
    "form.submitted",
    "lead.verified",
    "lead.outcome",
    "lead.erased",
    "lead.recycled",
    "email.bounced",
    "email.unsubscribed",
    "email.complained",
    "lead.associated",
    "page.viewed",
    "identity.linked",
)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
AGENTS = (None, BROWSER, "Mimecast URL Protect/1.0", "Googlebot/2.1 (+http://www.google.com/bot)")


def _when(draw: st.DrawFn) -> float:
    """Minutes after BASE: a coarse grid (ties, days, a year) plus seconds (bursts)."""
    minutes = draw(st.sampled_from([0, 1, 60, 600, 60 * 24 * 40, 60 * 24 * 400]))
    return minutes + draw(st.integers(0, 20)) / 60


def _sent_at(draw: st.DrawFn, minutes: float) -> dict[str, Any]:
    before = draw(st.sampled_from([None, 0.05, 30.0]))  # scanner-fast, or a person's pace
    if before is None:
        return {}
    return {"sent_at": (BASE + timedelta(minutes=minutes - before)).isoformat()}


def _agent(draw: st.DrawFn) -> dict[str, Any]:
    agent = draw(st.sampled_from(AGENTS))
    return {} if agent is None else {"user_agent": agent}


def _form(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["Jane", "jane", "Zoë", "José"]))
    domain = draw(st.sampled_from(["acme-corp.com", "gmail.com", "mailinator.com", "b-co.io"]))
    doc = {**FORM_FIELDS, "first_name": name, "email": f"{name.lower()}@{domain}"}
    doc["job_title"] = draw(st.sampled_from(["VP Marketing", "Intern", "CEO"]))
    doc["company_size"] = draw(st.sampled_from([5, 250, 5000]))
    doc["honeypot"] = draw(st.sampled_from(["", "", "http://spam.example"]))
    doc["fill_seconds"] = draw(st.sampled_from([0.7, 42.0]))
    if draw(st.booleans()):
        doc["answers"] = {
            "budget": draw(st.sampled_from([0, 5_000, 100_000])),
            "authority": draw(st.sampled_from(["decision_maker", "influencer", "user", "none"])),
            "need": draw(st.sampled_from([[], ["reporting"], ["a", "b"]])),
            "timeline": draw(st.sampled_from(["now", "3_6_months", "gt_12_months", "none"])),
        }
    if draw(st.booleans()):
        doc["account_id"] = draw(st.sampled_from(["acct-1", "acct-2"]))
    return doc


def _extra(draw: st.DrawFn, kind: str, minutes: float) -> dict[str, Any]:
    """The type's own fields, drawn."""
    message = {"message_id": draw(st.sampled_from(["m0", "m1", "m2"]))}
    if kind in ("email.opened", "email.clicked", "email.unsubscribed"):
        return {**message, **_sent_at(draw, minutes), **_agent(draw)}
    if kind == "signup":
        name = draw(st.sampled_from(["Ann", "ann"]))
        return {"email": f"{name.lower()}@acme-corp.com", "first_name": name}
    if kind == "social.interaction":
        return {
            "network": draw(st.sampled_from(["linkedin", "x"])),
            "action": draw(st.sampled_from(["like", "share", "comment", "follow"])),
        }
    if kind == "form.submitted":
        return _form(draw)
    if kind == "lead.verified":
        return {"method": draw(st.sampled_from(["double_opt_in", "sales_call", "manual"]))}
    if kind == "lead.outcome":
        return {"outcome": draw(st.sampled_from(["converted", "disqualified", "lost"]))}
    if kind == "email.bounced":
        return {**message, "bounce_type": draw(st.sampled_from(["hard", "soft"]))}
    if kind == "email.complained":
        return message
    if kind == "lead.associated":
        return {
            "account_id": draw(st.sampled_from(["acct-1", "acct-2"])),
            "company": "Acme",
            "company_size": draw(st.sampled_from([10, 900])),
        }
    if kind == "page.viewed":
        path = draw(st.sampled_from(["/pricing", "/pricing?utm=x", "/blog/a", "/careers"]))
        doc = {"url": f"https://www.acme-corp.com{path}", **_agent(draw)}
        doc["session_id"] = draw(st.sampled_from(["s1", "s2"]))
        if draw(st.booleans()):
            doc["anonymous_id"] = draw(st.sampled_from(["A1", "A2", "A3"]))
        return doc
    if kind == "identity.linked":  # as the visitor's partition forwards it: lead id set
        return {"anonymous_id": draw(st.sampled_from(["A1", "A2", "A3"])), "email": "x@b-co.io"}
    return {}  # lead.erased, lead.recycled


@st.composite
def contract_lines(draw: st.DrawFn, max_events: int = 30, erasures: bool = True) -> list[bytes]:
    """One lead's raw events, every type of the contract, exact duplicates among them."""
    kinds = KINDS if erasures else tuple(k for k in KINDS if k != "lead.erased")
    out = []
    for i in range(draw(st.integers(1, max_events))):
        kind = draw(st.sampled_from(kinds))
        minutes = _when(draw)
        out.append(raw(kind, "L1", minutes, f"e{i}", **_extra(draw, kind, minutes)))
    repeats = draw(st.lists(st.sampled_from(out), max_size=len(out) // 3))
    return out + repeats  # a retry is the same bytes under the same id


def run(events: list[InputEvent]) -> LeadState:
    state = LeadState("L1")
    for e in events:
        process(state, e, MODEL, NOW)
    return state


def card(state: LeadState, later_us: int = 0) -> dict[str, object]:
    as_of = (state.last_event_us or to_us(BASE)) + later_us
    return score(state, MODEL, as_of).published()


def shuffled(events: list[InputEvent], rnd: Any) -> list[InputEvent]:
    out = list(events)
    rnd.shuffle(out)
    return out


# --- guarantee 3: the same set of events, the same lead, in any order ----------------


@CORE_PROPERTIES
@given(contract_lines(), st.randoms())
def test_any_order_gives_the_same_whole_state(batch: list[bytes], rnd: Any) -> None:
    events = parsed(batch)
    a, b = run(events), run(shuffled(events, rnd))
    assert facts(a) == facts(b), "another order of the same events left another state"
    assert card(a) == card(b)


@CORE_WINDOW_PROPERTIES
@given(contract_lines(max_events=40), st.randoms(), st.integers(1, 10))
def test_any_order_gives_the_same_state_when_the_window_overflows(
    batch: list[bytes], rnd: Any, window: int
) -> None:
    """Windows of 1-10 records stand for the 1,000 (the same code, one constant): events
    evicted and events older than a full window (stale), with erasures between them.
    No retries here: one of an event already evicted is counted again (guarantee 2 covers
    the window), so only distinct events make the same state in any order."""
    events = list({e.event_id: e for e in parsed(batch)}.values())
    with patch.object(apply, "DEDUPE_WINDOW", window):
        a, a_uncertain = _run_noting_uncertain_erasures(events)
        b, b_uncertain = _run_noting_uncertain_erasures(shuffled(events, rnd))
    if not (a_uncertain or b_uncertain):
        assert facts(a) == facts(b), "evictions and erasures depended on the order"
        assert card(a) == card(b)
        return
    # An erasure dated among events already counted beyond the window cannot tell which of
    # them came after it; it forgets them all (docs/contract.md). Everything else agrees,
    # and such an order counts no more than another.
    assert facts(_uncounted(a)) == facts(_uncounted(b))
    if a_uncertain != b_uncertain:
        unsure, sure = (a, b) if a_uncertain else (b, a)
        assert unsure.events_counted <= sure.events_counted


def _run_noting_uncertain_erasures(events: list[InputEvent]) -> tuple[LeadState, bool]:
    state, uncertain = LeadState("L1"), False
    for e in events:
        if isinstance(e, LeadErased) and state.evicted and state.evicted_from is not None:
            cut = max(to_us(e.occurred_at), state.erased_at or 0)
            oldest = state.records.oldest()
            uncertain |= state.evicted_from <= cut < (oldest[0] if oldest else cut + 1)
        process(state, e, MODEL, NOW)
    return state, uncertain


def _uncounted(state: LeadState) -> LeadState:
    return replace(state, evicted=0, evicted_from=None)


# --- guarantee 2: a retry changes nothing ---------------------------------------------


@CORE_PROPERTIES
@given(contract_lines(), st.randoms())
def test_every_event_again_changes_nothing(batch: list[bytes], rnd: Any) -> None:
    events = parsed(batch)
    state = run(events)
    shown = card(state)  # scoring brings the engagement sums up to date: before the facts
    before = facts(state)
    outcomes = {apply_event(state, e, MODEL) for e in shuffled(events, rnd)}
    assert outcomes <= {"duplicate", "ignored_erased"}, outcomes
    assert facts(state) == before and card(state) == shown


# --- guarantee 6: an erasure forgets all it dates, whenever it comes ------------------


@CORE_PROPERTIES
@given(contract_lines(erasures=False), st.integers(0, 40), st.randoms())
def test_an_erasure_leaves_what_the_events_after_it_alone_leave(
    batch: list[bytes], at: int, rnd: Any
) -> None:
    """Erasing at time T, at any point of the stream, leaves the state built from the
    events dated after T alone (and the marker): nothing dated at or before T survives,
    and a visitor named only before T is no longer one the lead's erasure must reach."""
    events = parsed(batch)
    times = sorted({to_us(e.occurred_at) for e in events})
    cut_us = times[at % len(times)]
    erasure = parsed([raw("lead.erased", "L1", (cut_us - to_us(BASE)) / 60e6, "x")])[0]
    mixed = shuffled([*events, erasure], rnd)
    after = [e for e in events if to_us(e.occurred_at) > cut_us]
    erased, expected = run(mixed), run([erasure, *after])
    assert facts(erased) == facts(expected)
    assert all(s.occurred_at_us > cut_us for s in erased.profile.values())
    assert all(t > cut_us for t in erased.signals.values())
    assert all(r.at > cut_us for r in erased.records)
    if not after:
        assert erased.is_marker_only and erased.visitors == {}


@CORE_PROPERTIES
@given(contract_lines(), st.randoms())
def test_each_erasure_reaches_every_visitor_the_lead_knew(batch: list[bytes], rnd: Any) -> None:
    """The visitors an erasure tells to forget are all those linked before it, whatever
    was erased earlier (guarantee 6 reaches views held on the visitors' partitions)."""
    state = LeadState("L1")
    for e in shuffled(parsed(batch), rnd):
        known = set(state.visitors)
        step = process(state, e, MODEL, NOW)
        if step.tombstone:
            assert set(step.forget) == known
        assert all(at > (state.erased_at or -1) for at in state.visitors.values())


# --- bounds and the offline scorer ----------------------------------------------------


@CORE_PROPERTIES
@given(contract_lines(), st.integers(0, 800 * DAY_US))
def test_scores_stay_within_their_bounds(batch: list[bytes], later: int) -> None:
    state = run(parsed(batch))
    for published in (card(state), card(state, later)):
        for name in ("score", "fit", "engagement"):
            assert 0 <= published[name] <= 100, (name, published)
        assert 0 < published["validity"] <= 1  # type: ignore[operator]


@CORE_PROPERTIES
@given(contract_lines(), st.randoms())
def test_the_offline_scorer_builds_the_same_lead(batch: list[bytes], rnd: Any) -> None:
    """score_lines (the file scorer marketing ops calibrate with) in another order: the
    same state and the same final score message, unless the lead ends erased."""
    offline = score_lines(shuffled(batch, rnd), MODEL, NOW)
    direct = run(parsed(batch))
    assert facts(offline.states["L1"]) == facts(direct)
    finals = {s.lead_id: s for s in offline.final_scores()}
    if "L1" in finals:
        got = finals["L1"].model_dump(mode="json", exclude={"updated_at", "cause_event_id"})
        want = score_update("L1", score(direct, MODEL), None, NOW)
        assert got == want.model_dump(mode="json", exclude={"updated_at", "cause_event_id"})
    else:
        assert direct.erased_at is not None and direct.is_marker_only


@pytest.mark.parametrize(
    ("erased_at_minute", "counted"),
    [
        (-1, 12),  # before every event: all 12 stay counted, 3 of them beyond the window
        (5, 6),  # among the kept records: those after it (6) are kept, none beyond
        (1, 9),  # among the evicted (0-2): which came after it is not known; none counted
    ],
)
def test_an_erasure_late_for_a_full_window(erased_at_minute: int, counted: int) -> None:
    """Twelve events one minute apart through a window of 9, then the erasure. Erased
    first, the two exact cases count the same (the third is the documented limit)."""
    events = parsed(
        [raw("social.interaction", "L1", m, f"s{m}", network="x", action="like") for m in range(12)]
    )
    erasure = parsed([raw("lead.erased", "L1", erased_at_minute, "x")])[0]
    with patch.object(apply, "DEDUPE_WINDOW", 9):
        late, first = run([*events, erasure]), run([erasure, *events])
    assert late.events_counted == counted
    if erased_at_minute != 1:
        assert facts(late) == facts(first)
    else:
        assert first.events_counted == 10 and late.evicted_from is None
