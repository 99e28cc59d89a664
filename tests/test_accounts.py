"""Accounts (streams/core/accounts.py): which account a lead is in, the contributions its
steps send, how an account keeps them (any order, duplicates, removals), its alerts, and
the same final account scores offline (score_lines) and through the worker's pipeline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.codec import parse_event
from schemas.events import InputEvent, routing_key
from schemas.outputs import ACCOUNT_STATE_FIELDS, AccountScore, ScoreUpdate
from streams.core.accounts import (
    AccountCard,
    AccountState,
    Contribution,
    Version,
    account_alert_id,
    account_card,
    account_of,
    business_domain,
    contribute,
    merge,
)
from streams.core.apply import to_us
from streams.core.model import BUYING_ROLES, ModelError, ScoringModel
from streams.core.scoring import score
from streams.core.state import LeadState, Position
from streams.core.step import Step, process, rescore
from streams.kafka.partitioning import partition_for
from streams.testing import PARTITIONS, FakeMessage, forward_internal, memory_pipeline
from streams.tools.score import OfflineRun, score_lines, topic_for
from tests.core_events import BASE, FORM_FIELDS, ev, form, raw

MODEL = ScoringModel.load()
NOW = datetime(2026, 11, 27, tzinfo=UTC)
MQA = MODEL.accounts.thresholds.levels["mqa"]
HYSTERESIS = MODEL.accounts.thresholds.hysteresis
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def model_text() -> str:
    return resources.files("streams.core").joinpath("default_model.yaml").read_text()


def model_with(**accounts: Any) -> ScoringModel:
    """The default model with its `accounts:` section changed (validated as a file is)."""
    data = yaml.safe_load(model_text())
    data["accounts"] = {**data["accounts"], **accounts}
    data["model_version"] = "accounts-test"
    return ScoringModel.parse_text(yaml.safe_dump(data), "accounts-test.yaml")


def steps_of(
    events: list[InputEvent], lead: str = "L1", model: ScoringModel = MODEL
) -> tuple[LeadState, list[Step]]:
    state = LeadState(lead)
    return state, [process(state, e, model, NOW) for e in events]


def all_contributions(steps: list[Step]) -> list[Contribution]:
    return [c for s in steps for c in s.contributions]


# --- the lead's account (account_of), through real events -----------------------------


@pytest.mark.parametrize(
    ("email", "account"),
    [
        ("jane.doe@acme-corp.com", "acme-corp.com"),
        ("ann@mail.acme.co.uk", "acme.co.uk"),
        ("ann@eu.sales.globex.com.au", "globex.com.au"),
        ("Ann@MAIL.Acme.CO.UK", "acme.co.uk"),
        ("ann@mail.bücher.de", "xn--bcher-kva.de"),  # an IDN: its punycode form
        ("ann@xn--bcher-kva.de", "xn--bcher-kva.de"),  # the same account, however written
        ("ann@foo.github.io", "foo.github.io"),  # the list's private section counts
        ("ann@mail.acme.internal", "acme.internal"),  # a TLD the list does not know
    ],
)
def test_a_business_email_forms_the_account_of_its_registrable_domain(
    email: str, account: str
) -> None:
    state, (step,) = steps_of([form(eid="f", email=email)])
    assert account_of(state) == account
    assert step.score is not None and step.score.account_id == account
    assert [c.account_id for c in step.contributions] == [account]


@pytest.mark.parametrize(
    "email",
    [
        "jane@gmail.com",
        "jane@yahoo.com",
        "jane@mail.gmail.com",
        "x@mailinator.com",
        "x@guerrillamail.com",  # disposable only (not on the free-mail list)
        "x@eu.10minutemail.com",
    ],
)
def test_free_mail_and_disposable_addresses_form_no_account(email: str) -> None:
    state, (step,) = steps_of([form(eid="f", email=email)])
    assert account_of(state) is None
    assert step.score is not None and step.score.account_id is None
    assert step.contributions == []


def test_business_domain_refuses_free_mail_disposable_and_public_suffixes() -> None:
    assert business_domain("mail.acme.co.uk") == "acme.co.uk"
    assert business_domain("acme-corp.com") == "acme-corp.com"
    free = ("gmail.com", "googlemail.com", "mailinator.com", "mx.mailinator.com")
    for domain in (*free, "guerrillamail.com", "sharklasers.com", "mx.10minutemail.com"):
        assert business_domain(domain) is None, domain
    for suffix in ("co.uk", "com", "com.au"):
        assert business_domain(suffix) is None, suffix


def test_an_associated_account_id_wins_over_the_email_domain() -> None:
    events = [
        form(eid="f", minutes=0),
        ev("lead.associated", minutes=5, eid="a", account_id="crm-acme-1"),
        # A later business email does not move the lead: the explicit id wins.
        form(eid="f2", minutes=10, email="jane@globex.com"),
    ]
    state, steps = steps_of(events)
    assert account_of(state) == "crm-acme-1"
    assert steps[-1].score is not None and steps[-1].score.account_id == "crm-acme-1"


def test_a_forms_account_id_wins_over_the_email_domain() -> None:
    state, (step,) = steps_of([form(eid="f", account_id="crm-7")])
    assert account_of(state) == "crm-7"
    assert step.score is not None and step.score.account_id == "crm-7"
    assert [c.account_id for c in step.contributions] == ["crm-7"]


def test_explicit_account_ids_are_last_writer_wins_by_occurred_at_in_any_order() -> None:
    early = form(eid="f", minutes=5, account_id="crm-initech")
    late = ev("lead.associated", minutes=10, eid="a", account_id="crm-globex")
    for order in ([early, late], [late, early]):
        state, _ = steps_of(order)
        assert account_of(state) == "crm-globex"
    state, _ = steps_of([early, late, form(eid="f3", minutes=20, account_id="crm-initech")])
    assert account_of(state) == "crm-initech"


def test_a_later_free_mail_address_leaves_the_account() -> None:
    events = [form(eid="f", minutes=0), ev("signup", minutes=10, eid="s", email="jane@gmail.com")]
    state, steps = steps_of(events)
    assert account_of(state) is None
    assert steps[-1].score is not None and steps[-1].score.account_id is None
    (removal,) = steps[-1].contributions
    assert removal.removed and removal.account_id == "acme-corp.com"


def test_an_erased_lead_has_no_account() -> None:
    events = [
        form(eid="f"),
        ev("lead.associated", minutes=1, eid="a", account_id="crm-1"),
        ev("lead.erased", minutes=10, eid="x"),
    ]
    state, steps = steps_of(events)
    assert state.is_marker_only and account_of(state) is None
    assert steps[-1].tombstone and steps[-1].score is None


# --- buying roles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "authority", "role"),
    [
        ("CEO", None, "decision_maker"),  # executive
        ("VP Marketing", None, "decision_maker"),  # vp_director
        ("Engineering Manager", None, "influencer"),  # manager
        ("Software Engineer", None, "user"),  # individual
        ("Janitor", None, None),  # no seniority
        (None, None, None),  # no title
        ("CEO", "user", "user"),  # the BANT answer wins
        ("Software Engineer", "decision_maker", "decision_maker"),
        ("Janitor", "influencer", "influencer"),
        (None, "user", "user"),
        ("CEO", "none", "decision_maker"),  # `none` counts as no answer
        ("Janitor", "none", None),
    ],
)
def test_the_buying_role_is_the_authority_answer_else_the_titles_seniority(
    title: str | None, authority: str | None, role: str | None
) -> None:
    answers = None if authority is None else {"authority": authority}
    _, (step,) = steps_of([form(eid="f", job_title=title, answers=answers)])
    (contribution,) = step.contributions
    assert contribution.role == role


def test_seniority_roles_come_from_the_model() -> None:
    model = model_with(seniority_roles={"executive": "influencer"})
    _, (ceo,) = steps_of([form(eid="f", job_title="CEO")], model=model)
    _, (vp,) = steps_of([form(eid="f", job_title="VP Marketing")], model=model)
    assert ceo.contributions[0].role == "influencer"
    assert vp.contributions[0].role is None  # vp_director is not mapped in this model
    none = model_with(seniority_roles={})
    _, (ceo,) = steps_of([form(eid="f", job_title="CEO")], model=none)
    assert ceo.contributions[0].role is None
    # A model file without an `accounts:` section maps no seniority either.
    data = yaml.safe_load(model_text())
    del data["accounts"]
    bare = ScoringModel.parse_text(yaml.safe_dump(data), "bare.yaml")
    _, (ceo,) = steps_of([form(eid="f", job_title="CEO")], model=bare)
    assert ceo.contributions[0].role is None
    _, (bant,) = steps_of([form(eid="f", answers={"authority": "user"})], model=bare)
    assert bant.contributions[0].role == "user"


# --- contributions from a lead's steps ----------------------------------------------------


def test_a_score_change_sends_the_lead_contribution_to_its_account() -> None:
    first = form(eid="f", answers={"authority": "influencer"})
    click = ev("email.clicked", minutes=30, eid="c", message_id="m1")
    _, (s1, s2) = steps_of([first, click])
    for step, event, events in ((s1, first, 1), (s2, click, 2)):
        (c,) = step.contributions
        update = step.score
        assert update is not None
        assert c.account_id == "acme-corp.com" and c.lead_id == "L1" and not c.removed
        assert (c.fit, c.engagement, c.score, c.validity, c.stage) == (
            update.fit,
            update.engagement,
            update.score,
            update.validity,
            update.stage,
        )
        assert c.role == "influencer"
        assert c.occurred_us == to_us(event.occurred_at)
        assert c.version.events == events and c.version.erased_at == 0
    assert s2.contributions[0].version > s1.contributions[0].version
    assert s2.contributions[0].engagement > s1.contributions[0].engagement


def test_a_duplicate_event_sends_no_contribution() -> None:
    f = form(eid="f")
    state, (first,) = steps_of([f])
    assert first.contributions
    again = process(state, f, MODEL, NOW)
    assert again.outcome == "duplicate" and again.contributions == []


def test_reassociation_removes_the_lead_from_its_old_account_and_adds_it_to_the_new() -> None:
    events = [
        form(eid="f"),
        ev("lead.associated", minutes=5, eid="a1", account_id="crm-globex"),
        ev("lead.associated", minutes=9, eid="a2", account_id="crm-initech"),
    ]
    _, (s1, s2, s3) = steps_of(events)
    removal, added = s2.contributions
    assert (removal.account_id, removal.removed) == ("acme-corp.com", True)
    assert (added.account_id, added.removed) == ("crm-globex", False)
    assert removal.version == added.version > s1.contributions[0].version
    removal, added = s3.contributions
    assert (removal.account_id, removal.removed) == ("crm-globex", True)
    assert (added.account_id, added.removed) == ("crm-initech", False)
    assert added.version > s2.contributions[0].version


def test_erasure_sends_a_removal_to_the_leads_account() -> None:
    erased = ev("lead.erased", minutes=10, eid="x")
    _, (s1, s2, s3) = steps_of(
        [form(eid="f"), ev("email.clicked", minutes=5, eid="c", message_id="m"), erased]
    )
    (removal,) = s3.contributions
    assert removal.removed and removal.account_id == "acme-corp.com" and removal.lead_id == "L1"
    assert removal.version.erased_at == to_us(erased.occurred_at)
    assert removal.version > s2.contributions[0].version > s1.contributions[0].version
    # Nothing about the person travels with the removal.
    assert (removal.fit, removal.engagement, removal.score, removal.role) == (0, 0, 0, None)


async def test_an_erased_state_is_written_once_its_removal_is_acknowledged() -> None:
    """at_least_once: the local store is written at once, so a crash could keep the erased
    marker and lose the removal buffered before it; the replayed erasure, a duplicate, no
    longer knows the account. The marker (and any later write) waits for the flush."""
    flushed_at: list[int] = []

    async def flush() -> None:
        flushed_at.append(len(sent))

    pipe, sent, store = memory_pipeline(MODEL, flush=flush)
    lines = [
        raw("form.submitted", minutes=0, eid="f", **FORM_FIELDS),
        raw("lead.erased", minutes=10, eid="x"),
    ]
    for offset, line in enumerate(lines):
        topic = topic_for(line)
        pipe.handle(FakeMessage(f"p.{topic}", partition_for("L1", PARTITIONS), offset, b"L1", line))
        if offset == 0:
            joined = store["L1"]
            await pipe.settle()
            assert flushed_at == [], "a state with nothing it cannot send again is not held"
    assert store["L1"] == joined, "the marker was written before its removal was acknowledged"
    assert pipe.load("L1").erased_at is not None, "reads see the held state"
    removals = [
        m
        for m in sent
        if m.topic == "p.accounts.contributions" and b'"removed":true' in (m.value or b"")
    ]
    assert len(removals) == 1
    await pipe.settle()
    assert flushed_at == [len(sent)], "one flush, after every output of the erasure"
    assert LeadState.from_bytes(store["L1"]).erased_at is not None


def test_erasing_a_lead_without_an_account_sends_nothing() -> None:
    _, steps = steps_of([form(eid="f", email="jane@gmail.com"), ev("lead.erased", minutes=5)])
    assert all_contributions(steps) == []


def test_a_lead_back_after_its_erasure_rejoins_its_account_with_a_newer_version() -> None:
    events = [form(eid="f"), ev("lead.erased", minutes=10, eid="x"), form(eid="f2", minutes=20)]
    _, (s1, s2, s3) = steps_of(events)
    (removal,) = s2.contributions
    (back,) = s3.contributions
    assert back.account_id == "acme-corp.com" and not back.removed
    assert back.version > removal.version > s1.contributions[0].version
    account = AccountState("acme-corp.com")
    for c in (s1.contributions[0], removal, back):
        assert contribute(account, c, MODEL, NOW).outcome == "applied"
    assert set(account.members) == {"L1"} and account.people == 1


def test_a_redelivered_reassociation_resends_its_removal_too() -> None:
    state = LeadState("L1")
    process(state, form(eid="f"), MODEL, NOW, Position("p.leads.forms", 0, 1))
    at = Position("p.leads.lifecycle", 0, 5)
    move = ev("lead.associated", minutes=5, eid="a", account_id="crm-globex")
    first = process(state, move, MODEL, NOW, at)
    assert [(c.account_id, c.removed) for c in first.contributions] == [
        ("acme-corp.com", True),
        ("crm-globex", False),
    ]
    again = process(state, move, MODEL, NOW, at)
    assert again.republish and again.contributions == first.contributions
    # Its next event clears that: a later redelivery of the move re-sends nothing.
    process(state, ev("email.opened", minutes=9, eid="o"), MODEL, NOW, Position("o", 0, 6))
    assert process(state, move, MODEL, NOW, at).contributions == []


def test_a_redelivered_event_resends_the_same_contribution_and_a_resend_none() -> None:
    f = form(eid="f")
    state = LeadState("L1")
    at = Position("p.leads.forms", 0, 7)
    first = process(state, f, MODEL, NOW, at)
    again = process(state, f, MODEL, NOW, at)
    assert again.outcome == "duplicate" and again.republish
    assert again.contributions == first.contributions
    resent = process(state, f, MODEL, NOW, Position("p.leads.forms", 0, 8))
    assert resent.contributions == [] and not resent.republish
    account = AccountState("acme-corp.com")
    assert contribute(account, first.contributions[0], MODEL, NOW).outcome == "applied"
    assert contribute(account, again.contributions[0], MODEL, NOW).outcome == "duplicate"


EMAILS = ["jane@acme-corp.com", "jane@mail.globex.co.uk", "jane@gmail.com", "x@guerrillamail.com"]


@st.composite
def lead_events(draw: st.DrawFn) -> list[InputEvent]:
    """One lead's events: emails of several accounts, associations, erasures, engagement."""
    out: list[InputEvent] = []
    for i in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["form", "signup", "associated", "click", "open", "erased"]))
        minutes = draw(st.integers(0, 60 * 24 * 30))
        eid = f"e{i}"
        if kind == "form":
            title = draw(st.sampled_from(["CEO", "Engineering Manager", "Software Engineer"]))
            account = draw(st.sampled_from([None, None, "crm-1"]))
            email = draw(st.sampled_from(EMAILS))
            out.append(
                form(eid=eid, minutes=minutes, email=email, job_title=title, account_id=account)
            )
        elif kind == "signup":
            out.append(ev("signup", minutes=minutes, eid=eid, email=draw(st.sampled_from(EMAILS))))
        elif kind == "associated":
            account = draw(st.sampled_from(["crm-1", "crm-2"]))
            out.append(ev("lead.associated", minutes=minutes, eid=eid, account_id=account))
        elif kind == "erased":
            out.append(ev("lead.erased", minutes=minutes, eid=eid))
        else:
            kind = "email.clicked" if kind == "click" else "email.opened"
            out.append(ev(kind, minutes=minutes, eid=eid, message_id=f"m{i % 3}"))
    return out


