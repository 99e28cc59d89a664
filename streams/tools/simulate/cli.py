"""`leadscore simulate`: realistic lead traffic to Kafka or a JSONL file."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from streams.tools.simulate.companies import TEAM_SHARE
from streams.tools.simulate.faults import Faults, SimEvent
from streams.tools.simulate.generator import generate
from streams.tools.simulate.output import SendStats, progress_bar, send_to_kafka, write_jsonl
from streams.tools.simulate.personas import PERSONA_SHARES
from streams.tools.simulate.web import CRAWLER_SHARE

EVENTS_PER_LEAD = 12  # the default run size when neither --events nor --duration is given

_PERSONAS = ", ".join(f"{name} {share:.0%}" for name, share in PERSONA_SHARES.items())
HELP = (
    "Send realistic simulated lead traffic to Kafka (or write it as JSONL).\n\n"
    f"Personas (share of leads): {_PERSONAS}. Event times spread over the last --days days; "
    "buyers' activity rises towards the end.\n\n"
    "Leads browse the vendor's site (leads.web) as anonymous visitors until their first form "
    "links their cookie to them (identity.linked); crawlers add about "
    f"{CRAWLER_SHARE:.0%} of the messages, anonymous views that never identify.\n\n"
    f"Business leads work at companies; {TEAM_SHARE:.0%} of them at companies of 2-8 people "
    "sharing one email domain, which leadscore scores as one account. Some "
    "companies warm up as a buyer pulls colleagues in; some are in the CRM, whose "
    "lead.associated events name their account (acct-0042). Free-mail leads have none.\n\n"
    "Faults (--duplicates, --out-of-order, --malformed) are probabilities per event; "
    "malformed messages are extra, broken copies that the worker must dead-letter.\n\n"
    "The same --seed (and --now) gives the same messages."
)

Probability = Annotated[float, typer.Option(min=0.0, max=1.0)]


def simulate(
    seed: Annotated[
        int | None, typer.Option(help="Random seed (default: random, printed at the end)")
    ] = None,
    leads: Annotated[
        int, typer.Option(min=1, help="Leads (an endless run adds this many per round)")
    ] = 500,
    events: Annotated[
        int | None, typer.Option(min=0, help="Messages to send (default: 12 per lead)")
    ] = None,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds")
    ] = None,
    rate: Annotated[float, typer.Option(min=0.0, help="Messages per second; 0 = max")] = 0.0,
    days: Annotated[float, typer.Option(min=0.01, help="Event times span the last N days")] = 30.0,
    duplicates: Probability = 0.02,
    out_of_order: Probability = 0.05,
    malformed: Probability = 0.01,
    now: Annotated[
        datetime | None, typer.Option(help="End of the event-time window, UTC (default: now)")
    ] = None,
    jsonl: Annotated[
        Path | None, typer.Option(help="Write JSONL here ('-' = stdout) instead of Kafka")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Send realistic simulated lead traffic to Kafka (or write it as JSONL)."""
    seed = random.randrange(2**31) if seed is None else seed
    if events is None and duration is None:
        events = EVENTS_PER_LEAD * leads
    if events is None and rate > 0 and duration is not None:
        events = int(rate * duration)  # known in advance: the bar gets an ETA
    # typer parses naive datetimes; the option documents UTC.
    anchor = datetime.now(UTC) if now is None else now.replace(tzinfo=now.tzinfo or UTC)
    faults = Faults(duplicates, out_of_order, malformed)
    stream = generate(seed, leads, events, days, faults, anchor)
    with progress_bar(events, quiet) as bar:

        def tick(_event: SimEvent) -> None:
            bar.update()

        if jsonl is not None:
            stats = _to_jsonl(jsonl, stream, rate, duration, tick)
        else:
            stats = _to_kafka(stream, rate, duration, tick)
    typer.echo(f"{stats.summary()} (seed {seed})", err=True)


def _to_jsonl(
    path: Path,
    stream: Iterator[SimEvent],
    rate: float,
    duration: float | None,
    tick: Callable[[SimEvent], None],
) -> SendStats:
    with ExitStack() as stack:
        out = sys.stdout.buffer if str(path) == "-" else stack.enter_context(path.open("wb"))
        return write_jsonl(out, stream, rate=rate, duration=duration, on_sent=tick)


def _to_kafka(
    stream: Iterator[SimEvent],
    rate: float,
    duration: float | None,
    tick: Callable[[SimEvent], None],
) -> SendStats:
    from pydantic import ValidationError

    from streams.settings import get_settings, settings_error
    from streams.tools.kafka import BrokerConnectError, errors_as_exit, require_broker

    try:
        settings = get_settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid LEADSCORE_* settings: {settings_error(exc)}", err=True)
        raise typer.Exit(2) from None
    try:
        require_broker(settings)
    except BrokerConnectError as exc:
        typer.echo(f"error: {exc}; or write the traffic to a file with --jsonl FILE", err=True)
        raise typer.Exit(1) from None
    with errors_as_exit():  # e.g. a principal without a Write ACL: one line
        return asyncio.run(
            send_to_kafka(settings, stream, rate=rate, duration=duration, on_sent=tick)
        )
