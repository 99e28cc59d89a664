"""The printed table and bench/results/latest.json."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def _n(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:,.{digits}f}"


def render(r: dict[str, Any]) -> str:
    p, m = r["parameters"], r["machine"]
    thr = r["throughput"]
    lim_runs = ", ".join(_n(x["eps"]) for x in thr["limit_runs"])
    pipe_runs = ", ".join(_n(x["eps"]) for x in thr["pipeline_runs"])
    lat = r["latency"]
    core, state = r["core"], r["core"]["state_bytes"]
    wm = r.get("worker_memory", {})
    lim2_runs = ", ".join(_n(x["eps"]) for x in thr.get("limit_2_outputs_runs", []))
    stock = r.get("stock_faust_floor_eps")
    rows: list[tuple[str, str, str]] = [
        ("raw aiokafka, 1 output", f"{_n(r['limit_eps'])} ev/s", f"median of {lim_runs}"),
        (
            "raw aiokafka, 2 outputs",
            f"{_n(r.get('limit_2_outputs_eps'))} ev/s",
            f"an output and a state write per event; median of {lim2_runs}",
        ),
        (
            "stock Faust floor",
            f"{_n(stock)} ev/s",
            "Faust's defaults: a table write + a send per event, no processing (1 run)",
        ),
        (
            "leadscore's Faust floor",
            f"{_n(r['faust_floor_eps'])} ev/s",
            "the same on the worker's app, settings, table and sensors (1 run)",
        ),
        ("leadscore worker", f"{_n(r['pipeline_eps'])} ev/s", f"median of {pipe_runs}"),
    ]
    peer = r.get("quix_peer")
    if peer:
        rows.append(
            (
                "Quix Streams peer",
                f"{_n(peer['eps'])} ev/s",
                f"quixstreams {peer['quixstreams']}, the floor's job: per key a state "
                "read + write, one output (1 run)",
            )
        )
    rows += [
        ("ratio worker / raw, 1 output", f"{r['ratio']:.3f}", "the raw client's ceiling"),
    ]
    if peer:
        rows.append(
            ("ratio worker / Quix Streams peer", f"{r['pipeline_eps'] / peer['eps']:.3f}", "")
        )
    if r.get("limit_2_outputs_eps"):
        ratio2 = r["pipeline_eps"] / r["limit_2_outputs_eps"]
        rows.append(("ratio worker / raw, 2 outputs", f"{ratio2:.3f}", "a stateful job's ceiling"))
    if stock:
        rows.append(
            ("ratio worker / stock Faust floor", f"{r['pipeline_eps'] / stock:.2f}", "goal >= 1.2")
        )
    rows += [
        (
            "CPU per event",
            " / ".join(f"{_n(v)}" for v in r["cpu_us_per_event"].values()) + " us",
            " / ".join(r["cpu_us_per_event"]) + " (process CPU time, all threads)",
        ),
        (
            "latency p50 / p95 / p99",
            f"{_n(lat['p50_ms'])} / {_n(lat['p95_ms'])} / {_n(lat['p99_ms'])} ms",
            f"to a read_committed consumer, at {_n(lat['rate'])} ev/s offered "
            f"({lat['matched']} matched)",
        ),
        ("pure core (1 core)", f"{_n(core['core_eps'])} ev/s", "parse + process + state bytes"),
        ("handler (1 core)", f"{_n(core['handler_eps'])} ev/s", "Pipeline.handle, no Kafka"),
        ("decay sweep (1 core)", f"{_n(core['sweep_leads_per_s'])} leads/s", "decode, re-score"),
    ]
    hist = core.get("history")
    if hist:
        rows.append(
            (
                "event on a full lead / new lead",
                f"{hist['full_lead_us']:g} / {hist['new_lead_us']:g} us",
                f"ratio {hist['ratio']:g} (1,000 vs 100 records: {hist['full_over_tenth']:g}); "
                f"{_n(hist['full_lead_state_bytes'])} state bytes",
            )
        )
    rows += [
        (
            "state bytes per lead",
            f"{_n(state['median'])} median",
            f"p95 {_n(state['p95'])}, max {_n(state['max'])}, {state['leads']:,} leads",
        ),
    ]
    if wm:
        rows.append(
            (
                "worker RSS after its run",
                f"{_n(wm['rss_mb'])} MiB",
                f"{wm['leads']:,} leads, peak {_n(wm['peak_rss_mb'])} MiB",
            )
        )
    for probe in r.get("memory_probes", []):
        rows.append(
            (
                f"RSS with {probe['leads']:,} leads",
                f"{_n(probe['rss_mb'])} MiB",
                f"RocksDB layout of the table; peak {_n(probe['peak_rss_mb'])} MiB, "
                f"{_n(probe['disk_mb'])} MiB on disk",
            )
        )
    if "pipeline_equals_offline" in r:
        ok = r["pipeline_equals_offline"]
        rows.append(("final scores = offline", "yes" if ok["ok"] else "NO", ok["detail"]))
    if "scale_out" in r:
        so = r["scale_out"]
        rows.append(
            (
                f"{so['workers']} workers, one group",
                f"{_n(so['eps'])} ev/s",
                f"partitions {so['partitions_per_worker']}, events {so['events_per_worker']}, "
                f"final scores = offline: {'yes' if so['equals_offline']['ok'] else 'NO'}",
            )
        )
    if "exactly_once" in r:
        rows += _variant_rows("exactly_once", r["exactly_once"])
    for name, variant in r.get("variants", {}).items():
        rows += _variant_rows(f"variant {name}", variant, f"{changed(variant['settings'])}; ")
    width = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        f"leadscore bench: {p['events']:,} events ({p['leads']:,} leads), "
        f"{p['partitions']} partitions, {p['repeats']} repetition(s), "
        f"messages {r['message_bytes']['median']} B median",
        f"machine: {m['cpu_count']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"Kafka {m['kafka']}, faust-streaming {m['faust_streaming']}, aiokafka {m['aiokafka']}",
        "",
    ]
    for row in rows:
        lines.append("  ".join(cell.ljust(width[i]) for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def _variant_rows(label: str, v: dict[str, Any], changed: str = "") -> list[tuple[str, str, str]]:
    """A worker run with other settings (exactly_once, --variant): throughput, CPU and
    parity, then latency at the main worker's offered load."""
    lat = v["latency"]
    same = "yes" if v["equals_offline"]["ok"] else "NO"
    return [
        (
            f"{label} worker",
            f"{_n(v['eps'])} ev/s",
            f"{changed}{_n(v['cpu_us_per_event'])} us CPU/event, commit every "
            f"{v['commit_interval_seconds']:g} s, final scores = offline: {same}",
        ),
        (
            f"{label} latency p50 / p95 / p99",
            f"{_n(lat['p50_ms'])} / {_n(lat['p95_ms'])} / {_n(lat['p99_ms'])} ms",
            f"to a read_committed consumer, at {_n(lat['rate'])} ev/s offered",
        ),
    ]


def changed(settings: dict[str, Any]) -> str:
    """A variant's settings as `field=value, ...` (the bench's log and its table)."""
    return ", ".join(f"{k}={v}" for k, v in settings.items())
