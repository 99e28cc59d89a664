"""Who the simulated leads are and what they do: one persona per lead, planned as events.

A lead's events are planned in two parts:
- milestones, at most once per lead (list signup, forms, verification, outcome, and on the
  web the visit that ends in each form and the identity link at the first form), and
- repeat activity in "units" (an open, a click and the visit it lands on, a social
  interaction, a visit of the site, a mail scanner's burst across one message's links, a
  bot's extra form), whose number the generator sets so that a run has the number of events
  asked for.

On the web a person is first a visitor: its browser's cookie id (`anonymous_id`) is all its
page views carry until it submits its first form, when an `identity.linked` ties the cookie
to the lead. Later views carry the lead id too, except some sessions whose tag does not
identify the visitor again (they reach the lead through the link). Bots post their forms
without browsing.

Business leads work at companies (companies.py), some with colleagues: in a warm company
the colleagues a buyer pulls in (`committee_from`) fill in a form now and then and read the
pricing pages; the people of a company in the vendor's CRM get a `lead.associated` event.

Everything is a pure function of a `random.Random`, so a seed reproduces a run exactly.
Times are float Unix seconds until the event is rendered.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from streams.tools.simulate import companies, web
from streams.tools.simulate import data as d
from streams.tools.simulate.companies import local_part
from streams.tools.simulate.plan import Doc, Lead, Persona, Planned
from streams.tools.simulate.sampling import poisson

# Share of leads per persona (documented in `leadscore simulate --help`).
PERSONA_SHARES: dict[Persona, float] = {
    "buyer": 0.10,  # warm up over weeks, request a demo with good answers
    "tyre_kicker": 0.32,  # a few opens, a click, a form with weak answers
    "student": 0.15,  # free mail, no company, sometimes lowercase names
    "bot": 0.15,  # form spam: honeypot filled, sub-2-second fills, junk addresses
    "scanned": 0.28,  # corporate subscribers whose mail gateway clicks every link
}
# Expected repeat units per lead when a run is not sized by --events.
REPEAT_UNITS: dict[Persona, float] = {
    "buyer": 14.0,
    "tyre_kicker": 4.0,
    "student": 3.0,
    "bot": 0.6,
    "scanned": 2.5,
}
# What one repeat unit is, by persona (weights).
UnitKind = Literal["open", "click", "social", "visit", "scan", "form", "signup"]
UNIT_MIX: dict[Persona, dict[UnitKind, float]] = {
    "buyer": {"open": 0.35, "click": 0.25, "social": 0.15, "visit": 0.25},
    "tyre_kicker": {"open": 0.50, "click": 0.15, "social": 0.10, "visit": 0.25},
    "student": {"open": 0.35, "click": 0.10, "social": 0.25, "visit": 0.30},
    "bot": {"form": 0.6, "signup": 0.4},
    "scanned": {"scan": 0.70, "open": 0.20, "visit": 0.10},
}
# What a visit goes on to see, by persona (weights of page kinds): buyers weigh prices and
# demos, tyre-kickers read, students read and look for jobs. Bots do not browse.
PAGE_INTEREST: dict[Persona, dict[str, float]] = {
    "buyer": {"pricing": 4, "demo": 2, "contact": 1.5, "product": 4, "docs": 1.5, "blog": 1,
              "careers": 0.1, "other": 1},
    "tyre_kicker": {"pricing": 1, "demo": 0.3, "contact": 0.3, "product": 2.5, "docs": 2.5,
                    "blog": 3, "careers": 0.3, "other": 1},
    "student": {"pricing": 0.3, "demo": 0.1, "contact": 0.1, "product": 1, "docs": 1.5,
                "blog": 4, "careers": 2, "other": 1},
    "bot": {},
    "scanned": {"pricing": 0.5, "demo": 0.2, "contact": 0.2, "product": 1.5, "docs": 1,
                "blog": 2.5, "careers": 0.3, "other": 1},
}  # fmt: skip
# Job seekers (a trait, not a persona: shares of students and tyre-kickers) keep going back
# to the careers pages.
JOB_SEEKER_SHARE: dict[Persona, float] = {"student": 0.5, "tyre_kicker": 0.08}
JOB_SEEKER_CAREERS = 8.0
# Sessions after the link whose views carry only the cookie id (a subdomain or an app
# without the identify call): they count for the lead through the link.
ANONYMOUS_AFTER_LINK = 0.25
# A warm company's colleagues (companies.py), from the time the buyer pulls them in: a
# form now and then, a visit or two with a buyer's interest, and half of their own activity.
COMMITTEE_FORM_SHARE = 0.4
COMMITTEE_VISITS = (1, 2)
COMMITTEE_TIMES = 0.5  # share of its moments of activity in the committee's time
# A CRM syncs its contacts' account minutes to a day after the lead first shows up.
ASSOCIATION_DELAY = (300.0, 86400.0)
GATEWAY_SHARE = 0.2  # buyers and tyre-kickers behind a scanning gateway
ERASED_SHARE = 0.015  # leads that ask to be forgotten (lead.erased) at the end
HUMAN_MIN_DELAY = 120.0  # people open mail minutes after it is sent, scanners in seconds
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    sent_at: float
    links: tuple[str, ...]


def campaign_calendar(rng: random.Random, start: float, end: float) -> list[Campaign]:
    """Newsletters and nurture mails every 2-4 days, sent in office hours."""
    campaigns: list[Campaign] = []
    day = math.floor(start / DAY) * DAY
    while True:
        day += DAY * rng.randint(2, 4)
        sent = day + 3600 * rng.uniform(8, 15)
        if sent >= end - 3600:
            return campaigns
        stamp = datetime.fromtimestamp(sent, UTC).strftime("%Y%m%d")
        links = tuple(_link(rng, stamp) for _ in range(rng.randint(3, 5)))
        campaigns.append(Campaign(f"cmp-{stamp}-{rng.choice(d.LIST_IDS)}", sent, links))


def _link(rng: random.Random, campaign: str) -> str:
    # Tracked campaign links: the page and the campaign, as marketing tools write them.
    return f"{d.URL_BASE}{rng.choice(d.LANDING_PAGES)}?utm_source=email&utm_campaign={campaign}"


def make_lead(rng: random.Random, persona: Persona, start: float, end: float) -> Lead:
    """A lead of `persona` who appears in [start, end) (buyers early: they warm up for weeks)."""
    span = end - start
    lo, hi = {"buyer": (0.45, 1.0), "scanned": (0.3, 1.0)}.get(persona, (0.05, 1.0))
    arrived = end - span * rng.uniform(lo, hi)
    first, last = rng.choice(d.FIRST_NAMES), rng.choice(d.LAST_NAMES)
    lead_id = f"lead-{rng.getrandbits(48):012x}"
    lead = Lead(lead_id, persona, arrived, first, last, "", "US")
    lead.anonymous_id, lead.browser = web.anonymous_id(rng), rng.choice(d.BROWSER_AGENTS)
    lead.job_seeker = rng.random() < JOB_SEEKER_SHARE.get(persona, 0.0)
    _PROFILES[persona](rng, lead)
    return lead


def _business_profile(rng: random.Random, lead: Lead, icp: float, sizes: Sequence[int]) -> None:
    """A company of the lead's own (the population may make it a colleague's: companies.py)."""
    country = rng.choice(d.ICP_COUNTRIES if rng.random() < icp else d.OTHER_COUNTRIES)
    companies.join(lead, companies.draw(rng, country, sizes))


def _buyer(rng: random.Random, lead: Lead) -> None:
    _business_profile(rng, lead, icp=0.95, sizes=(60, 120, 250, 400, 800, 1500, 5000))
    lead.job_title = rng.choice(
        rng.choices((d.EXECUTIVE_TITLES, d.DIRECTOR_TITLES, d.MANAGER_TITLES), (3, 5, 2))[0]
    )
    lead.gateway = rng.random() < GATEWAY_SHARE


def _tyre_kicker(rng: random.Random, lead: Lead) -> None:
    _business_profile(rng, lead, icp=0.6, sizes=(3, 10, 25, 40, 80, 150, 300))
    titles = (d.INDIVIDUAL_TITLES, d.MANAGER_TITLES, d.DIRECTOR_TITLES)
    lead.job_title = rng.choice(rng.choices(titles, (5, 4, 1))[0])
    lead.gateway = rng.random() < GATEWAY_SHARE


def _scanned(rng: random.Random, lead: Lead) -> None:
    _business_profile(rng, lead, icp=0.8, sizes=(50, 200, 500, 1000, 3000, 10000))
    lead.job_title = rng.choice(d.MANAGER_TITLES + d.INDIVIDUAL_TITLES + d.DIRECTOR_TITLES)
    lead.gateway = True


def _student(rng: random.Random, lead: Lead) -> None:
    lead.country = rng.choice(d.ICP_COUNTRIES + d.OTHER_COUNTRIES)
    local = f"{local_part(lead.first_name)}.{local_part(lead.last_name)}"
    lead.email = f"{local}{rng.randint(1, 99)}@{rng.choice(d.FREE_MAIL)}"
    if rng.random() < 0.35:  # typed in a hurry on a phone
        lead.first_name, lead.last_name = lead.first_name.lower(), lead.last_name.lower()
    lead.job_title = rng.choice(d.STUDENT_TITLES)
    if rng.random() < 0.5:
        lead.company, lead.industry = rng.choice(d.UNIVERSITIES), "education"
    lead.company_size = rng.choice((None, None, 0, 1))


def _bot(rng: random.Random, lead: Lead) -> None:
    lead.country = rng.choice(d.ICP_COUNTRIES + d.OTHER_COUNTRIES)
    token = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 9)))
    if rng.random() < 0.6:
        lead.first_name, lead.last_name = token, token[::-1]
    else:
        lead.first_name, lead.last_name = lead.first_name.lower(), lead.last_name.lower()
    domains = d.DISPOSABLE_MAIL if rng.random() < 0.5 else d.FREE_MAIL
    lead.email = f"{token}{rng.randint(100, 99999)}@{rng.choice(domains)}"
    lead.company = rng.choice((None, token, "test", "asdf"))


_PROFILES: dict[Persona, Callable[[random.Random, Lead], None]] = {
    "buyer": _buyer,
    "tyre_kicker": _tyre_kicker,
    "student": _student,
    "bot": _bot,
    "scanned": _scanned,
}


# --- events ------------------------------------------------------------------------------


class LeadPlanner:
    """Plans one lead's events within [lead.arrived, end]."""

    def __init__(
        self, rng: random.Random, lead: Lead, campaigns: Sequence[Campaign], end: float
    ) -> None:
        self.rng, self.lead, self.end = rng, lead, end
        # Seeded by the lead alone: every round of a run sees the same welcome mail.
        welcome_at = lead.arrived + random.Random(lead.lead_id).uniform(60, 600)
        welcome = Campaign(f"welcome-{lead.lead_id[-6:]}", welcome_at, (_link(rng, "welcome"),))
        received = [c for c in campaigns if c.sent_at > lead.arrived]
        self.inbox = [welcome, *received] if welcome_at < end - 600 else received

    @property
    def span(self) -> float:
        return max(self.end - self.lead.arrived, 1.0)

    def when(self) -> float:
        """A moment of activity: buyers' intensity rises towards the end (density grows with
        the square of elapsed time), bots act within minutes, others at any time."""
        u = self.rng.random()
        if self.lead.persona == "buyer":
            return self.lead.arrived + self.span * math.pow(u, 1 / 3)
        committee = self.lead.committee_from
        if committee is not None and self.rng.random() < COMMITTEE_TIMES:
            return committee + max(self.end - committee, 0.0) * math.sqrt(u)
        if self.lead.persona == "bot":
            return min(self.lead.arrived + 900 * u, self.end)
        return self.lead.arrived + self.span * u

    def _pick_campaign(self) -> Campaign | None:
        if not self.inbox:
            return None
        if self.lead.persona != "buyer":
            return self.rng.choice(self.inbox)
        rel = [((c.sent_at - self.lead.arrived) / self.span) ** 2 + 0.05 for c in self.inbox]
        return self.rng.choices(self.inbox, rel)[0]

    def _message_id(self, campaign: Campaign) -> str:
        return f"{campaign.campaign_id}.{self.lead.lead_id.removeprefix('lead-')}"

    def milestones(self) -> list[Planned]:
        plan = _MILESTONES[self.lead.persona](self) + _committee_forms(self)
        plan += _email_status(self, plan)
        plan = [p for p in plan if p[0] <= self.end]
        plan += _web_milestones(self, plan) + _committee_visits(self)
        return plan + _association(self, plan)

    def unit(self, kind: UnitKind) -> list[Planned]:
        return _UNITS[kind](self)

    def erasure(self, last: float) -> Planned:
        at = min(last + self.rng.uniform(3600, 2 * DAY), self.end)
        return (max(at, last), {"type": "lead.erased"})

    # --- building blocks ---------------------------------------------------------------

    def signup(self, at: float) -> Planned:
        lead = self.lead
        doc: Doc = {"type": "signup", "email": lead.email, "first_name": lead.first_name}
        doc.update(last_name=lead.last_name, list_id=self.rng.choice(d.LIST_IDS))
        doc["source"] = self.rng.choice(d.SIGNUP_SOURCES)
        return (at, doc)

    def form(self, at: float, form_id: str, answers: Doc | None = None) -> Planned:
        lead = self.lead
        doc: Doc = {"type": "form.submitted", "form_id": form_id, "email": lead.email}
        doc.update(first_name=lead.first_name, last_name=lead.last_name, country=lead.country)
        for name in ("company", "job_title", "company_size", "industry"):
            value = getattr(lead, name)
            if value is not None:
                doc[name] = value
        if answers is not None:
            doc["answers"] = answers
        # People take half a minute or more; bots fill in under two seconds.
        doc["fill_seconds"] = round(self.rng.uniform(20, 240) if lead.human else 0.0, 2)
        return (at, doc)

    def open_(self, campaign: Campaign, delay: float, agent: str) -> Planned | None:
        at = campaign.sent_at + delay
        if at > self.end:
            return None
        doc: Doc = {"type": "email.opened", "campaign_id": campaign.campaign_id}
        doc.update(message_id=self._message_id(campaign), user_agent=agent)
        doc["sent_at"] = campaign.sent_at
        return (at, doc)

    def click(self, campaign: Campaign, delay: float, url: str, agent: str) -> Planned | None:
        planned = self.open_(campaign, delay, agent)
        if planned is None:
            return None
        planned[1].update(type="email.clicked", url=url)
        return planned

    def human_delay(self) -> float:
        """Minutes to days after sending (log-normal, median about two hours)."""
        return max(HUMAN_MIN_DELAY, self.rng.lognormvariate(math.log(7200), 1.3))

    @property
    def interest(self) -> dict[str, float]:
        interest = PAGE_INTEREST[self.lead.persona]
        if self.lead.job_seeker:
            return {**interest, "careers": JOB_SEEKER_CAREERS}
        return interest

    def pages(self, first: web.Page | None = None) -> list[web.Page]:
        """A visit's pages: `first` (or one of interest), then a few more of interest."""
        more = web.pick_pages(self.rng, self.interest, poisson(self.rng, web.EXTRA_PAGES_MEAN))
        return [first or web.pick_pages(self.rng, self.interest, 1)[0], *more]

    def visit(
        self,
        start: float,
        pages: Sequence[web.Page],
        referrer: str | None,
        entry_url: str | None = None,
    ) -> list[Planned]:
        """A session of the lead's browser, each view as the site saw it (see `seen`)."""
        views = web.session(self.rng, pages, start, referrer, self.lead.browser, entry_url)
        return self.as_seen(views, self.rng.random() < ANONYMOUS_AFTER_LINK)

    def as_seen(self, views: list[Planned], unidentified: bool) -> list[Planned]:
        """The views within the lead's life and the window, each as the site saw it."""
        lead = self.lead
        return [self.seen(v, unidentified) for v in views if lead.arrived <= v[0] <= self.end]

    def seen(self, view: Planned, unidentified: bool) -> Planned:
        """Before the link the view carries the cookie id alone (keyed by it); after, the
        lead id too, unless the session does not identify the visitor again."""
        at, doc = view
        doc["anonymous_id"] = self.lead.anonymous_id
        linked = self.lead.linked_at
        if linked is None or at < linked or unidentified:
            doc["lead_id"] = None  # rendered without a lead id: the visitor is not known
        return view