@FAST
@given(lead_events())
def test_contribution_versions_strictly_increase_and_the_latest_is_the_final_state(
    events: list[InputEvent],
) -> None:
    state, steps = steps_of(events)
    last: Version | None = None
    latest: dict[str, Contribution] = {}
    for step in steps:
        if not step.contributions:
            continue
        versions = {c.version for c in step.contributions}
        assert len(versions) == 1, "one step's contributions share its version"
        (version,) = versions
        assert last is None or version > last, "versions must strictly increase"
        last = version
        assert sum(not c.removed for c in step.contributions) <= 1
        assert sum(c.removed for c in step.contributions) <= 1
        assert len({c.account_id for c in step.contributions}) == len(step.contributions)
        for c in step.contributions:
            assert Contribution.from_json(c.to_json()) == c
            latest[c.account_id] = c
    # What each account last heard from the lead is what the lead is now.
    final = None if state.is_marker_only else account_of(state)
    for account, c in latest.items():
        if account != final:
            assert c.removed, f"{account} still counts the lead, now in {final}"
            continue
        card = score(state, MODEL)
        assert not c.removed
        assert (c.fit, c.engagement, c.score, c.validity, c.stage) == (
            card.fit,
            card.engagement,
            card.score,
            card.validity,
            card.stage,
        )
    if final is not None:
        assert final in latest, "the lead's account never heard from it"


