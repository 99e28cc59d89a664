"""Visits to the vendor's web site: pages, sessions, and crawlers.

A visit is one session (one `session_id`) of a few page views, each referred by the page
before it, sometimes with a reload of the same page. Who is seen viewing (a lead, or only
the visitor's cookie id) is the persona planner's business (personas.py): here a view has
everything but its viewer. Crawler visits are complete: anonymous visitors that never
identify, seen by no lead.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from streams.tools.simulate import data as d
from streams.tools.simulate.plan import Planned
from streams.tools.simulate.sampling import poisson

EXTRA_PAGES_MEAN = 1.5  # pages after the first of a visit (Poisson)
RELOAD_SHARE = 0.08  # views followed by a reload of the same page, in the same session
CLICK_LANDS = 0.7  # email clicks whose landing page loads the site's tag (others bounce)
SCANNER_RENDERS = 0.5  # gateway bursts that open the links in a headless browser
# Views per visit on average (the end of the window cuts a few short).
VISIT_EVENTS = (1 + EXTRA_PAGES_MEAN) * (1 + RELOAD_SHARE)
CRAWLER_SHARE = 0.05  # of a sized round's messages: crawler visits
CRAWLS_PER_LEAD = 0.1  # crawler visits per lead in a round of natural size (also ~5%)
CRAWL_PAGES_MEAN = 6.0  # pages after the first of a crawl (Poisson)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of the site."""

    kind: str  # what the default model's page rules call it (pricing, blog, ...)
    url: str
    title: str


PAGES = tuple(Page(kind, url, title) for kind, url, title in d.SITE)
PAGES_BY_KIND: Mapping[str, tuple[Page, ...]] = {
    kind: tuple(p for p in PAGES if p.kind == kind) for kind in dict.fromkeys(p.kind for p in PAGES)
}
PAGE_AT: Mapping[str, Page] = {p.url: p for p in PAGES}
HOME = PAGE_AT[d.URL_BASE]


def page_of_link(url: str) -> Page:
    """The page a link opens (a campaign link carries utm parameters after the page)."""
    return PAGE_AT[url.partition("?")[0]]


def form_page(form_id: str) -> Page:
    """The page a form sits on."""
    return PAGE_AT[d.FORM_PAGES[form_id]]


def pick_pages(rng: random.Random, interest: Mapping[str, float], n: int) -> list[Page]:
    """`n` pages, their kinds drawn by the visitor's interest (weights per kind)."""
    kinds = rng.choices(list(interest), list(interest.values()), k=n)
    return [rng.choice(PAGES_BY_KIND[kind]) for kind in kinds]


def entry(rng: random.Random, interest: Mapping[str, float]) -> tuple[Page, str | None]:
    """Where a visit of its own starts, and its referrer: a search result or a social post
    leads to a page the visitor cares about, a typed address to the home page."""
    roll = rng.random()
    if roll < 0.55:
        return pick_pages(rng, interest, 1)[0], rng.choice(d.SEARCH_REFERRERS)
    if roll < 0.65:
        return pick_pages(rng, interest, 1)[0], rng.choice(d.SOCIAL_REFERRERS)
    return HOME, None


def session(
    rng: random.Random,
    pages: Sequence[Page],
    start: float,
    referrer: str | None,
    agent: str,
    entry_url: str | None = None,
) -> list[Planned]:
    """Views of `pages` in turn from `start` (the first at `entry_url` when given: a
    campaign link with its utm parameters), each referred by the one before."""
    session_id = f"sess-{rng.getrandbits(64):016x}"
    views: list[Planned] = []
    at = start
    for n, page in enumerate(pages):
        url = entry_url if n == 0 and entry_url else page.url
        views.append(view(at, page, url, referrer, session_id, agent))
        if rng.random() < RELOAD_SHARE:  # the same page again minutes later: it counts once
            views.append(view(at + rng.uniform(2, 600), page, url, referrer, session_id, agent))
        referrer, at = url, at + dwell(rng)
    return views


def view(
    at: float, page: Page, url: str, referrer: str | None, session_id: str, agent: str
) -> Planned:
    doc = {"type": "page.viewed", "url": url, "title": page.title}
    if referrer is not None:
        doc["referrer"] = referrer
    doc.update(session_id=session_id, user_agent=agent)
    return (at, doc)


def dwell(rng: random.Random) -> float:
    """Seconds on a page before the next (log-normal, median 45 s, at most 15 minutes)."""
    return min(rng.lognormvariate(math.log(45), 0.9), 900.0)


def anonymous_id(rng: random.Random) -> str:
    """A visitor cookie id, as analytics tags mint them."""
    return f"anon-{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def crawl(rng: random.Random, start: float, end: float) -> list[Planned]:
    """One crawler visit: many pages seconds apart, a fresh cookie (crawlers keep none),
    no referrer, and no lead behind it."""
    agent, visitor = rng.choice(d.CRAWLER_AGENTS), anonymous_id(rng)
    session_id = f"sess-{rng.getrandbits(64):016x}"
    at = rng.uniform(start, end)
    views: list[Planned] = []
    for page in rng.sample(PAGES, min(len(PAGES), 1 + poisson(rng, CRAWL_PAGES_MEAN))):
        if at > end:
            break
        planned = view(at, page, page.url, None, session_id, agent)
        planned[1]["anonymous_id"] = visitor
        views.append(planned)
        at += rng.uniform(0.5, 15)
    return views


def crawls(
    rng: random.Random, leads: int, window: tuple[float, float], budget: int | None
) -> list[Planned]:
    """A round's crawler visits: CRAWLER_SHARE of a sized round's messages, or
    CRAWLS_PER_LEAD visits per lead in a round of natural size."""
    views: list[Planned] = []
    if budget is None:
        for _ in range(round(leads * CRAWLS_PER_LEAD)):
            views += crawl(rng, *window)
    else:
        while len(views) < budget * CRAWLER_SHARE:
            views += crawl(rng, *window)
    return views