# --- milestones by persona ---------------------------------------------------------------


def _buyer_milestones(p: LeadPlanner) -> list[Planned]:
    rng, lead = p.rng, p.lead
    plan = [p.signup(lead.arrived)]
    if rng.random() < 0.6:
        plan.append(
            p.form(lead.arrived + p.span * rng.uniform(0.2, 0.5), rng.choice(d.CONTENT_FORMS))
        )
    if rng.random() < 0.85:
        demo_at = lead.arrived + p.span * rng.uniform(0.75, 0.97)
        plan.append(p.form(demo_at, d.DEMO_FORM, _strong_answers(rng)))
        plan += _sales_follow_up(p, demo_at)
    return plan


def _sales_follow_up(p: LeadPlanner, demo_at: float) -> list[Planned]:
    rng = p.rng
    plan: list[Planned] = []
    at = demo_at + rng.uniform(3600, 3 * DAY)
    if rng.random() < 0.4:
        method = rng.choice(("sales_call", "sales_call", "double_opt_in"))
        plan.append((at, {"type": "lead.verified", "method": method}))
    roll = rng.random()
    if roll < 0.3:
        plan.append(
            (at + rng.uniform(DAY, 5 * DAY), {"type": "lead.outcome", "outcome": "converted"})
        )
    elif roll < 0.4:
        reason = rng.choice(("chose a competitor", "no budget this year", "went quiet"))
        doc = {"type": "lead.outcome", "outcome": "lost", "reason": reason}
        plan.append((at + rng.uniform(DAY, 5 * DAY), doc))
    return plan


