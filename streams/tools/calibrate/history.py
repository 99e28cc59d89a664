"""A synthetic history export with a planted answer: which activities lead to customers.

Each lead gets hidden traits (overall buying intent, email, social and browsing
habits, looking for a job), activity counts driven by those traits (so counts are
correlated the way real ones are: clicks need opens, a lead who comments also
likes, a lead who reads the blog also reads the docs), a
profile, and an outcome drawn from a logistic model in which each activity has
a known effect (`PLANTED_EFFECTS`). Calibration should recover that ordering
from the rows alone. Pure Python and streamed, one row at a time.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator
from typing import TextIO

from streams.core.model import ACTIVITIES
from streams.tools.simulate.sampling import poisson

# Log-odds added to conversion by an activity the lead did (once; repeats add up
# to twice that, with diminishing returns). The hidden truth calibration must find.
PLANTED_EFFECTS: dict[str, float] = {
    "form.submitted": 2.0,
    "email.clicked": 1.1,
    "social.comment": 0.8,
    "social.mention": 0.5,
    "email.opened": 0.4,
    "social.share": 0.3,
    "signup": 0.2,
    "social.click": 0.05,
    "social.follow": 0.0,
    "social.like": 0.0,
    # Negative signals: calibration should give these less than nothing.
    "email.unsubscribed": -1.5,
    "email.complained": -2.0,
    "email.bounced.hard": -2.5,
    "email.bounced.soft": 0.0,
    # Web pages by kind: buying pages say most, reading pages little, and a job seeker on
    # the careers pages is not a buyer.
    "page.demo": 1.6,
    "page.pricing": 1.4,
    "page.contact": 1.2,
    "page.product": 0.5,
    "page.docs": 0.3,
    "page.blog": 0.05,
    "page.other": 0.0,
    "page.careers": -1.2,
}

PROFILE_FIELDS = (
    "company_size",
    "industry",
    "country",
    "job_title",
    "authority",
    "timeline",
    "budget",
)
COLUMNS = ("lead_id", *ACTIVITIES, *PROFILE_FIELDS, "converted")

# Conversion log-odds of a lead with no activity and an average profile: about 5%.
BASE_LOG_ODDS = -3.3

_INDUSTRIES = (
    ("software", 0.3),
    ("saas", 0.8),
    ("fintech", 0.5),
    ("retail", 0.2),
    ("healthcare", 0.2),
    ("manufacturing", 0.1),
    ("education", -0.3),
    ("government", -0.5),
    ("agriculture", -0.4),
    ("non-profit", -0.6),
)
_COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "CA", "NL", "AU", "SE", "IN", "BR", "JP", "NO")
_TITLES = (
    ("CEO", "decision_maker"),
    ("Founder", "decision_maker"),
    ("VP Marketing", "decision_maker"),
    ("Head of Growth", "influencer"),
    ("Director of Sales", "influencer"),
    ("Marketing Manager", "influencer"),
    ("Team Lead", "user"),
    ("Software Engineer", "user"),
    ("Data Analyst", "user"),
    ("Student", "none"),
)
_AUTHORITY_EFFECT = {"decision_maker": 0.5, "influencer": 0.25, "user": 0.0, "none": -0.6}
_TIMELINES = ("now", "lt_3_months", "3_6_months", "6_12_months", "gt_12_months", "none")
_TIMELINE_EFFECT = (0.7, 0.5, 0.25, 0.0, -0.3, -0.5)


def generate_rows(leads: int, seed: int) -> Iterator[dict[str, str | int]]:
    """`leads` rows of a history export, the same rows for the same seed."""
    rnd = random.Random(seed)
    for i in range(leads):
        yield _lead(rnd, f"L{seed}-{i:07d}")


def write_csv(out: TextIO, leads: int, seed: int) -> None:
    """Stream the export as CSV (header first) to `out`."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in generate_rows(leads, seed):
        writer.writerow(row)


def _lead(rnd: random.Random, lead_id: str) -> dict[str, str | int]:
    # Hidden traits. Intent is shared by every channel: that is what correlates counts.
    intent = rnd.gauss(0, 1)
    counts = {**_email_counts(rnd, intent), **_social_counts(rnd, intent)}
    counts.update(_email_status_counts(rnd, intent))
    counts.update(_web_counts(rnd, intent))
    counts["signup"] = poisson(rnd, math.exp(-0.9 + 0.25 * intent))
    counts["form.submitted"] = poisson(rnd, math.exp(-2.0 + 0.6 * intent))
    profile, fit_log_odds = _profile(rnd, intent)
    log_odds = BASE_LOG_ODDS + fit_log_odds + rnd.gauss(0, 0.5)  # leads differ beyond the data
    log_odds += sum(PLANTED_EFFECTS[k] * _saturating(c) for k, c in counts.items())
    converted = int(rnd.random() < 1 / (1 + math.exp(-log_odds)))
    return {
        "lead_id": lead_id,
        **{k: counts[k] for k in ACTIVITIES},
        **profile,
        "converted": converted,
    }


