"""The traffic generator: reproducible, realistic in the documented ways, faults as asked."""

from __future__ import annotations

import random
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from crawleruseragents import is_crawler

from schemas.codec import DecodeError, parse_event
from schemas.events import (
    EmailClicked,
    FormSubmitted,
    IdentityLinked,
    InputEvent,
    LeadAssociated,
    PageViewed,
    Signup,
    routing_key,
)
from streams.core.accounts import business_domain
from streams.core.model import ScoringModel
from streams.tools.score import OfflineRun, score_lines
from streams.tools.simulate import NO_FAULTS, PERSONA_SHARES, Faults, SimEvent, generate, generator
from streams.tools.simulate import data as d
from streams.tools.simulate.faults import EXPECTED_ERROR, malform
from streams.tools.simulate.personas import HUMAN_MIN_DELAY
from streams.tools.simulate.web import PAGES

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def run(seed: int = 7, leads: int = 300, events: int = 4000, **kw: object) -> list[SimEvent]:
    return list(generate(seed, leads, events, now=NOW, **kw))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample() -> list[SimEvent]:
    return run()


@pytest.fixture(scope="module")
def clean() -> list[SimEvent]:
    return run(faults=NO_FAULTS)


Parsed = list[tuple[SimEvent, InputEvent]]


@pytest.fixture(scope="module")
def parsed(clean: list[SimEvent]) -> Parsed:
    return [(e, parse_event(e.value, e.topic)) for e in clean]


def test_same_seed_same_messages_other_seed_other_messages() -> None:
    assert run(seed=3, events=1500) == run(seed=3, events=1500)
    assert [e.value for e in run(seed=4, events=1500)] != [
        e.value for e in run(seed=3, events=1500)
    ]


def test_exact_size_and_population(sample: list[SimEvent]) -> None:
    assert len(sample) == 4000
    assert 280 <= len({e.lead_id for e in sample if e.lead_id is not None}) <= 300
    assert len(run(leads=50, events=0)) == 0
    assert len(run(leads=40, events=1234, seed=2)) == 1234


def test_a_run_of_several_rounds_keeps_its_size_and_its_crawlers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Long runs plan in rounds of at most ROUND_CAP events (bounded memory); small rounds
    # here, so a short run has several, each with its crawlers.
    monkeypatch.setattr(generator, "ROUND_CAP", 2000)
    events = run(seed=5, leads=50, events=9000)
    assert len(events) == 9000
    crawler_share = sum(e.persona == "crawler" for e in events) / len(events)
    assert 0.03 < crawler_share < 0.08


def test_persona_shares_roughly_as_documented() -> None:
    events = run(seed=11, leads=3000, events=30000, faults=NO_FAULTS)
    persona_of = {e.lead_id: e.persona for e in events if e.lead_id is not None}
    shares = Counter(persona_of.values())
    for persona, share in PERSONA_SHARES.items():
        assert abs(shares[persona] / len(persona_of) - share) < 0.03, (persona, shares)


def test_valid_events_parse_on_their_topic_with_the_contract_key(sample: list[SimEvent]) -> None:
    for event in sample:
        if event.fault == "malformed":
            continue
        parsed = parse_event(event.value, event.topic)
        assert event.key.decode() == routing_key(parsed)
        if parsed.lead_id is not None:  # else a visitor's view: the simulator knows its lead
            assert parsed.lead_id == event.lead_id
        assert (event.lead_id is None) == (event.persona == "crawler")
        assert parsed.type == event.kind
        assert NOW - timedelta(days=30) <= parsed.occurred_at <= NOW


def test_malformed_messages_fail_with_the_intended_code() -> None:
    events = run(faults=Faults(duplicates=0, out_of_order=0, malformed=0.2))
    malformed = [e for e in events if e.fault == "malformed"]
    assert len(malformed) > 400
    assert set(Counter(e.kind for e in malformed)) == {
        "truncated_json", "invalid_utf8", "wrong_topic", "naive_timestamp", "missing_field",
        "wrong_type",
    }  # fmt: skip
    for event in malformed:
        with pytest.raises(DecodeError) as failure:
            parse_event(event.value, event.topic)
        assert failure.value.code == event.expected_error, (event.kind, failure.value.detail)
    assert sum(e.topic == "leads.web" for e in malformed) > 100