def _strong_answers(rng: random.Random) -> Doc:
    return {
        "budget": float(rng.randrange(15_000, 150_000, 1000)),
        "authority": rng.choice(("decision_maker", "decision_maker", "influencer")),
        "need": rng.sample(d.NEEDS, rng.randint(1, 3)),
        "timeline": rng.choice(("now", "lt_3_months", "lt_3_months", "3_6_months")),
    }


def _weak_answers(rng: random.Random) -> Doc:
    budget = None if rng.random() < 0.5 else float(rng.randrange(500, 8000, 500))
    need = [] if rng.random() < 0.6 else [rng.choice(d.NEEDS)]
    return {
        "budget": budget,
        "authority": rng.choice(("user", "none", "influencer")),
        "need": need,
        "timeline": rng.choice(("gt_12_months", "none", "6_12_months")),
    }


def _tyre_kicker_milestones(p: LeadPlanner) -> list[Planned]:
    rng, lead = p.rng, p.lead
    plan = [p.signup(lead.arrived)] if rng.random() < 0.7 else []
    form_id = rng.choice(d.CONTACT_FORMS + d.CONTENT_FORMS)
    plan.append(p.form(lead.arrived + p.span * rng.uniform(0.1, 0.9), form_id, _weak_answers(rng)))
    plan += _maybe_disqualified(p, 0.1)
    return plan


