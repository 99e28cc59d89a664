"""`leadscore topics create|list`: the contract topics (schemas/topics.py) on a broker."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from schemas import topics
from streams.kafka.admin import (
    BrokerUnavailableError,
    CreateTopicsReport,
    TopicDescription,
    create_topics,
    describe_topics,
    list_topics,
    probe_broker,
)
from streams.settings import Settings, get_settings
from streams.tools.kafka import broker_connection, errors_as_exit

topics_app = typer.Typer(no_args_is_help=True, add_completion=False)


@topics_app.command("create")
def create(
    partitions: Annotated[
        int | None, typer.Option(min=1, help="Partitions per topic [default: settings]")
    ] = None,
) -> None:
    """Create every contract topic (idempotent); LEADSCORE_* settings apply."""
    with errors_as_exit():
        settings = get_settings()
        with broker_connection(settings):
            report = asyncio.run(_create(settings, partitions))
    _print_report(report, partitions or settings.partitions)
    if report.partition_mismatch:
        raise typer.Exit(1)


async def _require_broker(settings: Settings) -> None:
    # Fails fast on a closed port; broker_connection tells why (address, credentials, TLS).
    if await probe_broker(settings) is None:
        raise BrokerUnavailableError(f"no Kafka broker answers at {settings.kafka_bootstrap}")


async def _create(settings: Settings, partitions: int | None) -> CreateTopicsReport:
    await _require_broker(settings)
    return await create_topics(settings, partitions)


def _print_report(report: CreateTopicsReport, partitions: int) -> None:
    for name in report.created:
        typer.echo(f"created  {name}")
    for name in report.existing:
        typer.echo(f"exists   {name}")
    for name, actual in report.partition_mismatch.items():
        typer.echo(
            f"warning: {name} has {actual} partitions, not {partitions}: input topics must be "
            "co-partitioned",
            err=True,
        )
    typer.echo(f"{len(report.created)} created, {len(report.existing)} already existed")


@topics_app.command("list")
def list_() -> None:
    """List the topics under the configured prefix, with partitions and cleanup policy."""
    with errors_as_exit():
        settings = get_settings()
        with broker_connection(settings):
            described = asyncio.run(_describe_all(settings))
    for topic in described.values():
        typer.echo(f"{topic.name:<48} partitions={topic.partitions:<3} {topic.cleanup_policy}")
    missing = [n for n in map(settings.topic, topics.ALL) if n not in described]
    if missing:
        typer.echo(f"missing contract topics: {', '.join(missing)}", err=True)


async def _describe_all(settings: Settings) -> dict[str, TopicDescription]:
    await _require_broker(settings)
    return await describe_topics(settings, await list_topics(settings))