# --- the account's side: any order, duplicates, removals ------------------------------------

ACCOUNT = "acme-corp.com"
LEADS = [f"L{i}" for i in range(7)]
STAGES = ["new", "engaged", "mql", "sql", "converted", "disqualified"]


@st.composite
def contribution_of(draw: st.DrawFn, lead: str, version: Version) -> Contribution:
    if draw(st.integers(0, 3)) == 0:
        return Contribution(lead, ACCOUNT, version, removed=True)
    return Contribution(
        lead_id=lead,
        account_id=ACCOUNT,
        version=version,
        fit=draw(st.integers(0, 100)),
        engagement=draw(st.integers(0, 100)),
        score=draw(st.integers(0, 100)),
        validity=draw(st.sampled_from([0.03, 0.3, 0.595, 0.85, 1.0])),
        stage=draw(st.sampled_from(STAGES)),
        role=draw(st.sampled_from([None, *BUYING_ROLES])),
        occurred_us=to_us(BASE) + draw(st.integers(0, 10**12)),
    )


@st.composite
def contribution_sets(draw: st.DrawFn, leads: list[str] = LEADS) -> list[Contribution]:
    """Several leads' contributions, several versions each (one content per version)."""
    out = []
    some = st.lists(st.sampled_from(leads), min_size=1, max_size=len(leads), unique=True)
    for lead in draw(some):
        parts = st.tuples(st.integers(0, 2), st.integers(0, 4), st.integers(0, 4))
        for v in draw(st.lists(parts, min_size=1, max_size=4, unique=True)):
            out.append(draw(contribution_of(lead, Version(*v))))
    return out


@st.composite
def deliveries(
    draw: st.DrawFn, leads: list[str] = LEADS
) -> tuple[list[Contribution], list[Contribution]]:
    """A set of contributions, and its delivery: any order, some delivered again."""
    cs = draw(contribution_sets(leads))
    again = draw(st.lists(st.sampled_from(cs), max_size=6))
    return cs, draw(st.permutations([*cs, *again]))


def latest_only(cs: list[Contribution], model: ScoringModel = MODEL) -> AccountState:
    latest: dict[str, Contribution] = {}
    for c in cs:
        if c.lead_id not in latest or c.version > latest[c.lead_id].version:
            latest[c.lead_id] = c
    state = AccountState(ACCOUNT)
    for lead in sorted(latest):
        contribute(state, latest[lead], model, NOW)
    return state