def _maybe_disqualified(p: LeadPlanner, share: float) -> list[Planned]:
    if p.rng.random() >= share:
        return []
    reason = p.rng.choice(("no budget", "not a fit", "student project", "duplicate contact"))
    doc = {"type": "lead.outcome", "outcome": "disqualified", "reason": reason}
    return [(p.lead.arrived + p.span * p.rng.uniform(0.9, 1.0), doc)]


def _student_milestones(p: LeadPlanner) -> list[Planned]:
    rng, lead = p.rng, p.lead
    plan = [p.signup(lead.arrived)] if rng.random() < 0.8 else []
    if rng.random() < 0.7:
        answers = {"timeline": "none", "authority": "none"} if rng.random() < 0.5 else None
        at = lead.arrived + p.span * rng.uniform(0.05, 0.8)
        plan.append(p.form(at, rng.choice(d.CONTENT_FORMS), answers))
    plan += _maybe_disqualified(p, 0.05)
    return plan


def _bot_milestones(p: LeadPlanner) -> list[Planned]:
    plan = [_bot_form(p)]
    if p.rng.random() < 0.4:
        plan.append(p.signup(p.when()))
    return plan


def _bot_form(p: LeadPlanner) -> Planned:
    rng = p.rng
    at, doc = p.form(p.when(), rng.choice((*d.CONTACT_FORMS, d.NEWSLETTER_FORM)))
    doc["fill_seconds"] = round(rng.uniform(0.2, 1.9), 2)
    if rng.random() < 0.75:
        doc["honeypot"] = rng.choice(d.BOT_JUNK)
    return (at, doc)


