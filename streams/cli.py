"""The `leadscore` command: one entry point, one sub-command module per concern."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _register() -> None:
    # Imported here so `leadscore --help` stays fast and each concern owns its commands.
    from streams.kafka.commands import kafka_app, topics_app

    app.add_typer(kafka_app, name="kafka", help="Run a local single-node Kafka 4.x broker.")
    app.add_typer(topics_app, name="topics", help="Create and list leadscore's topics.")


def main() -> None:
    """Console-script entry point."""
    _register()
    app()


if __name__ == "__main__":
    main()