def test_every_malformation_of_a_web_event_gets_its_code(parsed: Parsed) -> None:
    examples = {
        "anonymous view": _first(parsed, lambda p: isinstance(p, PageViewed) and not p.lead_id),
        "identified view": _first(
            parsed, lambda p: isinstance(p, PageViewed) and bool(p.lead_id and p.anonymous_id)
        ),
        "scanner view": _first(
            parsed, lambda p: isinstance(p, PageViewed) and p.anonymous_id is None
        ),
        "link": _first(parsed, lambda p: isinstance(p, IdentityLinked)),
    }
    rng = random.Random(0)
    for name, event in examples.items():
        seen = set()
        for _ in range(200):
            bad = malform(event, rng)
            seen.add(bad.kind)
            with pytest.raises(DecodeError) as failure:
                parse_event(bad.value, bad.topic)
            assert failure.value.code == bad.expected_error, (name, bad.kind, failure.value)
            assert bad.key == event.key
        assert seen == set(EXPECTED_ERROR), name


def _first(parsed: Parsed, match: object) -> SimEvent:
    return next(e for e, p in parsed if match(p))  # type: ignore[operator]


def test_duplicates_repeat_an_earlier_message_exactly() -> None:
    events = run(faults=Faults(duplicates=0.1, out_of_order=0, malformed=0))
    duplicates = [e for e in events if e.fault == "duplicate"]
    assert 300 <= len(duplicates) <= 500
    originals = {e.value for e in events if e.fault is None}
    assert all(d.value in originals for d in duplicates)


def test_out_of_order_messages_arrive_after_later_events() -> None:
    events = run(faults=Faults(duplicates=0, out_of_order=0.1, malformed=0))
    times = [orjson.loads(e.value)["occurred_at"] for e in events]
    late = [i for i, e in enumerate(events) if e.fault == "out_of_order"]
    assert 300 <= len(late) <= 500
    assert sum(times[i] < max(times[:i]) for i in late if i) > 0.9 * len(late)
    assert len({orjson.loads(e.value)["event_id"] for e in events}) == len(events)


def test_no_faults_when_every_knob_is_zero(clean: list[SimEvent]) -> None:
    assert all(e.fault is None and e.expected_error is None for e in clean)
    ids = [orjson.loads(e.value)["event_id"] for e in clean]
    assert len(set(ids)) == len(ids)
    times = [orjson.loads(e.value)["occurred_at"] for e in clean]
    assert times == sorted(times)  # a clean stream is in event-time order


def _forms(events: list[SimEvent], persona: str) -> list[FormSubmitted]:
    parsed = [parse_event(e.value, e.topic) for e in events if e.persona == persona]
    return [p for p in parsed if isinstance(p, FormSubmitted)]


def test_bots_look_like_bots(clean: list[SimEvent]) -> None:
    forms = _forms(clean, "bot")
    assert forms
    assert all(f.fill_seconds is not None and f.fill_seconds < 2 for f in forms)
    assert all(f.first_name and f.first_name == f.first_name.lower() for f in forms)
    assert sum(bool(f.honeypot) for f in forms) > 0.5 * len(forms)
    domains = {f.email.rsplit("@", 1)[1] for f in forms}
    assert domains & {"mailinator.com", "guerrillamail.com", "sharklasers.com", "yopmail.com"}


def test_buyers_request_demos_with_good_answers(clean: list[SimEvent]) -> None:
    demos = [f for f in _forms(clean, "buyer") if f.form_id == "demo-request"]
    assert demos
    for form in demos:
        assert form.answers is not None and form.answers.budget is not None
        assert form.answers.budget >= 10_000 and form.answers.need
        assert form.fill_seconds is not None and form.fill_seconds >= 20


def test_scanners_click_seconds_after_sending_in_bursts(clean: list[SimEvent]) -> None:
    clicks = [parse_event(e.value, e.topic) for e in clean if e.kind == "email.clicked"]
    scanned = [
        c for c in clicks
        if isinstance(c, EmailClicked) and c.sent_at is not None
        and (c.occurred_at - c.sent_at).total_seconds() < HUMAN_MIN_DELAY
    ]  # fmt: skip
    assert len(scanned) > 0.3 * len(clicks)
    per_message = Counter(c.message_id for c in scanned if isinstance(c, EmailClicked))
    assert statistics.mean(per_message.values()) >= 3  # every link of a message


def test_buyers_warm_up_towards_the_end(clean: list[SimEvent]) -> None:
    start = NOW - timedelta(days=30)
    buyer_times = [
        datetime.fromisoformat(orjson.loads(e.value)["occurred_at"]) for e in clean
        if e.persona == "buyer"
    ]  # fmt: skip
    last_third = sum(t > start + timedelta(days=20) for t in buyer_times)
    first_third = sum(t < start + timedelta(days=10) for t in buyer_times)
    assert last_third > 2 * first_third


