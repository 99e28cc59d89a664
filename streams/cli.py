"""The `leadscore` command: one entry point, one line per sub-command.

The worker's command is here (it is the runtime); every other command is a tool, defined
in `streams.tools.X` for `leadscore X` (a module, or a package's `cli.py`).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Real-time lead scoring on Kafka: the worker and the tools beside it.",
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"leadscore {version('leadscore')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("leadscore (not installed: version unknown)")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Real-time lead scoring on Kafka: the worker and the tools beside it."""


@app.command()
def worker() -> None:
    """Run a scoring worker (settings from LEADSCORE_* environment variables)."""
    from pydantic import ValidationError

    from streams.app.worker import run_worker
    from streams.core import ModelError
    from streams.kafka.admin import TopicAdminError
    from streams.settings import Settings, settings_error
    from streams.tools.kafka import (
        AUTHORIZATION_ERRORS,
        BrokerConnectError,
        authorization_failure,
        broker_connection,
    )

    try:
        settings = Settings()
        run_worker(settings, preflight=broker_connection(settings))
    except ValidationError as exc:
        typer.echo(f"leadscore worker: refusing to start: {settings_error(exc)}", err=True)
        raise typer.Exit(2) from None
    except ModelError as exc:
        typer.echo(f"leadscore worker: refusing to start: {exc.one_line()}", err=True)
        raise typer.Exit(2) from None
    except (TopicAdminError, BrokerConnectError) as exc:
        typer.echo(f"leadscore worker: refusing to start: {_one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    except AUTHORIZATION_ERRORS as exc:
        typer.echo(f"leadscore worker: refusing to start: {authorization_failure(exc)}", err=True)
        raise typer.Exit(2) from None


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def register_commands() -> None:
    """Add the tools' commands (imported here so `leadscore --help` stays fast)."""
    from streams.tools.api_token import api_token
    from streams.tools.calibrate.cli import register as register_calibration
    from streams.tools.console import console
    from streams.tools.demo import demo
    from streams.tools.kafka import kafka_app
    from streams.tools.model import model_app
    from streams.tools.score import score
    from streams.tools.simulate.cli import HELP as SIMULATE_HELP
    from streams.tools.simulate.cli import simulate
    from streams.tools.tail import tail
    from streams.tools.topics import topics_app

    app.command("score")(score)
    app.add_typer(kafka_app, name="kafka", help="Run a local single-node Kafka 4.x broker.")
    app.add_typer(topics_app, name="topics", help="Create and list leadscore's topics.")
    app.add_typer(model_app, name="model", help="Check and publish scoring models.")
    register_calibration(app)  # `history`, `calibrate`
    app.command("simulate", help=SIMULATE_HELP)(simulate)
    app.command("tail")(tail)
    app.command("demo")(demo)
    app.command("console")(console)
    app.command("api-token")(api_token)


def main() -> None:
    """Console-script entry point."""
    register_commands()
    app()


if __name__ == "__main__":
    main()
