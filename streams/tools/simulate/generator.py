"""The pure traffic generator: a seed in, a reproducible stream of Kafka messages out.

No Kafka or file I/O here: `generate` yields `SimEvent`s (contract topic, key, value bytes)
that the `leadscore simulate` command sends to Kafka or writes as JSONL, and that the
benchmarks reuse.

A run is a population of `leads` leads living through the last `days` days, business leads
grouped into companies (companies.py), and crawlers visiting the site (web.py). Events are
planned per lead (personas.py), then merged in event-time order, so buyers (and the
companies they pull in) warm up as the stream goes on and their demo requests come late,
as in real life. With `events` set, the repeat activity is sized so the run has
exactly that many messages (faults included); longer runs go on with more activity of the
same leads, in rounds of bounded size so memory stays flat. With `events=None` the stream
never ends: each round is a new population.
"""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.topics import TOPIC_OF_TYPE
from streams.tools.simulate import companies, web
from streams.tools.simulate.faults import Faults, SimEvent, inject
from streams.tools.simulate.personas import (
    DAY,
    ERASED_SHARE,
    PERSONA_SHARES,
    REPEAT_UNITS,
    Campaign,
    LeadPlanner,
    campaign_calendar,
    events_per_unit,
    make_lead,
    unit_mix,
)
from streams.tools.simulate.plan import Lead, Planned
from streams.tools.simulate.sampling import poisson

ROUND_CAP = 100_000  # clean events planned at once (memory), longer runs take more rounds


def generate(
    seed: int,
    leads: int = 500,
    events: int | None = None,
    days: float = 30.0,
    faults: Faults | None = None,
    now: datetime | None = None,
) -> Iterator[SimEvent]:
    """Simulated traffic: `events` messages (None: without end) from `leads` leads whose
    event times spread over the `days` before `now` (default: the current time).

    The same arguments give the same messages, byte for byte (pass `now` to fix the times).
    """
    if leads < 1 or days <= 0 or (events is not None and events < 0):
        raise ValueError("leads must be >= 1, days > 0 and events >= 0")
    faults = Faults() if faults is None else faults
    end = (now or datetime.now(UTC)).timestamp()
    clean = _clean(seed, leads, events, days, faults, end)
    stream = inject(clean, faults, random.Random(f"{seed}/faults"))
    return stream if events is None else itertools.islice(stream, events)


def _clean(
    seed: int, leads: int, events: int | None, days: float, faults: Faults, end: float
) -> Iterator[SimEvent]:
    start = end - days * DAY
    window = (start, end)
    campaigns = campaign_calendar(random.Random(f"{seed}/campaigns"), start, end)
    if events is None:
        for number in itertools.count():
            population = _population(seed, number, leads, start, end)
            yield from _round(seed, number, population, campaigns, window, None, True)
        return
    # Faults add messages; plan a little more than needed, `generate` cuts the stream exactly.
    wanted = math.ceil(events / (1 + faults.extra_share) * 1.02) + 10
    population = _population(seed, 0, leads, start, end)
    made = 0
    for number in itertools.count():
        budget = min(ROUND_CAP, max(wanted - made, 1000))
        for event in _round(seed, number, population, campaigns, window, budget, number == 0):
            made += 1
            yield event


def _population(seed: int, number: int, leads: int, start: float, end: float) -> list[Lead]:
    rng = random.Random(f"{seed}/population/{number}")
    personas = rng.choices(list(PERSONA_SHARES), list(PERSONA_SHARES.values()), k=leads)
    population = [make_lead(rng, persona, start, end) for persona in personas]
    for lead in population:
        lead.erased = rng.random() < ERASED_SHARE
    companies.gather(random.Random(f"{seed}/companies/{number}"), population, number, end)
    return population


def _round(
    seed: int,
    number: int,
    population: Sequence[Lead],
    campaigns: Sequence[Campaign],
    window: tuple[float, float],
    budget: int | None,
    milestones: bool,
) -> Iterator[SimEvent]:
    """One round's events in event-time order. `budget` None: each lead's natural activity."""
    rng = random.Random(f"{seed}/round/{number}")
    crawls = web.crawls(random.Random(f"{seed}/{number}/crawlers"), len(population), window, budget)
    planners = [
        LeadPlanner(random.Random(f"{seed}/{number}/{i}"), lead, campaigns, window[1])
        for i, lead in enumerate(population)
    ]
    lead_budget = None if budget is None else budget - len(crawls)
    plans = _lead_plans(rng, planners, lead_budget, milestones)
    plans.append(crawls)  # planned by no lead: its index is past the population's end
    planned = [(item[0], i, n, item) for i, plan in enumerate(plans) for n, item in enumerate(plan)]
    planned.sort(key=lambda entry: entry[:3])
    for _at, i, _n, item in planned:
        yield _render(rng, population[i] if i < len(population) else None, item)