def _scanned_milestones(p: LeadPlanner) -> list[Planned]:
    plan = [p.signup(p.lead.arrived)]
    if p.rng.random() < 0.3:
        plan.append(p.form(p.when(), d.NEWSLETTER_FORM))
    return plan


_MILESTONES: dict[Persona, Callable[[LeadPlanner], list[Planned]]] = {
    "buyer": _buyer_milestones,
    "tyre_kicker": _tyre_kicker_milestones,
    "student": _student_milestones,
    "bot": _bot_milestones,
    "scanned": _scanned_milestones,
}


def _web_milestones(p: LeadPlanner, plan: list[Planned]) -> list[Planned]:
    """The visit that ends in each form, and at the first form the identity link (the
    form's email names the visitor). Sets `lead.linked_at`, which later rounds reuse."""
    if not p.lead.human:
        return []
    forms = sorted((item for item in plan if item[1]["type"] == "form.submitted"), key=_time)
    if not forms:
        return []  # never identified: its views stay the visitor's
    p.lead.linked_at = forms[0][0]
    link = {"type": "identity.linked", "anonymous_id": p.lead.anonymous_id}
    out: list[Planned] = [(p.lead.linked_at, link)]
    for at, doc in forms:
        out += _form_visit(p, at, doc)
    return out