def _email_counts(rnd: random.Random, intent: float) -> dict[str, int]:
    # Clicks can only follow opens, so the two are strongly correlated, as in real mail data.
    habit = rnd.gauss(0, 1)
    sent = rnd.randint(2, 10)
    opened = _binomial(rnd, sent, _sigmoid(-2.6 + 0.8 * habit + 0.3 * intent))
    clicked = _binomial(rnd, opened, _sigmoid(-1.2 + 0.4 * habit + 0.5 * intent))
    return {"email.opened": opened, "email.clicked": clicked}


def _email_status_counts(rnd: random.Random, intent: float) -> dict[str, int]:
    # Leads with little intent unsubscribe and complain more; bounces are bad addresses.
    return {
        "email.unsubscribed": int(rnd.random() < _sigmoid(-2.6 - 0.6 * intent)),
        "email.complained": int(rnd.random() < _sigmoid(-4.2 - 0.5 * intent)),
        "email.bounced.hard": int(rnd.random() < 0.03),
        "email.bounced.soft": int(rnd.random() < 0.05),
    }


def _social_counts(rnd: random.Random, intent: float) -> dict[str, int]:
    # Half the leads are not on social at all; the rest differ in how active they are.
    if rnd.random() < 0.5:
        return {k: 0 for k in ACTIVITIES if k.startswith("social.")}
    active = rnd.gauss(0, 1)
    return {
        "social.like": poisson(rnd, math.exp(0.4 + 0.7 * active)),
        "social.follow": poisson(rnd, math.exp(-1.2 + 0.4 * active)),
        "social.click": poisson(rnd, math.exp(-0.8 + 0.5 * active + 0.1 * intent)),
        "social.share": poisson(rnd, math.exp(-1.8 + 0.5 * active + 0.2 * intent)),
        "social.comment": poisson(rnd, math.exp(-2.0 + 0.2 * active + 0.3 * intent)),
        "social.mention": poisson(rnd, math.exp(-2.6 + 0.3 * active + 0.2 * intent)),
    }


def _web_counts(rnd: random.Random, intent: float) -> dict[str, int]:
    """Page views by kind, of the views that reached the lead (an identified visitor's).

    A third of the leads were never seen on the site under their identity. The others
    differ in how much they browse, which drives the reading pages; intent drives the
    buying pages; job seekers (a few) keep going back to the careers pages.
    """
    if rnd.random() < 0.35:
        return {k: 0 for k in ACTIVITIES if k.startswith("page.")}
    browse = rnd.gauss(0, 1)
    careers = -3.0 + (2.5 if rnd.random() < 0.08 else 0.0)
    return {
        "page.pricing": poisson(rnd, math.exp(-1.8 + 0.1 * browse + 0.7 * intent)),
        "page.demo": poisson(rnd, math.exp(-2.8 + 0.1 * browse + 0.8 * intent)),
        "page.contact": poisson(rnd, math.exp(-2.8 + 0.1 * browse + 0.6 * intent)),
        "page.product": poisson(rnd, math.exp(-0.8 + 0.5 * browse + 0.3 * intent)),
        "page.docs": poisson(rnd, math.exp(-1.2 + 0.6 * browse + 0.1 * intent)),
        "page.blog": poisson(rnd, math.exp(-0.5 + 0.6 * browse)),
        "page.other": poisson(rnd, math.exp(0.5 * browse)),
        "page.careers": poisson(rnd, math.exp(careers + 0.2 * browse)),
    }


def _profile(rnd: random.Random, intent: float) -> tuple[dict[str, str | int], float]:
    """Profile fields and their (modest) effect on conversion."""
    size = max(1, round(math.exp(rnd.gauss(3.6, 1.6))))
    industry, industry_effect = rnd.choice(_INDUSTRIES)
    title, authority = rnd.choice(_TITLES)
    # Leads with a near timeline engage a little more: a mild, realistic confounder.
    t = min(len(_TIMELINES) - 1, max(0, round(rnd.gauss(3.0 - 0.4 * intent, 1.4))))
    budget = "" if rnd.random() < 0.4 else round(math.exp(rnd.gauss(9.5, 1.2)), -2)
    effect = industry_effect + _AUTHORITY_EFFECT[authority] + _TIMELINE_EFFECT[t]
    effect += 0.2 * math.log10(size) - 0.3  # bigger companies buy a little more often
    profile: dict[str, str | int] = {
        "company_size": size,
        "industry": industry,
        "country": rnd.choice(_COUNTRIES),
        "job_title": title,
        "authority": authority,
        "timeline": _TIMELINES[t],
        "budget": budget if budget == "" else int(budget),
    }
    return profile, effect


def _saturating(count: int) -> float:
    """1 for one occurrence, up to 2 for many: repeats matter less and less."""
    return 2.0 * (1.0 - 0.5**count)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _binomial(rnd: random.Random, n: int, p: float) -> int:
    return sum(rnd.random() < p for _ in range(n))