@pytest.fixture(scope="module")
def offline(sample: list[SimEvent]) -> OfflineRun:
    return score_lines((e.value for e in sample), ScoringModel.load(None))


def test_scored_offline_buyers_beat_everyone_and_bots_score_nothing(
    sample: list[SimEvent], offline: OfflineRun
) -> None:
    result = offline
    persona_of = {e.lead_id: e.persona for e in sample}
    scores: dict[str, list[int]] = {}
    for update in result.final_scores():
        scores.setdefault(persona_of[update.lead_id], []).append(update.score)
    means = {persona: statistics.mean(s) for persona, s in scores.items()}
    assert means["buyer"] > 60 and means["buyer"] == max(means.values())
    assert means["bot"] < 5 and means["scanned"] < means["tyre_kicker"]
    assert result.alerts > 0
    # Offline, a wrong-topic copy is a duplicate (the topic is implied by the type).
    assert set(result.errors) <= {"invalid_json", "schema"}


def test_cli_writes_reproducible_jsonl(tmp_path: Path) -> None:
    outputs = []
    for name in ("a.jsonl", "b.jsonl"):
        path = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-m", "streams.cli", "simulate", "--seed", "5", "--leads", "40",
             "--events", "300", "--now", "2026-11-20T12:00:00", "--jsonl", str(path)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "sent 300 messages" in done.stderr and "(seed 5)" in done.stderr
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1] and outputs[0].count(b"\n") == 300


# --- the web -------------------------------------------------------------------------------


def _views(parsed: Parsed) -> list[tuple[SimEvent, PageViewed]]:
    return [(e, p) for e, p in parsed if isinstance(p, PageViewed)]


def _links(parsed: Parsed) -> dict[str, IdentityLinked]:
    return {p.lead_id: p for _, p in parsed if isinstance(p, IdentityLinked)}


def test_web_views_and_links_appear_on_the_web_topic(parsed: Parsed) -> None:
    kinds = Counter(e.kind for e, _ in parsed)
    assert kinds["page.viewed"] > 0.25 * len(parsed) and kinds["identity.linked"] > 100
    assert {e.topic for e, p in parsed if isinstance(p, PageViewed | IdentityLinked)} == {
        "leads.web"
    }
    views = [p for _, p in _views(parsed)]
    assert all(p.title and p.url.startswith("https://") for p in views)
    assert sum(p.session_id is not None for p in views) == len(views)


def test_anonymous_views_are_keyed_by_the_cookie_id(parsed: Parsed) -> None:
    anonymous = [(e, p) for e, p in _views(parsed) if p.lead_id is None]
    assert len(anonymous) > 300
    cookie_of: dict[str, str] = {}
    for event, view in anonymous:
        assert view.anonymous_id and event.key.decode() == view.anonymous_id
        if event.lead_id is not None:  # one cookie per lead, the same in its link
            assert cookie_of.setdefault(event.lead_id, view.anonymous_id) == view.anonymous_id
    for lead_id, link in _links(parsed).items():
        assert cookie_of.get(lead_id, link.anonymous_id) == link.anonymous_id
    identified = [(e, p) for e, p in _views(parsed) if p.lead_id and p.anonymous_id]
    assert identified and all(e.key.decode() == p.lead_id for e, p in identified)


def test_the_link_comes_with_the_first_form_between_views(parsed: Parsed) -> None:
    links = _links(parsed)
    first_form: dict[str, datetime] = {}
    for _, p in parsed:
        if isinstance(p, FormSubmitted):
            first_form.setdefault(p.lead_id, p.occurred_at)
    for lead_id, link in links.items():
        assert link.occurred_at == first_form[lead_id]
    cookie_views = [
        (e.lead_id, p) for e, p in _views(parsed) if e.lead_id in links and p.anonymous_id
    ]
    before = {lead for lead, p in cookie_views if p.occurred_at < links[lead].occurred_at}
    after = {lead for lead, p in cookie_views if p.occurred_at > links[lead].occurred_at}
    assert len(before) > 50 and len(after) > 50 and before & after  # both orders occur
    for lead, p in cookie_views:
        if p.occurred_at < links[lead].occurred_at:
            assert p.lead_id is None  # not known before the link
    late_anonymous = [
        p for lead, p in cookie_views if p.occurred_at > links[lead].occurred_at and not p.lead_id
    ]
    assert late_anonymous  # they reach the lead through the link


