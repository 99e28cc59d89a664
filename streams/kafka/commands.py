"""`leadscore kafka ...` (a local broker) and `leadscore topics ...` (the contract topics)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from streams.kafka.admin import (
    CreateTopicsReport,
    TopicAdminError,
    TopicDescription,
    create_topics,
    describe_topics,
    list_topics,
    probe_broker,
)
from streams.kafka.local import LocalKafka, LocalKafkaError, MissingToolError, UpResult
from streams.kafka.topics import contract_topic_names
from streams.settings import Settings, get_settings

kafka_app = typer.Typer(no_args_is_help=True, add_completion=False)
topics_app = typer.Typer(no_args_is_help=True, add_completion=False)

EXIT_NOT_RUNNING = 3  # LSB status convention: "program is not running"


@contextmanager
def _errors() -> Iterator[None]:
    """Known failures as one message and an exit code instead of a traceback."""
    try:
        yield
    except MissingToolError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        typer.echo(f"error: invalid LEADSCORE_* settings: {exc}", err=True)
        raise typer.Exit(2) from None
    except (LocalKafkaError, TopicAdminError, KafkaError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _local() -> LocalKafka:
    return LocalKafka(say=typer.echo)


@kafka_app.command()
def up(
    fresh: Annotated[bool, typer.Option("--fresh", help="Wipe the broker's data first.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker.")] = 90.0,
) -> None:
    """Start the local broker (127.0.0.1:9092) unless it runs already."""
    with _errors():
        result = _local().up(fresh=fresh, timeout=timeout)
    typer.echo(_describe_up(result))


def _describe_up(result: UpResult) -> str:
    if result.started:
        return (
            f"Kafka is up at {result.bootstrap} (pid {result.pid}) after {result.seconds:.1f} s; "
            f"log: {result.log}"
        )
    if result.pid is None:
        return f"Kafka already answers at {result.bootstrap}; nothing started"
    where = f"bootstrap {result.bootstrap}, log {result.log}"
    return f"Kafka is already running: pid {result.pid}, {where}"


@kafka_app.command()
def down(
    timeout: Annotated[float, typer.Option(help="Seconds before SIGKILL.")] = 30.0,
) -> None:
    """Stop the broker that `leadscore kafka up` started."""
    with _errors():
        stopped = _local().down(timeout=timeout)
    typer.echo("Kafka stopped" if stopped else "Kafka is not running; nothing to stop")


@kafka_app.command()
def status() -> None:
    """Say whether the local broker runs (exit 0) or not (exit 3)."""
    with _errors():
        current = _local().status()
    typer.echo(current.describe())
    if not current.running:
        raise typer.Exit(EXIT_NOT_RUNNING)


@topics_app.command("create")
def create(
    partitions: Annotated[
        int | None, typer.Option(min=1, help="Partitions per topic [default: settings]")
    ] = None,
) -> None:
    """Create every contract topic (idempotent); LEADSCORE_* settings apply."""
    with _errors():
        settings = get_settings()
        report = asyncio.run(_create(settings, partitions))
    _print_report(report, partitions or settings.partitions)
    if report.partition_mismatch:
        raise typer.Exit(1)


async def _require_broker(settings: Settings) -> None:
    if await probe_broker(settings) is None:
        raise TopicAdminError(
            f"no Kafka broker answers at {settings.kafka_bootstrap} "
            "(LEADSCORE_KAFKA_BOOTSTRAP; `leadscore kafka up` starts a local one)"
        )


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
    with _errors():
        settings = get_settings()
        described = asyncio.run(_describe_all(settings))
    for topic in described.values():
        typer.echo(f"{topic.name:<48} partitions={topic.partitions:<3} {topic.cleanup_policy}")
    missing = [n for n in map(settings.topic, contract_topic_names()) if n not in described]
    if missing:
        typer.echo(f"missing contract topics: {', '.join(missing)}", err=True)


async def _describe_all(settings: Settings) -> dict[str, TopicDescription]:
    await _require_broker(settings)
    return await describe_topics(settings, await list_topics(settings))