def deliver(sequence: list[Contribution], model: ScoringModel = MODEL) -> AccountState:
    state = AccountState(ACCOUNT)
    for i, c in enumerate(sequence):
        contribute(state, c, model, NOW, Position("p.accounts.contributions", 0, i))
    return state


def in_bounds(card: AccountCard) -> bool:
    return 0 <= card.score <= 100 and 0 <= card.fit <= 100 and 0 <= card.engagement <= 100


@FAST
@given(deliveries())
def test_any_order_with_redeliveries_scores_as_the_latest_contributions(
    delivery: tuple[list[Contribution], list[Contribution]],
) -> None:
    cs, sequence = delivery
    state = AccountState(ACCOUNT)
    for i, c in enumerate(sequence):
        before, published = state.to_bytes(), state.published
        step = contribute(state, c, MODEL, NOW, Position("p.accounts.contributions", 0, i))
        if step.outcome != "applied":
            assert state.to_bytes() == before, f"a {step.outcome} contribution changed the state"
            assert step.score is None and step.alerts == [] and not step.tombstone
        elif state.people:  # a score exactly when a published field changed
            changed = published is None or published.digest != account_card(state, MODEL).digest()
            assert (step.score is not None) == changed and not step.tombstone
        else:  # no one left: a tombstone, once
            assert step.score is None and step.tombstone == (published is not None)
        if step.score is not None:
            assert 0 <= step.score.score <= 100 and 0 <= step.score.engagement <= 100
        assert in_bounds(account_card(state, MODEL))
        for alert in step.alerts:
            assert alert.score >= alert.level > alert.previous_score
    expected = latest_only(cs)
    assert account_card(state, MODEL) == account_card(expected, MODEL)
    assert state.members == expected.members and state.left == expected.left
    assert state.people == expected.people == len(state.members)
    # What was last published is the account as it is now (a tombstone when empty).
    if state.people:
        assert state.published is not None
        assert state.published.digest == account_card(state, MODEL).digest()
    else:
        assert state.published is None


@FAST
@given(deliveries())
def test_a_contribution_applied_again_changes_nothing(
    delivery: tuple[list[Contribution], list[Contribution]],
) -> None:
    cs, sequence = delivery
    state = deliver(sequence)
    latest = {c.lead_id: c for c in sorted(cs, key=lambda c: c.version)}
    for c in cs:
        before = state.to_bytes()
        outcome = merge(state, c, MODEL)
        assert outcome == ("duplicate" if c == latest[c.lead_id] else "stale")
        assert state.to_bytes() == before
        step = contribute(state, c, MODEL, NOW, Position("p.accounts.contributions", 0, 10**6))
        assert step.outcome == outcome and not step.republish
        assert state.to_bytes() == before