def test_crawlers_are_known_crawlers_that_never_identify(parsed: Parsed) -> None:
    crawled = [p for e, p in _views(parsed) if e.persona == "crawler"]
    assert len(crawled) > 0.03 * len(parsed)
    assert all(p.lead_id is None and p.user_agent and is_crawler(p.user_agent) for p in crawled)
    linked = {link.anonymous_id for link in _links(parsed).values()}
    assert not linked & {p.anonymous_id for p in crawled}
    assert len({p.user_agent for p in crawled}) > 4
    assert all(is_crawler(agent) for agent in (*d.CRAWLER_AGENTS, *d.RENDERING_SCANNER_AGENTS))
    assert not any(is_crawler(agent) for agent in d.BROWSER_AGENTS)


def test_people_browse_in_sessions_with_referrers_and_reloads(parsed: Parsed) -> None:
    people = [(e, p) for e, p in _views(parsed) if e.persona != "crawler"]
    sessions: dict[str, list[PageViewed]] = defaultdict(list)
    for _, p in people:
        sessions[str(p.session_id)].append(p)
    assert statistics.mean(map(len, sessions.values())) > 1.5
    reloads = sum(len(v) - len({p.url for p in v}) for v in sessions.values())
    assert 0.02 * len(people) < reloads < 0.15 * len(people)
    referrers = Counter(urlsplit(p.referrer).hostname for _, p in people if p.referrer)
    assert {"www.google.com", "mail.google.com", "www.northwind-analytics.example"} <= set(
        referrers
    )
    assert any("utm_campaign=" in p.url for _, p in people)  # landed from a campaign email


def test_mail_scanners_render_tracked_links_with_crawler_agents(parsed: Parsed) -> None:
    scanner_views = [
        (e, p) for e, p in _views(parsed) if p.user_agent in d.RENDERING_SCANNER_AGENTS
    ]
    assert len(scanner_views) > 50
    for event, view in scanner_views:
        assert view.lead_id == event.lead_id and view.anonymous_id is None
        assert "utm_campaign=" in view.url
    assert {e.persona for e, _ in scanner_views} >= {"scanned"}


def _page_kind(model: ScoringModel, url: str) -> str:
    parts = urlsplit(url)
    return model.page_kind(parts.hostname or "", parts.path.rstrip("/") or "/")


def test_site_pages_are_of_the_kind_the_model_says() -> None:
    model = ScoringModel.load(None)
    assert {page.url: page.kind for page in PAGES} == {
        page.url: _page_kind(model, page.url) for page in PAGES
    }
    assert {page.kind for page in PAGES} == {
        "pricing", "demo", "contact", "product", "docs", "blog", "careers", "other",
    }  # fmt: skip


def test_page_kinds_differ_by_persona_as_planned(parsed: Parsed) -> None:
    model = ScoringModel.load(None)
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for event, view in _views(parsed):
        if view.user_agent not in d.RENDERING_SCANNER_AGENTS:  # people only
            kinds[event.persona][_page_kind(model, view.url)] += 1

    def share(persona: str, *of: str) -> float:
        return sum(kinds[persona][k] for k in of) / sum(kinds[persona].values())

    assert "bot" not in kinds  # form spam does not browse
    assert share("buyer", "pricing", "demo", "contact") > 2 * share(
        "student", "pricing", "demo", "contact"
    )
    assert share("buyer", "pricing") > 2 * share("student", "pricing")
    assert share("student", "careers") > 4 * share("buyer", "careers")
    assert share("student", "careers", "blog") > share("buyer", "careers", "blog")
    assert share("tyre_kicker", "blog", "docs", "product") > share("buyer", "blog", "docs")


# --- companies and accounts ----------------------------------------------------------------

BUSINESS = {"buyer", "tyre_kicker", "scanned"}


def _domains(parsed: Parsed) -> dict[str, str]:
    """Each lead's email domain, from its forms and signups."""
    return {
        p.lead_id: p.email.rpartition("@")[2]
        for _, p in parsed
        if isinstance(p, FormSubmitted | Signup)
    }


def _people_by_domain(parsed: Parsed) -> dict[str, set[str]]:
    people: dict[str, set[str]] = defaultdict(set)
    for lead_id, domain in _domains(parsed).items():
        people[domain].add(lead_id)
    return people


