"""`leadscore history` and `leadscore calibrate`: the CLI side of calibration."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from streams.core.model import ModelError, ScoringModel
from streams.tools.calibrate.evaluate import (
    decile_rates,
    engagement_scores,
    equal_points_model,
    rate,
    roc_auc,
    top_decile_rate,
)
from streams.tools.calibrate.history import write_csv
from streams.tools.calibrate.method import CalibrationError, calibrate, model_text, split
from streams.tools.calibrate.reader import History, HistoryError, Lead, read_history
from streams.tools.calibrate.report import Evaluation, build, render


def register(app: typer.Typer) -> None:
    """Add the commands to the `leadscore` app."""
    app.command("history")(history)
    app.command("calibrate")(calibrate_command)


def history(
    leads: int = typer.Option(10000, min=1, help="number of leads (rows)"),
    seed: int = typer.Option(0, help="random seed: the same seed gives the same rows"),
) -> None:
    """Write a synthetic history export (CSV, one row per lead) with a planted answer to stdout."""
    try:
        write_csv(sys.stdout, leads, seed)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed the pipe: not an error for a generator
        sys.stderr.close()


def calibrate_command(
    history_path: Path = typer.Argument(
        ..., metavar="HISTORY", help="CSV or JSONL export ('-': stdin)"
    ),
    model: Path | None = typer.Option(None, help="base model file (default: the packaged one)"),
    out: Path | None = typer.Option(None, help="write the calibrated model here (default: stdout)"),
    report: Path | None = typer.Option(None, help="also write the report as JSON here"),
    holdout: float = typer.Option(0.3, help="share of leads held out to measure ranking"),
    seed: int = typer.Option(0, help="seed of the train/holdout split"),
) -> None:
    """Fit activity points to a history export (docs/contract.md s6); write model and report."""
    started = time.perf_counter()
    try:
        base = ScoringModel.load(model)
        data = read_history(history_path)
        train, held = split(data.leads, holdout, seed)
        cal = calibrate(train, data.activities, base)
        text = model_text(base, cal, str(history_path))
        # Validate exactly as a worker does on the model topic before anyone sees it.
        calibrated = ScoringModel.parse_text(text, "calibrated model")
    except (ModelError, HistoryError, CalibrationError) as exc:
        typer.echo(f"leadscore calibrate: {exc}", err=True)
        raise typer.Exit(2) from None
    ev = _evaluate(held, calibrated, data)
    context = _context(history_path, base, calibrated, holdout, seed)
    doc = build(cal, ev, context, time.perf_counter() - started)
    _write(out, text)
    if report is not None:
        report.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    # The table goes to stdout unless stdout carries the model.
    render(doc, Console(stderr=out is None))


def _evaluate(held: list[Lead], model: ScoringModel, data: History) -> Evaluation:
    labels = [lead.converted for lead in held]
    scores = engagement_scores(held, model)
    equal = engagement_scores(held, equal_points_model(model, data.activities))
    return Evaluation(
        rows=len(held),
        control_rate=rate(labels),
        auc=roc_auc(scores, labels),
        auc_equal_points=roc_auc(equal, labels),
        top_decile_rate=top_decile_rate(scores, labels),
        deciles=tuple(decile_rates(scores, labels)),
    )


def _context(
    path: Path, base: ScoringModel, model: ScoringModel, holdout: float, seed: int
) -> dict[str, Any]:
    return {
        "history": str(path),
        "base_model_version": base.model_version,
        "model_version": model.model_version,
        "holdout": holdout,
        "seed": seed,
    }


def _write(out: Path | None, text: str) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        out.write_text(text, encoding="utf-8")
