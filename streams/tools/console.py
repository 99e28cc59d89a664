"""`leadscore console`: the web console (streams/console/) in one process.

It follows leads.scores, leads.alerts, accounts.scores, accounts.alerts and leads.model from
their start (no consumer group: any number of consoles run side by side) and serves the
pages on LEADSCORE_CONSOLE_BIND:LEADSCORE_CONSOLE_PORT. A lead's factors and history come
from the workers' API (LEADSCORE_CONSOLE_API_URL).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated

import typer

from schemas.topics import MODEL, SCORES, Topic
from streams.console.board import ConsoleBoard
from streams.console.server import Console, serve
from streams.kafka.admin import missing_topics
from streams.settings import Settings
from streams.tools.tail import FOLLOWED, follow, stop_after, stop_on_signals

CONSOLE_TOPICS: tuple[Topic, ...] = (*FOLLOWED, MODEL)


class ConsoleError(RuntimeError):
    """The console cannot start (its topics are missing)."""


async def run_console(
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[str], None] | None = None,
    board: ConsoleBoard | None = None,
) -> None:
    """Serve the console until `stop` is set; `on_ready(url)` once it listens. `board`: the
    caller's, to read what the console saw."""
    names = {settings.topic(t): t for t in CONSOLE_TOPICS}
    missing = set(await missing_topics(settings, list(names)))
    if settings.topic(SCORES) in missing:
        raise ConsoleError(f"missing topic {settings.topic(SCORES)} (leadscore topics create)")
    followed = tuple(t for name, t in names.items() if name not in missing)
    caught_up = asyncio.Event()
    board = board or ConsoleBoard(show_emails=settings.console_show_emails)
    console = Console(settings, board, caught_up)
    runner = await serve(console)
    try:
        if on_ready is not None:
            on_ready(settings.console_url)
        await follow(
            settings,
            console.on_message,
            from_beginning=True,
            stop=stop,
            followed=followed,
            caught_up=caught_up,
        )
    finally:
        await runner.cleanup()


def console(
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds")
    ] = None,
) -> None:
    """Serve the web console: live leaderboard, lead pages (why a lead scored, its history),
    alerts, accounts, the model in force."""
    from streams.settings import get_settings
    from streams.tools.kafka import errors_as_exit, require_broker

    with errors_as_exit():  # bad settings, no broker, refused credentials or ACLs: one line
        settings = get_settings()
        require_broker(settings)
    try:
        asyncio.run(_console(settings, duration))
    except (ConsoleError, OSError) as exc:
        typer.echo(f"leadscore console: {exc}", err=True)
        raise typer.Exit(1) from None


async def _console(settings: Settings, duration: float | None) -> None:
    stop = asyncio.Event()
    with stop_on_signals(stop):
        timer = asyncio.create_task(stop_after(stop, duration))
        await run_console(settings, stop, lambda url: typer.echo(f"console at {url}"))
        timer.cancel()
