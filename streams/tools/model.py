"""`leadscore model check|publish`: validate a model file, or roll it out to running workers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from aiokafka import AIOKafkaProducer

from schemas.topics import MODEL
from streams.core.model import ModelError, ScoringModel
from streams.kafka.clients import client_kwargs
from streams.settings import Settings

model_app = typer.Typer(no_args_is_help=True, add_completion=False)

# One key: the compacted topic keeps only the model in force.
MODEL_KEY = b"model"


def _load(path: Path) -> ScoringModel:
    try:
        return ScoringModel.load(path)
    except ModelError as exc:
        typer.echo(f"invalid model: {exc}", err=True)
        raise typer.Exit(2) from None


@model_app.command("check")
def check(path: Path) -> None:
    """Validate a model file; exit 2 naming the file and field when it is invalid."""
    model = _load(path)
    typer.echo(f"{path}: ok, model_version {model.model_version}")


@model_app.command("publish")
def publish(path: Path) -> None:
    """Validate, then publish a model to the model topic: workers re-score with it."""
    model = _load(path)
    settings = Settings()
    asyncio.run(publish_text(settings, path.read_bytes()))
    typer.echo(f"published model_version {model.model_version} to {settings.topic(MODEL)}")


async def publish_text(settings: Settings, text: bytes) -> None:
    """Produce a model file's bytes to the model topic (workers validate it again)."""
    producer = AIOKafkaProducer(acks="all", **client_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(MODEL), text, key=MODEL_KEY)
    finally:
        await producer.stop()