@FAST
@given(deliveries())
def test_account_state_round_trips_through_bytes(
    delivery: tuple[list[Contribution], list[Contribution]],
) -> None:
    _, sequence = delivery
    state = deliver(sequence)
    again = AccountState.from_bytes(state.to_bytes())
    assert again == state
    assert again.to_bytes() == state.to_bytes()
    assert account_card(again, MODEL) == account_card(state, MODEL)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 100),
            st.integers(0, 100),
            st.floats(0, 1),
            st.sampled_from([None, *BUYING_ROLES]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_account_score_fit_and_engagement_stay_within_0_and_100(
    people: list[tuple[int, int, float, str | None]],
) -> None:
    state = AccountState(ACCOUNT)
    for i, (fit, engagement, validity, role) in enumerate(people):
        c = Contribution(
            f"L{i}",
            ACCOUNT,
            Version(0, 1, 1),
            fit=fit,
            engagement=engagement,
            score=fit,
            validity=validity,
            stage="engaged",
            role=role,
        )
        step = contribute(state, c, MODEL, NOW)
        assert step.outcome == "applied"
    card = account_card(state, MODEL)
    assert in_bounds(card)
    assert card.fit == max(fit for fit, *_ in people)
    assert card.people == len(people)


def person(
    lead: str,
    v: int,
    fit: int = 0,
    engagement: int = 0,
    score: int | None = None,
    role: str | None = None,
    stage: str = "engaged",
) -> Contribution:
    return Contribution(
        lead_id=lead,
        account_id=ACCOUNT,
        version=Version(0, v, v),
        fit=fit,
        engagement=engagement,
        score=(fit + engagement) // 2 if score is None else score,
        stage=stage,
        role=role,
        occurred_us=to_us(BASE) + v * 60_000_000,
    )


def test_the_account_card_from_its_people() -> None:
    state = deliver(
        [
            person("L1", 1, fit=70, engagement=10, role="decision_maker"),
            person("L2", 1, fit=40, engagement=30, role="user"),
            person("L3", 1, fit=20, engagement=25),
            person("L4", 1, fit=10, engagement=5),
            person("L5", 1, fit=95, engagement=90, stage="disqualified", role="influencer"),
        ]
    )
    card = account_card(state, MODEL)
    # fit: the best non-disqualified person; engagement: the top 3 people's sum.
    assert card.fit == 70 and card.engagement == 30 + 25 + 10
    assert card.roles == ("decision_maker", "user")  # not the disqualified person's
    assert card.score == round(0.5 * 70 + 0.5 * 65 + 10 + 2)
    assert card.factors == (
        ("fit (best person)", 35.0),
        ("engagement (top 3 people)", 32.5),
        ("role decision_maker", 10.0),
        ("role user", 2.0),
    )
    assert card.people == 5 and card.engaged_people == 5
    assert card.top_leads[0] == ("L5", 92)  # still listed, by score
    assert card.stage == "mqa" and card.model_version == MODEL.model_version


def test_the_documented_example_two_people_make_an_mqa() -> None:
    """docs/accounts.md s4: Lee (fit 30, engagement 20, validity 0.7, user), then Jane
    (fit 70, engagement 40, decision maker, lead score 55)."""
    state = AccountState(ACCOUNT)
    lee = Contribution(
        "lead-91",
        ACCOUNT,
        Version(0, 1, 1),
        fit=30,
        engagement=20,
        score=18,
        validity=0.7,
        stage="engaged",
        role="user",
    )
    jane = Contribution(
        "lead-77",
        ACCOUNT,
        Version(0, 1, 1),
        fit=70,
        engagement=40,
        score=55,
        stage="engaged",
        role="decision_maker",
        occurred_us=to_us(BASE),
    )
    first = contribute(state, lee, MODEL, NOW)
    assert first.score is not None and (first.score.score, first.score.stage) == (24, "engaged")
    second = contribute(state, jane, MODEL, NOW)
    update = second.score
    assert update is not None
    assert (update.score, update.fit, update.engagement, update.stage) == (74, 70, 54, "mqa")
    assert (update.people, update.engaged_people) == (2, 2)
    assert update.roles == ["decision_maker", "user"]
    assert [(t.lead_id, t.score) for t in update.top_leads] == [("lead-77", 55), ("lead-91", 18)]
    assert [(f.factor, f.points) for f in update.factors] == [
        ("fit (best person)", 35.0),
        ("engagement (top 3 people)", 27.0),
        ("role decision_maker", 10.0),
        ("role user", 2.0),
    ]
    (alert,) = second.alerts
    assert (alert.score, alert.previous_score, alert.occurred_at) == (74, 24, BASE)


def test_top_leads_are_the_five_highest_scores_ties_by_lead_id() -> None:
    people = [
        person(lead, 1, fit=10, score=s)
        for lead, s in [
            ("L9", 50),
            ("L2", 50),
            ("L5", 70),
            ("L1", 10),
            ("L7", 50),
            ("L3", 50),
            ("L4", 5),
        ]
    ]
    card = account_card(deliver(people), MODEL)
    assert card.top_leads == (("L5", 70), ("L2", 50), ("L3", 50), ("L7", 50), ("L9", 50))


def test_every_level_crossed_at_once_fires_and_no_levels_means_no_mqa() -> None:
    two = model_with(thresholds={"hysteresis": 10, "levels": {"mqa": 60, "hot": 80}})
    state = AccountState(ACCOUNT)
    step = contribute(state, person("L1", 1, fit=100, engagement=70), two, NOW)
    assert [a.threshold for a in step.alerts] == ["mqa", "hot"]
    assert [a.level for a in step.alerts] == [60, 80]
    none = model_with(thresholds={"hysteresis": 10, "levels": {}})
    state = AccountState(ACCOUNT)
    step = contribute(state, person("L1", 1, fit=100, engagement=100), none, NOW)
    assert step.score is not None and step.score.score == 100
    assert step.alerts == [] and step.score.stage == "engaged"
    quiet = contribute(AccountState(ACCOUNT), person("L1", 1, fit=100), none, NOW)
    assert quiet.score is not None and quiet.score.stage == "new"


def test_engagement_is_weighted_by_validity_over_the_models_most_engaged_people() -> None:
    people = [
        Contribution("L1", ACCOUNT, Version(0, 1, 1), fit=50, engagement=100, validity=0.3),
        Contribution("L2", ACCOUNT, Version(0, 1, 1), fit=50, engagement=40),
        Contribution("L3", ACCOUNT, Version(0, 1, 1), fit=50, engagement=20),
    ]
    assert account_card(deliver(people), MODEL).engagement == 30 + 40 + 20
    one = model_with(engaged_people=1)
    assert account_card(deliver(people, one), one).engagement == 40
    assert account_card(deliver(people, one), one).model_version == "accounts-test"


def test_a_late_older_contribution_is_stale_and_a_removed_lead_stays_out() -> None:
    state = deliver([person("L1", 2, fit=80), Contribution("L1", ACCOUNT, Version(0, 3, 3), True)])
    assert state.people == 0
    step = contribute(state, person("L1", 1, fit=90), MODEL, NOW)
    assert step.outcome == "stale" and state.people == 0 and step.score is None


def test_a_newer_contribution_that_changes_nothing_published_publishes_nothing() -> None:
    state = AccountState(ACCOUNT)
    assert contribute(state, person("L1", 1, fit=80, engagement=40), MODEL, NOW).score
    same = contribute(state, person("L1", 2, fit=80, engagement=40), MODEL, NOW)
    assert same.outcome == "applied" and same.score is None and same.alerts == []
    assert state.members["L1"].version == Version(0, 2, 2)


def test_the_last_person_leaving_tombstones_the_account() -> None:
    state = AccountState(ACCOUNT)
    assert contribute(state, person("L1", 1, fit=50), MODEL, NOW).score is not None
    gone = contribute(state, Contribution("L1", ACCOUNT, Version(0, 2, 2), True), MODEL, NOW)
    assert gone.tombstone and gone.score is None and state.published is None


# --- more people than kept (accounts.max_people) ----------------------------------------------

SMALL = model_with(max_people=5)


def test_a_person_set_aside_comes_back_with_its_own_next_contribution() -> None:
    """max_people=5 (docs/accounts.md s3): six people, then a kept one drops low. The one
    set aside (F: low score, best fit) stays out until its own next contribution, which
    brings it back (setting aside the lowest); then the account scores as its latest
    contributions alone would."""
    big = [person(f"B{i}", 1, fit=60, engagement=60, score=80) for i in range(4)]
    f1 = person("F", 1, fit=95, engagement=5, score=50)
    a1 = person("A", 1, fit=60, engagement=60, score=90)
    a2 = person("A", 2, fit=10, engagement=0, score=10)
    state = deliver([a1, *big, f1, a2], SMALL)
    assert "F" in state.others and "A" in state.members
    card = account_card(state, SMALL)
    assert card.fit == 60 and card.people == 6 and card.engaged_people == 5
    f2 = person("F", 2, fit=95, engagement=5, score=50)
    assert contribute(state, f2, SMALL, NOW).outcome == "applied"
    assert "F" in state.members and "A" in state.others
    assert account_card(state, SMALL) == account_card(deliver([a2, *big, f2], SMALL), SMALL)
    assert account_card(state, SMALL).fit == 95


@FAST
@given(deliveries(leads=LEADS[:5]))
def test_an_account_never_above_max_people_is_exact_in_any_order(
    delivery: tuple[list[Contribution], list[Contribution]],
) -> None:
    cs, sequence = delivery
    state = deliver(sequence, SMALL)
    expected = latest_only(cs, SMALL)
    assert account_card(state, SMALL) == account_card(expected, SMALL)
    assert state.others == {} and state.overflow == 0


@FAST
@given(deliveries(leads=[f"L{i:02}" for i in range(14)]))
def test_beyond_max_people_people_and_engaged_people_stay_exact_in_any_order(
    delivery: tuple[list[Contribution], list[Contribution]],
) -> None:
    cs, sequence = delivery
    state = deliver(sequence, SMALL)
    latest: dict[str, Contribution] = {}
    for c in sorted(cs, key=lambda c: c.version):
        latest[c.lead_id] = c
    present = [c for c in latest.values() if not c.removed]
    card = account_card(state, SMALL)
    assert card.people == len(present)
    assert card.engaged_people == sum(c.engagement > 0 for c in present)
    assert len(state.members) <= SMALL.accounts.max_people
    assert set(state.members) | set(state.others) == {c.lead_id for c in present}
    for lead, member in state.members.items():  # kept with its latest contribution
        assert member.version == latest[lead].version and member.score == latest[lead].score
    assert in_bounds(card)


def test_people_beyond_max_people_are_still_counted() -> None:
    people = [person(f"L{i:02}", 1, fit=i, engagement=i % 2, score=i) for i in range(12)]
    state = deliver(people, SMALL)
    card = account_card(state, SMALL)
    assert len(state.members) == 5 and card.people == 12
    assert card.engaged_people == 6
    assert [lead for lead, _ in card.top_leads] == ["L11", "L10", "L09", "L08", "L07"]


# --- account alerts --------------------------------------------------------------------------


def climb(state: AccountState, engagements: list[int]) -> list[list[Any]]:
    """One person (fit 80, no role) whose engagement moves: score = 40 + engagement / 2."""
    out = []
    for v, engagement in enumerate(engagements, 1):
        step = contribute(state, person("L1", v, fit=80, engagement=engagement), MODEL, NOW)
        assert step.outcome == "applied" and step.score is not None
        assert step.score.score == round(40 + engagement / 2)
        out.append(step.alerts)
    return out


def test_an_mqa_alert_fires_once_on_an_upward_crossing_with_hysteresis() -> None:
    assert (MQA, HYSTERESIS) == (60, 10)
    state = AccountState(ACCOUNT)
    # 50, 60 (fires), 55, 65 (hovering: quiet), 50 (not below 50: still quiet), 62
    fired = climb(state, [20, 40, 30, 50, 20, 44])
    assert [len(a) for a in fired] == [0, 1, 0, 0, 0, 0]
    (alert,) = fired[1]
    assert alert.threshold == "mqa" and alert.level == 60 and alert.account_id == ACCOUNT
    assert (alert.score, alert.previous_score) == (60, 50)
    assert alert.alert_id == account_alert_id(ACCOUNT, "mqa", 1)
    assert [t.lead_id for t in alert.top_leads] == ["L1"]
    assert alert.occurred_at == BASE + timedelta(minutes=2) and alert.emitted_at == NOW
    # 49 re-arms (below 60 - 10), then 61 fires again, with another id.
    more = contribute(state, person("L1", 7, fit=80, engagement=18), MODEL, NOW)
    assert more.alerts == [] and state.alerts["mqa"].armed
    again = contribute(state, person("L1", 8, fit=80, engagement=42), MODEL, NOW)
    (second,) = again.alerts
    assert second.alert_id == account_alert_id(ACCOUNT, "mqa", 2) != alert.alert_id
    assert (second.score, second.previous_score) == (61, 49)


def test_account_alert_ids_are_deterministic_and_distinct() -> None:
    runs = []
    for _ in range(2):
        state = AccountState(ACCOUNT)
        runs.append([a for alerts in climb(state, [40, 0, 40]) for a in alerts])
    assert runs[0] == runs[1] and len(runs[0]) == 2
    ids = {
        account_alert_id("a", "mqa", 1),
        account_alert_id("a", "mqa", 2),
        account_alert_id("b", "mqa", 1),
        account_alert_id("a", "other", 1),
    }
    assert len(ids) == 4 and account_alert_id("a", "mqa", 1) == account_alert_id("a", "mqa", 1)


def test_the_last_person_leaving_rearms_the_alert() -> None:
    state = AccountState(ACCOUNT)
    assert len(climb(state, [40])[0]) == 1
    contribute(state, Contribution("L1", ACCOUNT, Version(0, 9, 9), removed=True), MODEL, NOW)
    assert state.alerts["mqa"].armed
    back = contribute(state, person("L2", 1, fit=80, engagement=40), MODEL, NOW)
    assert [a.alert_id for a in back.alerts] == [account_alert_id(ACCOUNT, "mqa", 2)]


def test_a_redelivered_contribution_republishes_and_a_resend_publishes_nothing() -> None:
    state = AccountState(ACCOUNT)
    at = Position("p.accounts.contributions", 3, 41)
    contribute(state, person("L1", 1, fit=80, engagement=20), MODEL, NOW, Position("t", 3, 40))
    c = person("L1", 2, fit=80, engagement=40)
    first = contribute(state, c, MODEL, NOW, at)
    assert first.outcome == "applied" and first.score is not None and len(first.alerts) == 1
    before = state.to_bytes()
    again = contribute(state, c, MODEL, NOW, at)
    assert again.outcome == "duplicate" and again.republish
    assert again.score == first.score and again.alerts == first.alerts
    assert state.to_bytes() == before
    resent = contribute(state, c, MODEL, NOW, Position("p.accounts.contributions", 3, 99))
    assert resent.outcome == "duplicate" and not resent.republish
    assert resent.score is None and resent.alerts == [] and not resent.tombstone
    # After a newer change, the old message's redelivery still re-sends its alert (outbox)
    # but not its score, which is no longer the account's.
    contribute(state, person("L2", 1, fit=10), MODEL, NOW, Position("t", 3, 42))
    late = contribute(state, c, MODEL, NOW, at)
    assert late.republish and late.score is None and late.alerts == first.alerts


def test_a_redelivered_removal_of_the_last_person_sends_the_tombstone_again() -> None:
    state = AccountState(ACCOUNT)
    contribute(state, person("L1", 1, fit=50), MODEL, NOW, Position("t", 0, 1))
    removal = Contribution("L1", ACCOUNT, Version(0, 2, 2), removed=True)
    at = Position("t", 0, 2)
    assert contribute(state, removal, MODEL, NOW, at).tombstone
    again = contribute(state, removal, MODEL, NOW, at)
    assert again.outcome == "duplicate" and again.tombstone and again.republish
    assert not contribute(state, removal, MODEL, NOW, Position("t", 0, 3)).republish


# --- parity: offline and the pipeline ----------------------------------------------------------


def doc(kind: str, eid: str, minutes: float, **kw: Any) -> bytes:
    """A visitor's event as a producer sends it (keyed by anonymous_id, maybe no lead_id)."""
    d = {
        "event_id": eid,
        "type": kind,
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        **kw,
    }
    return orjson.dumps(d)


def form_doc(eid: str, lead: str, minutes: float, **kw: Any) -> bytes:
    fields = {
        "form_id": "demo",
        "first_name": "Ann",
        "last_name": "Lee",
        "company_size": 250,
        "industry": "software",
        "country": "US",
        "fill_seconds": 40.0,
        **kw,
    }
    return raw("form.submitted", lead, minutes, eid, **fields)


def clicks(lead: str, n: int, start: float) -> list[bytes]:
    return [
        raw("email.clicked", lead, start + 90 * i, f"{lead}-c{i}", message_id=f"{lead}-m{i}")
        for i in range(n)
    ]


HOT = {"budget": 90000, "authority": "decision_maker", "need": ["x"], "timeline": "now"}
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


def company_stream() -> list[bytes]:
    """Three companies of a few people each, free-mail leads, an erasure, a re-association
    and a visitor linked to a lead."""
    return [
        # acme-corp.com: a hot CEO, an engineer (subdomain address), a manager who moves.
        form_doc("a1-f", "A1", 0, email="ceo@acme-corp.com", job_title="CEO", answers=HOT),
        *clicks("A1", 4, 30),
        form_doc("a2-f", "A2", 10, email="dev@eu.acme-corp.com", job_title="Software Engineer"),
        raw("email.opened", "A2", 50, "a2-o", message_id="A2-m"),
        raw("signup", "A3", 20, "a3-s", email="lee@acme-corp.com"),
        form_doc("a3-f", "A3", 25, email="lee@acme-corp.com", job_title="Engineering Manager"),
        *clicks("A3", 2, 60),
        raw("lead.associated", "A3", 400, "a3-move", account_id="globex.co.uk"),
        # globex.co.uk: two people, one of them erased.
        form_doc("g1-f", "G1", 5, email="ann@mail.globex.co.uk", job_title="VP Sales"),
        *clicks("G1", 3, 100),
        form_doc("g2-f", "G2", 15, email="bo@globex.co.uk", job_title="Director of IT"),
        *clicks("G2", 2, 120),
        raw("lead.erased", "G2", 500, "g2-x"),
        # initech (an explicit CRM id): a lead whose views came before it was known.
        doc(
            "page.viewed",
            "v1",
            1,
            anonymous_id="anon-1",
            url="https://acme.example/pricing",
            session_id="s1",
            user_agent=UA,
        ),
        doc(
            "page.viewed",
            "v2",
            3,
            anonymous_id="anon-1",
            url="https://acme.example/demo",
            session_id="s1",
            user_agent=UA,
        ),
        form_doc(
            "i1-f", "I1", 30, email="kim@initech.io", job_title="CTO", account_id="crm-initech"
        ),
        doc("identity.linked", "k1", 35, anonymous_id="anon-1", lead_id="I1"),
        form_doc("i2-f", "I2", 40, email="pat@initech.io", job_title="Analyst"),
        raw("lead.associated", "I2", 45, "i2-a", account_id="crm-initech"),
        # Free mail and disposable: people without an account.
        form_doc("f1-f", "F1", 12, email="jo@gmail.com", job_title="CEO"),
        *clicks("F1", 2, 200),
        form_doc("f2-f", "F2", 14, email="x@mailinator.com"),
    ]


def offline(lines: list[bytes]) -> OfflineRun:
    run = score_lines(lines, MODEL, NOW)
    assert not run.errors, run.errors
    return run


def fields(update: AccountScore | dict[str, Any]) -> dict[str, Any]:
    d = update if isinstance(update, dict) else update.model_dump(mode="json")
    return {name: d[name] for name in ACCOUNT_STATE_FIELDS}


def final_accounts(run: OfflineRun) -> dict[str, dict[str, Any]]:
    return {a.account_id: fields(a) for a in run.final_account_scores()}


def piped(lines: list[bytes], forward_each: bool) -> tuple[Any, list[Any]]:
    """The lines through the worker's pipeline; internal topics (contributions, visitors'
    forwards) delivered after each message, or only at the end (a lagging consumer)."""
    pipe, sent, _ = memory_pipeline(MODEL)
    for offset, line in enumerate(lines):
        topic = topic_for(line)
        key = routing_key(parse_event(line, topic))
        start = len(sent)
        pipe.handle(
            FakeMessage(f"p.{topic}", partition_for(key, PARTITIONS), offset, key.encode(), line)
        )
        if forward_each:
            forward_internal(pipe, sent, start)
    if not forward_each:
        forward_internal(pipe, sent)
    assert not [m for m in sent if m.topic == "p.leads.dead-letter"]
    return pipe, sent


def test_the_stream_builds_the_expected_accounts_offline() -> None:
    run = offline(company_stream())
    accounts = final_accounts(run)
    assert set(accounts) == {"acme-corp.com", "globex.co.uk", "crm-initech"}
    assert {t["lead_id"] for t in accounts["acme-corp.com"]["top_leads"]} == {"A1", "A2"}
    globex = run.accounts["globex.co.uk"]
    assert set(globex.members) == {"G1", "A3"} and "G2" in globex.left
    assert set(run.accounts["acme-corp.com"].left) == {"A3"}
    assert set(run.accounts["crm-initech"].members) == {"I1", "I2"}
    assert run.scores["I1"].account_id == "crm-initech"
    assert run.scores["F1"].account_id is None and run.scores["F2"].account_id is None
    assert "decision_maker" in accounts["acme-corp.com"]["roles"]
    assert accounts["acme-corp.com"]["stage"] == "mqa"
    assert accounts["globex.co.uk"]["people"] == 2  # G2 erased, A3 moved in
    assert "initech.io" in run.accounts and run.accounts["initech.io"].people == 0  # I2 left
    # Each account crossed mqa once, on its way up.
    alerted = sorted(a.account_id for a in run.account_alert_log)
    assert alerted == ["acme-corp.com", "crm-initech", "globex.co.uk"]
    assert all(a.score >= MQA > a.previous_score for a in run.account_alert_log)


@pytest.mark.parametrize("forward_each", [True, False], ids=["forward-each", "forward-at-end"])
def test_offline_and_the_pipeline_agree_on_the_final_account_scores(forward_each: bool) -> None:
    lines = company_stream()
    run = offline(lines)
    pipe, sent = piped(lines, forward_each)
    expected = final_accounts(run)
    # The account store: every account's state, those with people scoring as offline.
    stored = {k: AccountState.from_bytes(v) for k, v in pipe.account_store.items()}
    assert set(stored) == set(run.accounts)
    for account_id, state in stored.items():
        assert account_card(state, MODEL) == account_card(run.accounts[account_id], MODEL)
        current = pipe.current_account(account_id)
        if account_id in expected:
            assert current is not None and fields(current) == expected[account_id]
        else:
            assert current is None
    # accounts.scores, compacted: the last message per key.
    last: dict[str, Any] = {}
    for m in sent:
        if m.topic == "p.accounts.scores":
            last[m.key.decode()] = None if m.value is None else fields(orjson.loads(m.value))
    assert {k: v for k, v in last.items() if v is not None} == expected
    # Leads' scores carry the same account ids.
    for update in run.final_scores():
        current = pipe.current(update.lead_id)
        assert current is not None and current.account_id == update.account_id
    if forward_each:  # the same path, message by message: the same alerts
        alerts = [orjson.loads(m.value)["alert_id"] for m in sent if m.topic == "p.accounts.alerts"]
        assert alerts == [a.alert_id for a in run.account_alert_log]


def test_the_pipeline_publishes_lead_scores_with_their_account_id() -> None:
    lines = company_stream()
    _, sent = piped(lines, forward_each=True)
    last = {
        m.key.decode(): ScoreUpdate.model_validate_json(m.value)
        for m in sent
        if m.topic == "p.leads.scores" and m.value is not None
    }
    assert last["A1"].account_id == "acme-corp.com"
    assert last["A3"].account_id == "globex.co.uk"
    assert last["G1"].account_id == "globex.co.uk"
    assert last["I1"].account_id == "crm-initech"
    assert last["F1"].account_id is None


def test_internal_messages_delivered_again_publish_no_new_account_scores() -> None:
    lines = company_stream()
    pipe, sent = piped(lines, forward_each=True)
    before = {k: AccountState.from_bytes(v).to_bytes() for k, v in pipe.account_store.items()}
    n = len(sent)
    contributions = [m for m in sent if m.topic == "p.accounts.contributions"]
    assert len(contributions) >= 10
    for offset, m in enumerate(contributions, 2_000_000):  # re-sends: new offsets
        pipe.handle(FakeMessage(m.topic, m.partition, offset, m.key, m.value))
    assert sent[n:] == [], "a re-sent contribution published something"
    assert {k: bytes(v) for k, v in pipe.account_store.items()} == before


def test_a_contribution_that_cannot_be_applied_is_dead_lettered() -> None:
    pipe, sent, _ = memory_pipeline(MODEL)
    good = person("L1", 1, fit=50).to_json()
    topic = "p.accounts.contributions"
    partition = partition_for(ACCOUNT, PARTITIONS)
    pipe.handle(FakeMessage(topic, partition, 1, b"other.com", good))
    pipe.handle(FakeMessage(topic, partition, 2, ACCOUNT.encode(), b'{"lead_id": "L1"}'))
    pipe.handle(FakeMessage(topic, partition, 3, ACCOUNT.encode(), b"not json"))
    errors = [orjson.loads(m.value)["error"] for m in sent if m.topic == "p.leads.dead-letter"]
    assert errors == ["key_mismatch", "schema", "schema"]
    assert ACCOUNT not in pipe.account_store and "other.com" not in pipe.account_store
    pipe.handle(FakeMessage(topic, partition, 4, ACCOUNT.encode(), good))
    assert pipe.current_account(ACCOUNT) is not None


@pytest.mark.parametrize("seed", range(6))
def test_the_same_events_shuffled_give_the_same_final_account_scores(seed: int) -> None:
    lines = company_stream()
    expected = final_accounts(offline(lines))
    shuffled = list(lines)
    random.Random(seed).shuffle(shuffled)
    assert final_accounts(offline(shuffled)) == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(company_stream()))