def _lead_plans(
    rng: random.Random, planners: Sequence[LeadPlanner], budget: int | None, milestones: bool
) -> list[list[Planned]]:
    """Each lead's planned events of the round: milestones (first round), repeat activity,
    and the erasure after everything else of an erased lead."""
    plans = [p.milestones() if milestones else [] for p in planners]
    _add_activity(rng, [p.lead for p in planners], planners, plans, budget)
    for planner, plan in zip(planners, plans, strict=True):
        if milestones and planner.lead.erased and plan:
            plan.append(planner.erasure(max(at for at, _ in plan)))
    return plans


def _add_activity(
    rng: random.Random,
    population: Sequence[Lead],
    planners: Sequence[LeadPlanner],
    plans: list[list[Planned]],
    budget: int | None,
) -> None:
    """Repeat activity on top of the milestones, up to `budget` events when one is set. Some
    units come out empty (a mail opened after the window ends), so short rounds are topped
    up: a round that meets its budget keeps the whole run in event-time order."""
    for _ in range(4):
        missing = None if budget is None else budget - sum(map(len, plans))
        if missing is not None and missing <= 0:
            return
        units = _units(rng, population, missing)
        for i, planner in enumerate(planners):
            plans[i] += _activity(planner, units[i])
        if budget is None:
            return


def _units(rng: random.Random, population: Sequence[Lead], events: int | None) -> list[int]:
    """Repeat units per lead: natural (Poisson) counts, or a budget of events shared out by
    persona weight (buyers and scanned mailboxes do most)."""
    if events is None:
        return [poisson(rng, REPEAT_UNITS[lead.persona]) for lead in population]
    weights = [0.0 if lead.erased else REPEAT_UNITS[lead.persona] for lead in population]
    if events <= 0 or not any(weights):
        return [0] * len(population)
    total = sum(weights)
    per_unit = sum(w * events_per_unit(lead) for w, lead in zip(weights, population, strict=True))
    count = round(events / (per_unit / total))
    chosen = Counter(rng.choices(range(len(population)), weights, k=count))
    return [chosen[i] for i in range(len(population))]


def _activity(planner: LeadPlanner, units: int) -> list[Planned]:
    if not units:
        return []
    mix = unit_mix(planner.lead)
    kinds = planner.rng.choices(list(mix), list(mix.values()), k=units)
    return [item for kind in kinds for item in planner.unit(kind)]


def _render(rng: random.Random, lead: Lead | None, item: Planned) -> SimEvent:
    """The message of a planned event of `lead` (None: a crawler's view)."""
    at, body = item
    doc = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "lead_id": None if lead is None else lead.lead_id,
        "type": body["type"],
        "occurred_at": rfc3339(at),
    }
    doc.update((k, rfc3339(v) if k == "sent_at" else v) for k, v in body.items() if k != "type")
    if doc["lead_id"] is None:
        del doc["lead_id"]  # a visitor not known (yet): its view carries the cookie id only
    return SimEvent(
        topic=TOPIC_OF_TYPE[doc["type"]],
        key=message_key(doc).encode(),
        value=orjson.dumps(doc),
        lead_id=None if lead is None else lead.lead_id,
        persona="crawler" if lead is None else lead.persona,
        kind=doc["type"],
    )


def message_key(doc: dict[str, Any]) -> str:
    """The contract's key (schemas.events.routing_key) of an event document, without
    validating it: a link's and an anonymous view's is the visitor's cookie id."""
    if doc["type"] == "identity.linked" or "lead_id" not in doc:
        key: str = doc["anonymous_id"]
        return key
    lead_id: str = doc["lead_id"]
    return lead_id


def rfc3339(unix: float) -> str:
    """2026-11-01T09:00:00.123Z: milliseconds, UTC, as most producers write it."""
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