def _form_visit(p: LeadPlanner, at: float, form: Doc) -> list[Planned]:
    """A visit ending on the form's page, left while the form was being filled in."""
    entry, referrer = web.entry(p.rng, p.interest)
    pages = [entry] if p.rng.random() < 0.6 else []  # else straight to the form (a link, a tab)
    pages.append(web.form_page(form["form_id"]))
    # Timed from 0, then moved to end on the form's page as the filling-in begins.
    views = web.session(p.rng, pages, 0.0, referrer, p.lead.browser)
    shift = at - form["fill_seconds"] - p.rng.uniform(1, 5) - max(t for t, _ in views)
    return p.as_seen([(t + shift, doc) for t, doc in views], unidentified=False)


def _time(item: Planned) -> float:
    return item[0]


# --- companies: buying committees and the CRM's accounts ---------------------------------


def _committee_forms(p: LeadPlanner) -> list[Planned]:
    """A warm company's colleague fills in a form once pulled in, now and then."""
    start = p.lead.committee_from
    if start is None or p.rng.random() >= COMMITTEE_FORM_SHARE:
        return []
    at = start + max(p.end - start, 0.0) * p.rng.uniform(0.1, 1.0)
    return [p.form(at, p.rng.choice(d.CONTACT_FORMS + d.CONTENT_FORMS))]


def _committee_visits(p: LeadPlanner) -> list[Planned]:
    """A warm company's colleague looks at prices and the product, more so as time goes on
    (visits before its first form are its cookie's: they count once it is linked)."""
    start = p.lead.committee_from
    if start is None:
        return []
    interest = PAGE_INTEREST["buyer"]
    plan: list[Planned] = []
    for _ in range(p.rng.randint(*COMMITTEE_VISITS)):
        at = start + max(p.end - start, 0.0) * math.sqrt(p.rng.random())
        entry, referrer = web.entry(p.rng, interest)
        more = web.pick_pages(p.rng, interest, poisson(p.rng, web.EXTRA_PAGES_MEAN))
        plan += p.visit(at, [entry, *more], referrer)
    return plan