def test_companies_of_several_people_share_a_domain_and_a_profile(parsed: Parsed) -> None:
    persona_of = {e.lead_id: e.persona for e, _ in parsed}
    people = _people_by_domain(parsed)
    business = {
        domain: leads for domain, leads in people.items()
        if any(persona_of[lead] in BUSINESS for lead in leads)
    }  # fmt: skip
    for domain, leads in business.items():
        assert business_domain(domain) == domain, domain  # a company's own domain
        assert {persona_of[lead] in BUSINESS for lead in leads} == {True}
    teams = {domain: leads for domain, leads in business.items() if len(leads) > 1}
    sizes = Counter(len(leads) for leads in teams.values())
    assert len(teams) >= 15 and max(sizes) <= 8 and len(sizes) >= 4, sizes
    in_teams = sum(map(len, teams.values()))
    assert 0.25 < in_teams / sum(map(len, business.values())) < 0.6
    # One company per domain: the same name, size, industry and country on every form.
    profiles: dict[str, set[tuple[object, ...]]] = defaultdict(set)
    for _, p in parsed:
        if isinstance(p, FormSubmitted) and persona_of[p.lead_id] in BUSINESS:
            profile = (p.company, p.company_size, p.industry, p.country)
            profiles[p.email.rpartition("@")[2]].add(profile)
    assert all(len(found) == 1 for found in profiles.values())
    assert sum(len(teams.get(domain, ())) > 1 for domain in profiles) >= 10
    # Colleagues have addresses of their own.
    emails = {p.lead_id: p.email for _, p in parsed if isinstance(p, FormSubmitted | Signup)}
    assert len(set(emails.values())) == len(emails)


def test_students_and_bots_use_free_or_disposable_mail(parsed: Parsed) -> None:
    persona_of = {e.lead_id: e.persona for e, _ in parsed}
    others = {
        domain for lead, domain in _domains(parsed).items()
        if persona_of[lead] in ("student", "bot")
    }  # fmt: skip
    assert len(others) >= 5
    assert all(business_domain(domain) is None for domain in others)


def test_some_companies_are_in_the_crm(parsed: Parsed) -> None:
    persona_of = {e.lead_id: e.persona for e, _ in parsed}
    domains = _domains(parsed)
    people = _people_by_domain(parsed)
    associated = [(e, p) for e, p in parsed if isinstance(p, LeadAssociated)]
    assert associated and {e.topic for e, _ in associated} == {"leads.lifecycle"}
    by_account: dict[str, set[str]] = defaultdict(set)
    profile: dict[str, tuple[object, ...]] = {}
    for _, p in parsed:
        if isinstance(p, FormSubmitted):
            profile[p.lead_id] = (p.company, p.company_size, p.industry, p.country)
    for event, p in associated:
        assert re.fullmatch(r"acct-\d{4}", p.account_id) and event.key.decode() == p.lead_id
        assert persona_of[p.lead_id] in BUSINESS
        assert profile.get(p.lead_id, (p.company, p.company_size, p.industry, p.country)) == (
            p.company, p.company_size, p.industry, p.country
        )  # fmt: skip
        by_account[p.account_id].add(p.lead_id)
    assert len(by_account) >= 3 and max(map(len, by_account.values())) >= 2
    for leads in by_account.values():
        (domain,) = {domains[lead] for lead in leads}  # one company: one domain
        assert len(people[domain]) >= 2  # companies of several people
    # A minority of the companies of several people.
    teams = sum(len(leads) > 1 for domain, leads in people.items() if business_domain(domain))
    assert len(by_account) < 0.6 * teams
    # The CRM learns of a lead after it shows up.
    first_seen: dict[str, datetime] = {}
    for _, p in parsed:
        if p.lead_id is not None:
            first_seen.setdefault(p.lead_id, p.occurred_at)
    assert all(p.occurred_at > first_seen[p.lead_id] for _, p in associated)


def test_scored_offline_companies_become_accounts_and_some_cross_mqa(
    sample: list[SimEvent], offline: OfflineRun
) -> None:
    persona_of = {e.lead_id: e.persona for e in sample}
    for update in offline.final_scores():
        if persona_of[update.lead_id] in ("student", "bot"):
            assert update.account_id is None  # free mail: no account
        else:
            assert update.account_id is not None
    accounts = list(offline.final_account_scores())
    assert len(accounts) >= 50
    several = [a for a in accounts if a.people >= 2]
    assert len(several) >= 15
    assert any(a.account_id.startswith("acct-") for a in several)
    warm = [a for a in several if a.stage == "mqa" and a.engaged_people >= 2]
    assert len(warm) >= 3, [(a.account_id, a.score, a.people) for a in several]
    assert {a.stage for a in accounts} >= {"engaged", "mqa"}
    crossed = [a for a in offline.account_alert_log if a.threshold == "mqa"]
    assert crossed and all(a.score >= 60 > a.previous_score for a in crossed)