def test_any_order_of_the_stream_gives_the_same_final_account_scores(lines: list[bytes]) -> None:
    assert final_accounts(offline(lines)) == expected_accounts()


@cache
def expected_accounts() -> dict[str, dict[str, Any]]:
    return final_accounts(offline(company_stream()))


# --- a new model reaches the accounts through their people ------------------------------------


def rescored_model() -> ScoringModel:
    """Another lead model: fit weighs more, so every lead's score changes."""
    data = yaml.safe_load(model_text())
    data["weights"] = {"fit": 0.8, "engagement": 0.2}
    data["model_version"] = "weights-80-20"
    return ScoringModel.parse_text(yaml.safe_dump(data), "v2.yaml")


def test_a_model_change_rescore_reaches_the_account_of_a_lead_dated_ahead_of_the_clock() -> None:
    """Events may be dated up to a day ahead of the wall clock (the future-skew rule). The
    worker's model-change rescore scores as of max(now, newest event): for such a lead that
    is its newest event's time, the very `as_of` of its event-driven contribution, so the
    new model's contribution must still be newer than the old one at its account."""
    new = rescored_model()
    now = BASE
    ahead = now + timedelta(hours=2)  # the form's time: two hours after the wall clock
    state = LeadState("L1")
    first = process(state, form(eid="f", minutes=120), MODEL, now)
    account = AccountState(ACCOUNT)
    contribute(account, first.contributions[0], MODEL, now)
    as_of_us = max(to_us(now), to_us(ahead))  # as Pipeline.rescore_slice computes it
    step = rescore(state, new, now, as_of_us=as_of_us)
    assert step.score is not None and step.score.score != first.contributions[0].score
    (c,) = step.contributions
    assert c.version > first.contributions[0].version, "same version, other content"
    contribute(account, c, new, now)
    assert account.members["L1"].score == step.score.score


