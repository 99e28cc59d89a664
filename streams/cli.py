"""The `leadscore` command: one entry point, one sub-command module per concern."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.command()
def worker() -> None:
    """Run a scoring worker (settings from LEADSCORE_* environment variables)."""
    from pydantic import ValidationError

    from streams.app.worker import run_worker
    from streams.core.model import ModelError
    from streams.kafka.admin import TopicAdminError
    from streams.settings import Settings, settings_error

    try:
        settings = Settings()
        run_worker(settings)
    except ValidationError as exc:
        typer.echo(f"leadscore worker: refusing to start: {settings_error(exc)}", err=True)
        raise typer.Exit(2) from None
    except (ModelError, TopicAdminError) as exc:
        typer.echo(f"leadscore worker: refusing to start: {_one_line(exc)}", err=True)
        raise typer.Exit(2) from None


@app.command()
def score(
    events: Path = typer.Argument(..., help="JSONL file of input events ('-' for stdin)"),
    model: Path | None = typer.Option(None, help="model file (default: the packaged one)"),
) -> None:
    """Score a JSONL file of events offline with the worker's core; print final scores."""
    import orjson

    from schemas.codec import encode
    from streams.core.model import ScoringModel
    from streams.offline import score_lines

    scoring = ScoringModel.load(model)
    stream = sys.stdin.buffer if str(events) == "-" else events.open("rb")
    with stream:
        run = score_lines(stream, scoring)
    out = sys.stdout.buffer
    for update in run.final_scores():
        out.write(encode(update) + b"\n")
    summary = {"outcomes": dict(run.outcomes), "invalid": dict(run.errors), "alerts": run.alerts}
    sys.stderr.write(orjson.dumps(summary).decode() + "\n")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


def _register() -> None:
    # Imported here so `leadscore --help` stays fast and each concern owns its commands.
    from streams.calibrate.commands import register as register_calibration
    from streams.demo import demo
    from streams.kafka.commands import kafka_app, topics_app
    from streams.modelctl import model_app
    from streams.simulate.command import HELP as SIMULATE_HELP
    from streams.simulate.command import simulate
    from streams.tail import tail

    app.add_typer(kafka_app, name="kafka", help="Run a local single-node Kafka 4.x broker.")
    app.add_typer(topics_app, name="topics", help="Create and list leadscore's topics.")
    app.add_typer(model_app, name="model", help="Check and publish scoring models.")
    register_calibration(app)  # `history`, `calibrate`
    app.command("simulate", help=SIMULATE_HELP)(simulate)
    app.command("tail")(tail)
    app.command("demo")(demo)


def main() -> None:
    """Console-script entry point."""
    _register()
    app()


if __name__ == "__main__":
    main()
