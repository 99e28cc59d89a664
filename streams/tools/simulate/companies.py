"""Companies: the employers of business leads, some of them with several people.

Every business lead (buyer, tyre-kicker, scanned subscriber) works at a company with an
email domain of its own. Most are the only person of their company the vendor hears from;
TEAM_SHARE of them are colleagues in companies of 2-8 people who share the company's
domain, name, size, industry and country, which the scoring core makes one account (by
the registrable domain of their business email). Students and bots use free-mail or
disposable addresses: they never form an account.

Some of these companies are warm: a buyer pulls colleagues in (a buying committee), who
from some point on read the pricing pages, click and fill in forms (`Lead.committee_from`,
personas.py), so the account warms up as the run goes on and crosses its threshold. A
minority of companies are also in the vendor's CRM: each of their people gets a
`lead.associated` event naming the CRM's account id (acct-0042), which the core prefers to
the domain.

Pure functions of a `random.Random`, like the rest of the simulator.
"""

from __future__ import annotations

import itertools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from streams.tools.simulate import data as d
from streams.tools.simulate.plan import Lead

BUSINESS_PERSONAS = ("buyer", "tyre_kicker", "scanned")
TEAM_SHARE = 0.4  # of business leads: in companies of several people
TEAM_SIZES = {2: 0.34, 3: 0.24, 4: 0.15, 5: 0.11, 6: 0.07, 7: 0.05, 8: 0.04}
WARM_SHARE = 0.35  # of buyers: their company is warm (colleagues join in late)
CRM_SHARE = 0.3  # of companies of several people: in the CRM (lead.associated)
RENAME_TRIES = 50  # draws of another name when a company's domain is taken


@dataclass(frozen=True, slots=True)
class Company:
    name: str
    domain: str
    industry: str
    size: int
    country: str
    account_id: str | None = None  # the CRM's id, when the company is in the CRM


def draw(rng: random.Random, country: str, sizes: Sequence[int]) -> Company:
    """A company in `country` of about one of `sizes` people, in an industry drawn with the
    default weights."""
    industry = rng.choice(d.INDUSTRIES)
    return _named(rng, industry, country, rng.choice(sizes) + rng.randint(0, 9))


def _named(rng: random.Random, industry: str, country: str, size: int) -> Company:
    stem = rng.choice(d.COMPANY_PREFIXES) + rng.choice(d.COMPANY_ROOTS)
    if rng.random() < 0.6:
        stem += " " + rng.choice(d.INDUSTRY_NOUNS[industry])
    domain = stem.replace(" ", "").lower() + d.COUNTRY_TLDS.get(country, ".com")
    name = stem + rng.choice(d.COUNTRY_SUFFIXES.get(country, d.COMPANY_SUFFIXES))
    return Company(name, domain, industry, size, country)


def join(lead: Lead, company: Company, taken: set[str] | None = None) -> None:
    """Make `lead` one of `company`'s people: its profile and its address at the company's
    domain (another form of the name when a colleague already has that address: `taken`
    holds the company's addresses so far)."""
    lead.company, lead.company_size = company.name, company.size
    lead.industry, lead.country = company.industry, company.country
    lead.account_id = company.account_id
    first, last = local_part(lead.first_name), local_part(lead.last_name)
    taken = set() if taken is None else taken
    forms = (f"{first}.{last}", f"{first[:1]}{last}", f"{first}.{last[:1]}")
    numbered = (f"{first}.{last}{n}" for n in itertools.count(2))
    local = next(c for c in itertools.chain(forms, numbered) if c not in taken)
    taken.add(local)
    lead.email = f"{local}@{company.domain}"


def gather(
    rng: random.Random, population: Sequence[Lead], number: int, end: float
) -> list[list[Lead]]:
    """Regroup a population's business leads (each drawn with a company of its own) into
    companies: teams of 2-8 people, TEAM_SHARE of the business leads in all, the first ones
    warm teams around a buyer; the others alone at their company. Every company of the
    population gets a domain of its own. Returns the teams (a warm team's buyer first)."""
    business = [lead for lead in population if lead.persona in BUSINESS_PERSONAS]
    rng.shuffle(business)
    target = round(TEAM_SHARE * len(business))
    anchors = [lead for lead in business if lead.persona == "buyer" and rng.random() < WARM_SHARE]
    chosen = {id(lead) for lead in anchors}
    rest = [lead for lead in business if id(lead) not in chosen]
    teams: list[tuple[list[Lead], bool]] = []
    grouped = 0
    for anchor in anchors:
        k = min(_team_size(rng), len(rest) + 1, target - grouped)
        if k < 2:
            rest.append(anchor)
            continue
        teams.append(([anchor, *rest[len(rest) - k + 1 :]], True))
        del rest[len(rest) - k + 1 :]
        grouped += k
    while grouped < target and len(rest) >= 2:
        k = max(2, min(_team_size(rng), len(rest), target - grouped))
        teams.append((rest[len(rest) - k :], False))
        del rest[len(rest) - k :]
        grouped += k
    crm = [team for team, _ in teams if rng.random() < CRM_SHARE]
    numbers = rng.sample(range(1, max(10_000, 4 * len(crm))), len(crm))
    ids = {id(team): _crm_id(number, n) for team, n in zip(crm, numbers, strict=True)}
    domains: set[str] = set()
    for team, warm in teams:
        company = _company_of(rng, team, domains, ids.get(id(team)))
        taken: set[str] = set()
        for lead in team:
            join(lead, company, taken)
        if warm:
            _committee(rng, team, end)
    for lead in rest:
        join(lead, _company_of(rng, [lead], domains, None))
    return [team for team, _ in teams]


def _team_size(rng: random.Random) -> int:
    return rng.choices(list(TEAM_SIZES), list(TEAM_SIZES.values()))[0]


def _crm_id(number: int, n: int) -> str:
    # Later rounds of an endless run are new populations: their ids must not collide.
    return f"acct-{n:04d}" if number == 0 else f"acct-{number}-{n:04d}"


def _company_of(
    rng: random.Random, team: Sequence[Lead], domains: set[str], account_id: str | None
) -> Company:
    """The company of a team: its first person's, big enough for all, with a domain no
    other company of the population has."""
    first = team[0]
    assert first.company is not None and first.company_size is not None
    size = first.company_size
    if len(team) > 1:
        size = max(size, 10 * len(team) + rng.randint(0, 30))
    country = first.country
    domain = first.email.rpartition("@")[2]
    company = Company(first.company, domain, first.industry or "software", size, country)
    tries = 0
    while company.domain in domains:
        tries += 1
        if tries > RENAME_TRIES:  # a crowded population: a numbered domain, unique
            stem, _, tld = company.domain.partition(".")
            company = replace(company, domain=f"{stem}{len(domains)}.{tld}")
            break
        company = _named(rng, company.industry, country, size)
    domains.add(company.domain)
    return replace(company, account_id=account_id)


def _committee(rng: random.Random, team: Sequence[Lead], end: float) -> None:
    """A warm team's buyer pulls its colleagues in some time after it arrived."""
    champion = team[0]
    start = champion.arrived + (end - champion.arrived) * rng.uniform(0.3, 0.7)
    for lead in team[1:]:
        lead.committee_from = max(start, lead.arrived)


def local_part(name: str) -> str:
    """Müller -> muller, O'Brien -> obrien: a name as the local part of an address."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return plain.lower().replace("'", "")
