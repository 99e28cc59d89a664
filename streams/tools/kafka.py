"""`leadscore kafka up|down|status`: the local single-node broker (streams/tools/broker.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from streams.kafka.admin import TopicAdminError
from streams.tools.broker import LocalKafka, LocalKafkaError, MissingToolError, UpResult

kafka_app = typer.Typer(no_args_is_help=True, add_completion=False)

EXIT_NOT_RUNNING = 3  # LSB status convention: "program is not running"


@contextmanager
def errors_as_exit() -> Iterator[None]:
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
    with errors_as_exit():
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
    with errors_as_exit():
        stopped = _local().down(timeout=timeout)
    typer.echo("Kafka stopped" if stopped else "Kafka is not running; nothing to stop")


@kafka_app.command()
def status() -> None:
    """Say whether the local broker runs (exit 0) or not (exit 3)."""
    with errors_as_exit():
        current = _local().status()
    typer.echo(current.describe())
    if not current.running:
        raise typer.Exit(EXIT_NOT_RUNNING)