def _association(p: LeadPlanner, plan: list[Planned]) -> list[Planned]:
    """The CRM associates a lead of a company it knows with the company's account, with
    the account's firmographics, some time after the lead first shows up."""
    lead = p.lead
    if lead.account_id is None or not plan:
        return []
    at = min(at for at, _ in plan) + p.rng.uniform(*ASSOCIATION_DELAY)
    if at > p.end:
        return []
    doc: Doc = {"type": "lead.associated", "account_id": lead.account_id}
    for name in ("company", "company_size", "industry", "country"):
        value = getattr(lead, name)
        if value is not None:
            doc[name] = value
    return [(at, doc)]


# --- bounces, unsubscribes, complaints, recycling -----------------------------------------

# Per persona: (hard bounce, soft bounce, unsubscribe, spam complaint) shares of leads.
EMAIL_STATUS_SHARES: dict[Persona, tuple[float, float, float, float]] = {
    "buyer": (0.0, 0.03, 0.02, 0.0),
    "tyre_kicker": (0.02, 0.04, 0.10, 0.02),
    "student": (0.05, 0.03, 0.12, 0.03),
    "bot": (0.35, 0.10, 0.0, 0.0),
    "scanned": (0.0, 0.02, 0.03, 0.0),
}
RESUBSCRIBE_SHARE = 0.3  # of hard-bounced and unsubscribed people, who sign up again later
SCANNER_UNSUBSCRIBE_SHARE = 0.25  # of scanned leads: the gateway follows the unsubscribe link
RECYCLE_SHARE = 0.5  # of lost or disqualified leads, sent back to nurture


def _email_status(p: LeadPlanner, plan: list[Planned]) -> list[Planned]:
    """Delivery and consent events: a person's opt-outs (minutes to days after a send), a
    gateway that follows the unsubscribe link within seconds, bounces, and closed leads
    sent back to nurture (lead.recycled)."""
    rng, lead = p.rng, p.lead
    hard, soft, unsubscribe, complaint = EMAIL_STATUS_SHARES[lead.persona]
    out: list[Planned] = []
    campaign = p._pick_campaign()
    if campaign is not None:
        sent = campaign.sent_at
        ids: Doc = {"campaign_id": campaign.campaign_id, "message_id": p._message_id(campaign)}
        person_at = sent + p.human_delay()
        roll = rng.random()
        if roll < hard + soft:
            kind = "hard" if roll < hard else "soft"
            out.append((sent + rng.uniform(1, 300), {"type": "email.bounced", "bounce_type": kind}))
        elif roll < hard + soft + unsubscribe:
            agent = rng.choice(d.HUMAN_AGENTS)
            out.append(
                (person_at, {"type": "email.unsubscribed", "sent_at": sent, "user_agent": agent})
            )
        elif roll < hard + soft + unsubscribe + complaint:
            out.append((person_at, {"type": "email.complained"}))
        opted_out = [at for at, doc in out if doc.get("bounce_type") != "soft"]
        if opted_out and lead.human and rng.random() < RESUBSCRIBE_SHARE:
            out.append(p.signup(opted_out[0] + rng.uniform(DAY, 20 * DAY)))
        if lead.persona == "scanned" and rng.random() < SCANNER_UNSUBSCRIBE_SHARE:
            agent = rng.choice(d.SCANNER_AGENTS)  # the gateway follows the link: not the person
            doc = {"type": "email.unsubscribed", "sent_at": sent, "user_agent": agent}
            out.append((sent + rng.uniform(2, 30), doc))
        for _at, doc in out:
            if doc["type"] != "signup":
                doc.update(ids)
    closed = [at for at, doc in plan if doc.get("outcome") in ("lost", "disqualified")]
    if closed and rng.random() < RECYCLE_SHARE:
        doc = {"type": "lead.recycled", "reason": "back to nurture"}
        out.append((closed[0] + rng.uniform(3600, 2 * DAY), doc))
    return out


# --- repeat units ------------------------------------------------------------------------


def _open_unit(p: LeadPlanner) -> list[Planned]:
    campaign = p._pick_campaign()
    if campaign is None:
        return _social_unit(p)
    planned = p.open_(campaign, p.human_delay(), p.rng.choice(d.HUMAN_AGENTS))
    return [planned] if planned else []