def test_the_pipelines_model_change_reaches_accounts_of_leads_dated_ahead_of_the_clock() -> None:
    """The same through the worker's pipeline: a lead whose form is dated an hour ahead of
    the wall clock (accepted: within the future-skew rule), then a new model."""
    new = rescored_model()
    pipe, sent, _ = memory_pipeline(MODEL)
    when = datetime.now(UTC) + timedelta(hours=1)
    line = orjson.dumps(
        {
            **orjson.loads(form_doc("f", "L1", 0, email="jo@acme-corp.com")),
            "occurred_at": when.isoformat(),
        }
    )
    pipe.handle(FakeMessage("p.leads.forms", partition_for("L1", PARTITIONS), 0, b"L1", line))
    forward_internal(pipe, sent)
    before = pipe.current_account(ACCOUNT)
    assert before is not None and before.top_leads[0].lead_id == "L1"
    pipe.set_model(new)
    start = len(sent)
    command = orjson.dumps({"reason": "new model", "as_of": datetime.now(UTC).isoformat()})
    partition = partition_for("L1", PARTITIONS)
    pipe.handle_rescore(FakeMessage("p.leads.rescore", partition, 0, b"rescore", command))
    forward_internal(pipe, sent, start)
    lead = pipe.current("L1")
    account = pipe.current_account(ACCOUNT)
    assert lead is not None and account is not None
    assert lead.score != before.top_leads[0].score, "the new model changes the lead's score"
    assert account.top_leads[0].score == lead.score, "the account kept the old model's score"


