"""Web visits (docs/contract.md s6): page rules, per-session repeats, crawlers, and identity
stitching through the visitors' table, on the pure core and the in-memory pipeline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import parse_event
from schemas.events import InputEvent
from schemas.topics import TOPIC_OF_TYPE
from streams.core import LeadState, ScoringModel, process, score
from streams.core.pages import page_of
from streams.core.visitors import VisitorState, expire, forget, visit
from streams.kafka.partitioning import partition_for
from streams.testing import FakeMessage, MemoryStore, forward_internal, memory_pipeline
from tests.core_events import BASE, form

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
SITE = "https://www.acme-corp.com"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def view_doc(
    eid: str,
    path: str,
    minutes: float = 0,
    lead: str | None = "L1",
    anon: str | None = None,
    session: str | None = "s1",
    agent: str = BROWSER,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": eid,
        "type": "page.viewed",
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        "url": path if path.startswith("http") else f"{SITE}{path}",
        "user_agent": agent,
    }
    for name, value in (("lead_id", lead), ("anonymous_id", anon), ("session_id", session)):
        if value is not None:
            doc[name] = value
    return doc


def link_doc(eid: str = "k1", minutes: float = 300, anon: str = "A1") -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": "identity.linked",
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        "anonymous_id": anon,
        "lead_id": "L1",
        "first_name": "Jane",
    }


def parsed(doc: dict[str, Any]) -> InputEvent:
    return parse_event(orjson.dumps(doc), TOPIC_OF_TYPE[doc["type"]])


def engagement_of(*docs: dict[str, Any]) -> int:
    state = LeadState("L1")
    for doc in docs:
        process(state, parsed(doc), MODEL, NOW)
    return score(state, MODEL).engagement


# --- page rules, repeats and crawlers ---------------------------------------------------


def test_page_kinds_come_from_the_ordered_rules() -> None:
    kinds = {
        "/pricing": "pricing",
        "/pricing/enterprise?utm_source=mail#table": "pricing",
        "/demo": "demo",
        "/contact-sales": "contact",
        "/features/alerts": "product",
        "/docs/api": "docs",
        "https://docs.acme-corp.com/start": "docs",
        "/blog/why-scores": "blog",
        "/careers": "careers",
        "https://jobs.acme-corp.com/pricing": "careers",  # the first matching rule wins
        "/about": "other",
        "/": "other",
    }
    for url, kind in kinds.items():
        page = page_of(url if url.startswith("http") else f"{SITE}{url}")
        assert MODEL.page_kind(page.host, page.path) == kind, url


def test_a_pricing_view_raises_engagement_more_than_a_blog_view_and_careers_lowers_it() -> None:
    base = [form(eid="f").model_dump(mode="json")]
    plain = engagement_of(*base)
    pricing = engagement_of(*base, view_doc("p", "/pricing", 10))
    blog = engagement_of(*base, view_doc("b", "/blog/x", 10))
    careers = engagement_of(*base, view_doc("c", "/careers", 10))
    assert pricing > blog > plain > careers


def test_a_reload_storm_counts_once_per_session_and_a_new_session_counts_again() -> None:
    once = engagement_of(view_doc("p0", "/pricing", 0))
    storm = engagement_of(*(view_doc(f"p{i}", "/pricing?r=" + str(i), i) for i in range(20)))
    later = engagement_of(
        view_doc("p0", "/pricing", 0), view_doc("p1", "/pricing", 5, session="s2")
    )
    assert storm == once
    assert later > once


def test_repeats_are_judged_the_same_in_any_order_and_after_eviction_of_the_first() -> None:
    docs = [view_doc(f"p{i}", "/pricing", i * 7) for i in range(6)]  # 7 min apart: a chain
    forward, backward = LeadState("L1"), LeadState("L1")
    for doc in docs:
        process(forward, parsed(doc), MODEL, NOW)
    for doc in reversed(docs):
        process(backward, parsed(doc), MODEL, NOW)
    assert forward.records == backward.records and forward.tally == backward.tally


def test_a_crawler_earns_nothing_and_is_counted_as_machine_engagement() -> None:
    state = LeadState("L1")
    step = process(state, parsed(view_doc("g", "/pricing", agent=GOOGLEBOT)), MODEL, NOW)
    card = score(state, MODEL)
    assert step.machine == "crawler"
    assert card.engagement == 0 and card.machine_events == 1 and card.events_counted == 1


# --- the visitor's core -------------------------------------------------------------------


def test_held_views_are_bounded_to_the_newest_and_expire_by_age() -> None:
    state = VisitorState("A1")
    for i in range(5):
        result = visit(state, parsed(view_doc(f"v{i}", "/pricing", i, lead=None, anon="A1")), 3)
    assert result.dropped == 1 and [v.at for v in state.views] == sorted(v.at for v in state.views)
    assert len(state.views) == 3
    newest = state.views[-1].at
    dropped, gone = expire(state, newest + 10, 20)
    assert (dropped, gone) == (2, False)  # the newest view stays, and the visitor with it
    dropped, gone = expire(state, newest + 10**9, 5)
    assert (dropped, gone) == (1, True)


def test_a_link_forwards_held_views_and_later_views_go_straight_to_the_lead() -> None:
    state = VisitorState("A1")
    visit(state, parsed(view_doc("v1", "/pricing", 1, lead=None, anon="A1")), 200)
    linked = visit(state, parsed(link_doc()), 200)
    later = visit(state, parsed(view_doc("v2", "/demo", 400, lead=None, anon="A1")), 200)
    assert linked.outcome == "linked" and later.outcome == "forwarded"
    forwarded = [orjson.loads(value) for _, value in [*linked.forward, *later.forward]]
    assert {(d["type"], d["event_id"], d["lead_id"]) for d in forwarded} == {
        ("identity.linked", "k1", "L1"),
        ("page.viewed", "v1", "L1"),
        ("page.viewed", "v2", "L1"),
    }
    # The naming link delivered again forwards everything again (its forwards may be lost).
    again = visit(state, parsed(link_doc()), 200)
    assert again.outcome == "duplicate" and len(again.forward) == 2


def test_a_second_lead_cannot_take_a_linked_visitors_views() -> None:
    state = VisitorState("A1")
    visit(state, parsed(view_doc("v1", "/pricing", 1, lead=None, anon="A1")), 200)
    visit(state, parsed(link_doc()), 200)
    other = visit(state, parsed({**link_doc("k2"), "lead_id": "L2"}), 200)
    assert other.outcome == "conflict"
    assert [orjson.loads(v)["type"] for _, v in other.forward] == ["identity.linked"]
    assert state.lead_id == "L1"


def test_forget_drops_the_erased_leads_views_and_link_only() -> None:
    state = VisitorState("A1")
    visit(state, parsed(view_doc("v1", "/pricing", 1, lead=None, anon="A1")), 200)
    visit(state, parsed(link_doc()), 200)
    assert forget(state, "L2", 10**18) == 0 and state.lead_id == "L1"
    assert forget(state, "L1", 10**18) == 1
    assert state.views == [] and state.lead_id is None
    assert VisitorState.from_bytes(state.to_bytes()) == state


# --- stitching through the pipeline ---------------------------------------------------------


def deliver(docs: list[dict[str, Any]]) -> tuple[Any, MemoryStore, list[Any]]:
    """Each doc as its producer would send it on leads.web (keyed as the contract says),
    then every internal forward, as the broker would deliver them."""
    pipe, sent, store = memory_pipeline()
    for offset, doc in enumerate(docs):
        key = doc.get("lead_id") if doc["type"] == "page.viewed" else None
        key = key or doc["anonymous_id"]
        msg = FakeMessage(
            "p.leads.web", partition_for(key, 6), offset, key.encode(), orjson.dumps(doc)
        )
        pipe.handle(msg)
    forward_internal(pipe, sent)
    return pipe, store, sent


def lead_card(store: MemoryStore) -> Any:
    state = LeadState.from_bytes(store["L1"])
    return score(state, MODEL), state


ANON_VIEWS = [
    view_doc("v1", "/pricing", 10, lead=None, anon="A1"),
    view_doc("v2", "/pricing", 12, lead=None, anon="A1"),  # a reload: once
    view_doc("v3", "/demo", 20, lead=None, anon="A1"),
    view_doc("v4", "/careers", 30, lead=None, anon="A1", session="s2"),
]


@settings(max_examples=40, deadline=None)
@given(st.permutations([*ANON_VIEWS, link_doc()]), st.integers(0, 4))
def test_stitched_views_score_as_if_the_lead_had_them_all_along(
    order: list[dict[str, Any]], again: int
) -> None:
    docs = [*order, order[again]]  # a re-send among them
    _, store, _ = deliver(docs)
    card, state = lead_card(store)
    direct = [{**d, "lead_id": "L1"} for d in ANON_VIEWS]
    _, known, _ = deliver([*direct, link_doc()])
    expected, expected_state = lead_card(known)
    assert card == expected
    assert state.records == expected_state.records and state.profile == expected_state.profile
    assert list(state.visitors) == ["A1"]


def test_erasure_reaches_the_visitors_held_views() -> None:
    erased = {
        "event_id": "x1",
        "lead_id": "L1",
        "type": "lead.erased",
        "occurred_at": (BASE + timedelta(days=1)).isoformat(),
    }
    pipe, store, sent = deliver([*ANON_VIEWS, link_doc()])
    assert VisitorState.from_bytes(pipe.visitor_store["A1"]).views
    key = b"L1"
    raw = orjson.dumps(erased)
    start = len(sent)
    pipe.handle(FakeMessage("p.leads.lifecycle", partition_for("L1", 6), 99, key, raw))
    forward_internal(pipe, sent, start)
    visitor = VisitorState.from_bytes(pipe.visitor_store["A1"])
    assert visitor.views == [] and visitor.lead_id is None
    assert LeadState.from_bytes(store["L1"]).is_marker_only
    # A late forward of an old view cannot bring the lead back.
    late = {**ANON_VIEWS[0], "lead_id": "L1"}
    pipe.handle(FakeMessage("p.leads.web", partition_for("L1", 6), 100, key, orjson.dumps(late)))
    assert LeadState.from_bytes(store["L1"]).is_marker_only


def test_a_mail_gateway_rendering_a_scanned_link_earns_nothing() -> None:
    state = LeadState("L1")
    gateway = "Mozilla/5.0 (compatible; Barracuda Sentinel link protection)"
    step = process(state, parsed(view_doc("g", "/pricing", agent=gateway)), MODEL, NOW)
    assert step.machine in ("scanner_agent", "crawler")
    assert score(state, MODEL).engagement == 0