def _click_unit(p: LeadPlanner) -> list[Planned]:
    """A person's click, and mostly the visit it opens on the site."""
    campaign = p._pick_campaign()
    if campaign is None:
        return _social_unit(p)
    url = p.rng.choice(campaign.links)
    delay = p.human_delay() + p.rng.uniform(5, 600)
    planned = p.click(campaign, delay, url, p.rng.choice(d.HUMAN_AGENTS))
    if planned is None:
        return []
    if p.rng.random() >= web.CLICK_LANDS:
        return [planned]
    pages = p.pages(web.page_of_link(url))
    start = planned[0] + p.rng.uniform(1, 6)
    return [planned, *p.visit(start, pages, p.rng.choice(d.WEBMAIL_REFERRERS), url)]


def _visit_unit(p: LeadPlanner) -> list[Planned]:
    """A visit of the site from a search, a social post or the address bar."""
    entry, referrer = web.entry(p.rng, p.interest)
    return p.visit(p.when(), p.pages(entry), referrer)


def _social_unit(p: LeadPlanner) -> list[Planned]:
    doc = {"type": "social.interaction", "network": p.rng.choice(d.SOCIAL_NETWORKS)}
    doc["action"] = p.rng.choice(d.SOCIAL_ACTIONS)
    return [(p.when(), doc)]


def _scan_unit(p: LeadPlanner) -> list[Planned]:
    """A mail gateway opens the message and follows every link within seconds of sending."""
    campaign = p._pick_campaign()
    if campaign is None:
        return []
    rng = p.rng
    # Most gateways announce themselves; some only give away their timing and bursts.
    agent = rng.choice(d.SCANNER_AGENTS) if rng.random() < 0.7 else rng.choice(d.HUMAN_AGENTS)
    start = rng.uniform(2, 60)
    opened = p.open_(campaign, start, agent)
    plan = [opened] if opened else []
    renders = rng.random() < web.SCANNER_RENDERS
    for url in campaign.links:
        clicked = p.click(campaign, start + rng.uniform(0.1, 4.0), url, agent)
        if clicked:
            plan.append(clicked)
        if clicked and renders:
            plan.append(_rendered(p, clicked[0], url))
    return plan


def _rendered(p: LeadPlanner, clicked_at: float, url: str) -> Planned:
    """The gateway's headless browser loads a followed link: a page view with the lead id
    of the tracked link, in a sandbox without cookies, with a crawler's agent."""
    agent = p.rng.choice(d.RENDERING_SCANNER_AGENTS)
    session_id = f"sess-{p.rng.getrandbits(64):016x}"
    at = min(clicked_at + p.rng.uniform(0.3, 3.0), p.end)
    return web.view(at, web.page_of_link(url), url, None, session_id, agent)


def _form_unit(p: LeadPlanner) -> list[Planned]:
    return [_bot_form(p)]


def _signup_unit(p: LeadPlanner) -> list[Planned]:
    return [p.signup(p.when())]


_UNITS: dict[UnitKind, Callable[[LeadPlanner], list[Planned]]] = {
    "open": _open_unit,
    "click": _click_unit,
    "social": _social_unit,
    "visit": _visit_unit,
    "scan": _scan_unit,
    "form": _form_unit,
    "signup": _signup_unit,
}
# Events one unit produces on average (a scan is an open plus 3-5 clicks, and when the
# gateway renders the pages, a view of each).
UNIT_EVENTS: dict[UnitKind, float] = {
    "open": 1.0,
    "click": 1.0 + web.CLICK_LANDS * web.VISIT_EVENTS,
    "social": 1.0,
    "visit": web.VISIT_EVENTS,
    "scan": 5.0 + web.SCANNER_RENDERS * 4.0,
    "form": 1.0,
    "signup": 1.0,
}


def unit_mix(lead: Lead) -> dict[UnitKind, float]:
    """The lead's repeat-unit weights; a gateway adds scanner bursts to a person's mail."""
    mix = dict(UNIT_MIX[lead.persona])
    if lead.gateway and lead.persona in ("buyer", "tyre_kicker"):
        mix["scan"] = 0.15
    return mix


def events_per_unit(lead: Lead) -> float:
    mix = unit_mix(lead)
    return sum(w * UNIT_EVENTS[k] for k, w in mix.items()) / sum(mix.values())