# --- the model's accounts section ---------------------------------------------------------------


def test_default_accounts_section() -> None:
    a = MODEL.accounts
    assert a.weights.fit + a.weights.engagement == 1
    assert set(a.seniority_roles) <= {s.name for s in MODEL.fit.seniority}
    assert a.thresholds.levels == {"mqa": 60}


def test_account_weights_must_add_up_to_1() -> None:
    text = model_text().replace(
        "weights: {fit: 0.5, engagement: 0.5}\n  engaged_people",
        "weights: {fit: 0.6, engagement: 0.5}\n  engaged_people",
    )
    assert text != model_text()
    with pytest.raises(ModelError, match=r"m\.yaml: .*accounts\.weights must add up to 1"):
        ScoringModel.parse_text(text, "m.yaml")
    with pytest.raises(ModelError, match="accounts"):
        model_with(weights={"fit": 0.2, "engagement": 0.3})
    assert model_with(weights={"fit": 0.3, "engagement": 0.7}).accounts.weights.fit == 0.3


def test_unknown_seniority_names_are_refused() -> None:
    with pytest.raises(ModelError, match=r"seniority_roles: \['c_suite'\]"):
        model_with(seniority_roles={"c_suite": "decision_maker", "executive": "influencer"})
    with pytest.raises(ModelError, match=r"accounts\.seniority_roles"):
        model_with(seniority_roles={"executive": "champion"})  # not a buying role
    with pytest.raises(ModelError, match=r"accounts\.max_people"):
        model_with(max_people=1)
    with pytest.raises(ModelError, match=r"accounts\.foo"):
        model_with(foo=1)
