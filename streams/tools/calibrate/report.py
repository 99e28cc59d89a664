"""The calibration report: one dict (written as JSON) and its rendering as a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.tools.calibrate.method import Calibration


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Ranking quality on the held-out leads."""

    rows: int
    control_rate: float | None
    auc: float | None
    auc_equal_points: float | None
    top_decile_rate: float | None
    deciles: tuple[tuple[int, float], ...] = ()  # (leads, conversion rate), best tenth first


def build(
    cal: Calibration,
    ev: Evaluation,
    context: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """The report as plain data; `context` adds provenance (paths, versions, settings)."""
    activities = {
        name: {
            "leads": f.leads,
            "converted": f.converted,
            "rate": _r(f.rate),
            "rate_low": _r(f.rate_low),
            "lift": _r(f.lift),
            "beats_control": f.beats_control,
            "below_control": f.below_control,
            "points": f.points,
            "cap": f.cap,
        }
        for name, f in sorted(cal.activities.items(), key=lambda kv: -kv[1].points)
    }
    lift = None
    if ev.top_decile_rate is not None and ev.control_rate:
        lift = ev.top_decile_rate / ev.control_rate
    return {
        **context,
        "rows_train": cal.rows,
        "rows_holdout": ev.rows,
        "control_rate": _r(cal.control_rate),
        "holdout_control_rate": _r(ev.control_rate),
        "scale": _r(cal.scale),
        "activities": activities,
        "auc_holdout": _r(ev.auc),
        "auc_equal_points": _r(ev.auc_equal_points),
        "top_decile_rate": _r(ev.top_decile_rate),
        "top_decile_lift": _r(lift),
        "lift": [
            {
                "decile": d,
                "leads": leads,
                "rate": _r(converted),
                "lift": _r(converted / ev.control_rate) if ev.control_rate else None,
            }
            for d, (leads, converted) in enumerate(ev.deciles, start=1)
        ],
        "warnings": warnings(cal, ev),
        "seconds": round(seconds, 3),
    }


def warnings(cal: Calibration, ev: Evaluation) -> list[str]:
    """What a reader of the report should not miss."""
    out = [f"{a}: no column in the history, it now earns 0 points" for a in cal.missing]
    unseen = [a for a, f in cal.activities.items() if f.leads == 0]
    out += [f"{a}: no training lead did it, it earns 0 points" for a in unseen]
    if ev.rows == 0:
        out.append("no held-out rows: ranking quality not measured")
    elif ev.auc is None:
        out.append("held-out rows are all one outcome: AUC undefined")
    if not any(f.beats_control for f in cal.activities.values()):
        out.append("no activity beats the control: engagement will always be 0")
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def render(report: dict[str, Any], console: Console) -> None:
    """Print the report as a table and a few summary lines."""
    control = report["control_rate"]
    table = Table(title=f"Calibration: control rate {control:.1%} ({report['rows_train']} leads)")
    table.add_column("activity", no_wrap=True)
    for col in ("leads", "converted", "rate", "lift", "vs control"):
        table.add_column(col, justify="right")
    table.add_column("points", justify="right", style="bold")  # = cap: see method.py
    for name, a in report["activities"].items():
        table.add_row(
            name,
            str(a["leads"]),
            str(a["converted"]),
            _pct(a["rate"]),
            "-" if a["lift"] is None else f"{a['lift']:.2f}x",
            "above" if a["beats_control"] else "below" if a["below_control"] else "-",
            f"{a['points']:g}",
        )
    console.print(table)
    console.print(
        f"held out {report['rows_holdout']} leads: AUC {_num(report['auc_holdout'])}"
        f" (equal points {_num(report['auc_equal_points'])}); top decile converts"
        f" {_pct(report['top_decile_rate'])} vs {_pct(report['holdout_control_rate'])} overall"
    )
    console.print(f"model_version {report['model_version']}, {report['seconds']:.2f} s")
    for w in report["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {w}")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"
