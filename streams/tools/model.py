"""`leadscore model check|publish`: validate a model file, or roll it out to running workers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer
from aiokafka import AIOKafkaProducer

from schemas.topics import MODEL
from streams.core.model import ModelError, ScoringModel
from streams.kafka.clients import client_kwargs
from streams.settings import Settings
from streams.tools.kafka import broker_connection, errors_as_exit

model_app = typer.Typer(no_args_is_help=True, add_completion=False)

# One key: the compacted topic keeps only the model in force.
MODEL_KEY = b"model"


def _load(path: Path, exit_code: int) -> ScoringModel:
    try:
        return ScoringModel.load(path)
    except ModelError as exc:
        typer.echo(f"error: {exc.one_line()}", err=True)
        raise typer.Exit(exit_code) from None


@model_app.command("check")
def check(path: Path) -> None:
    """Validate a model file; exit 1, naming the file and field, when it is invalid."""
    model = _load(path, 1)
    typer.echo(f"{path}: ok, model_version {model.model_version}")


@model_app.command("publish")
def publish(path: Path) -> None:
    """Validate, then publish a model to the model topic: workers re-score with it."""
    model = _load(path, 2)
    with errors_as_exit():
        settings = Settings()
        with broker_connection(settings):
            asyncio.run(publish_text(settings, path.read_bytes()))
    typer.echo(f"published model_version {model.model_version} to {settings.topic(MODEL)}")


async def publish_text(settings: Settings, text: bytes) -> None:
    """Produce a model file's bytes to the model topic (workers validate it again)."""
    producer = AIOKafkaProducer(acks="all", **client_kwargs(settings))
    try:
        await producer.start()  # inside: a producer that failed to start is closed too
        await producer.send_and_wait(settings.topic(MODEL), text, key=MODEL_KEY)
    finally:
        await producer.stop()


@model_app.command("diff")
def diff(
    candidate: Path = typer.Argument(..., help="the model file you would publish"),
    events: Path = typer.Argument(..., help="JSONL file of input events ('-' for stdin)"),
    current: Path | None = typer.Option(
        None, "--current", help="the model in force [default: the packaged one]"
    ),
    now: datetime | None = typer.Option(
        None,
        formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"],
        help="the time both models score as of [default: now; without an offset, UTC]",
    ),
    top: int = typer.Option(10, min=0, help="movers listed each way"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object instead of text"),
) -> None:
    """Score EVENTS with the current and the candidate model and show what would change:
    leads changing score, stage and grade, alerts per threshold, the biggest movers."""
    from streams.tools.model_diff import diff_runs, render
    from streams.tools.score import open_events, score_lines

    in_force = _load(current, 2) if current is not None else ScoringModel.load(None)
    models = (in_force, _load(candidate, 2))
    as_of = now.replace(tzinfo=now.tzinfo or UTC) if now is not None else datetime.now(UTC)
    try:
        with open_events(events) as (stream, _size):
            lines = stream.readlines()
    except OSError as exc:
        typer.echo(f"error: cannot read {events}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    runs = [score_lines(lines, model, as_of) for model in models]
    result = diff_runs(runs[0], runs[1], top)
    if as_json:
        typer.echo(orjson.dumps(result.as_dict()).decode())
    else:
        typer.echo(render(result))
