"""`python -m bench`: one run, one broker, one table, one JSON file.

1. core: the pure scoring core alone, in a fresh process pinned to one core;
2. throughput, `repeats` times, alternating: the raw aiokafka limit, then the worker, both on
   the same preloaded input topics (each in its own consumer group);
3. latency at a quarter of the measured worker maximum, on the last worker (caught up);
4. memory: state bytes per lead; the worker's RSS after its run; the RSS of a process
   holding 100k and 1M leads in the worker's RocksDB layout;
5. with --workers N (N > 1): N workers in one group on the same inputs (after step 2), each
   owning some partitions, final scores checked against the offline scorer;
6. exactly_once: the same events on a second set of topics, one worker with Kafka
   transactions: throughput, final scores against the offline scorer, and latency to a
   read_committed consumer at the same offered load as step 3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import kafkaio
from bench.latency import measure as measure_latency
from bench.limit import client_settings, faust_conf, run_limit
from bench.patched import PATCHES
from bench.pipeline import Window, compare_with_offline, run_workers, window
from bench.report import changed, render, write_json
from schemas.topics import INPUTS
from streams.core.model import ScoringModel
from streams.kafka.admin import create_topics, probe_broker
from streams.settings import Settings
from streams.tools.score import score_lines
from streams.tools.simulate import Faults, SimEvent, generate

RESULTS = Path(__file__).resolve().parent / "results"
# The Quix Streams peer's own virtualenv (`make quix`, pinned in bench/quix-requirements.txt).
QUIX_PYTHON = Path(__file__).resolve().parent.parent / ".venv-quix" / "bin" / "python"
EVENTS_PER_LEAD = 12  # `leadscore simulate`'s default density


@dataclass
class Params:
    events: int
    repeats: int
    latency_seconds: float
    memory_leads: list[int]
    core_repeats: int
    workers: int
    seed: int = 8
    partitions: int = 6
    faults: dict[str, float] = field(
        default_factory=lambda: asdict(Faults())  # the simulator's defaults
    )

    @property
    def leads(self) -> int:
        return max(1, self.events // EVENTS_PER_LEAD)


def parse_args(argv: list[str] | None = None) -> tuple[Params, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run")
    parser.add_argument("--events", type=int, help="preloaded input events")
    parser.add_argument("--repeats", type=int, help="limit/worker throughput pairs")
    parser.add_argument("--workers", type=int, default=1, help="also run N workers in a group")
    parser.add_argument("--no-memory", action="store_true", help="skip the RSS probes")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy records the first worker into FILE (raw), the floor into FILE.floor.raw",
    )
    parser.add_argument(
        "--variant",
        type=parse_variant,
        action="append",
        default=[],
        metavar="NAME:FIELD=VALUE[,FIELD=VALUE]",
        help="also run a worker with these settings changed, on its own copy of the inputs "
        "(e.g. linger5:producer_linger_ms=5); repeatable",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    if args.quick:
        params = Params(10_000, 1, 6.0, [100_000], 1, args.workers)
    else:
        params = Params(60_000, 3, 20.0, [100_000, 1_000_000], 3, args.workers)
    if args.events:
        params.events = args.events
    if args.repeats:
        params.repeats = args.repeats
    if args.no_memory:
        params.memory_leads = []
    params.partitions = Settings().partitions
    return params, args


def say(text: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    from streams.tools.broker import default_pom, kafka_version

    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        kafka = kafka_version(default_pom())
    except Exception:
        kafka = "unknown"
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kafka": kafka,
        "faust_streaming": version("faust-streaming"),
        "aiokafka": version("aiokafka"),
        "orjson": version("orjson"),
        "pydantic": version("pydantic"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def run_probe(module: str, *args: Any, timeout: float = 600) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    result: dict[str, Any] = orjson.loads(out.stdout.splitlines()[-1])
    return result


async def bench(params: Params, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    prefix = f"bench-{uuid.uuid4().hex[:8]}."
    base = Settings().model_copy(update={"topic_prefix": prefix, "app_id": f"{prefix}leadscore"})
    if await probe_broker(base) is None:
        raise SystemExit(f"no Kafka broker answers at {base.kafka_bootstrap}")
    workdir = Path(tempfile.mkdtemp(prefix="leadscore-bench-"))
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    say(f"topics under {prefix} on {base.kafka_bootstrap}; work dir {workdir}")
    try:
        await create_topics(base, params.partitions)
        results.update(await _measure(params, args, base, prefix, workdir))
    finally:
        deleted = await kafkaio.delete_prefix(base, prefix)
        say(f"deleted {len(deleted)} topics under {prefix}")
        shutil.rmtree(workdir, ignore_errors=True)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    return results


async def _measure(
    params: Params, args: argparse.Namespace, base: Settings, prefix: str, workdir: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    faults = Faults(**params.faults)
    t = time.monotonic()
    events = list(generate(params.seed, params.leads, params.events, 30.0, faults, now))
    say(f"generated {len(events)} events for {params.leads} leads in {time.monotonic() - t:.1f} s")
    sizes = sorted(len(e.value) for e in events)
    out["message_bytes"] = {
        "median": sizes[len(sizes) // 2],
        "p95": sizes[int(len(sizes) * 0.95)],
        "max": sizes[-1],
        "mean": round(statistics.fmean(sizes), 1),
    }
    out["events_by_topic"] = dict(sorted(_count_topics(events).items()))

    # 1. The pure core, before anything else loads the machine.
    events_file = workdir / "events.pickle"
    events_file.write_bytes(pickle.dumps([(e.topic, e.key, e.value) for e in events]))
    say("core: parse + process + state bytes, one core ...")
    core = run_probe("bench.core", events_file, params.core_repeats, params.partitions)
    out["core"] = core
    say(f"core: {core['core_eps']:,.0f} events/s (handler {core['handler_eps']:,.0f})")

    # The offline scorer's final scores: what the stream must end with.
    model = ScoringModel.load()
    offline = {
        s.lead_id: s.model_dump(mode="json")
        for s in score_lines((e.value for e in events), model).final_scores()
    }

    # 2. Preload, then limit and worker alternately on the same input topics.
    inputs = [base.topic(t) for t in INPUTS]
    t = time.monotonic()
    await kafkaio.produce_events(base, events)
    input_ends = await kafkaio.end_offsets(base, inputs)
    total = kafkaio.count(input_ends)
    say(f"preloaded {total} messages in {time.monotonic() - t:.1f} s")
    limits: list[Window] = []
    limits2: list[Window] = []
    pipelines: list[Window] = []
    cpu_us: dict[str, list[float]] = {
        "limit": [],
        "limit_2_outputs": [],
        "worker": [],
        "faust_floor": [],
        "stock_faust_floor": [],
    }
    worker_memory: dict[str, Any] = {}
    keep = None
    last_scores: list[kafkaio.Rec] = []
    for rep in range(params.repeats):
        for outputs, runs, cpu in ((1, limits, "limit"), (2, limits2, "limit_2_outputs")):
            lim = await _raw_limit(
                base, params.partitions, inputs, total, rep, outputs, cpu_us[cpu]
            )
            runs.append(lim)
            say(f"rep {rep + 1}: raw, {outputs} output(s) {lim.eps:,.0f} events/s")
        last = rep == params.repeats - 1
        profile = args.profile if rep == 0 else None
        run, workers = await run_workers(
            base, f"{prefix}leadscore-{rep}", workdir, input_ends, profile=profile
        )
        pipelines.append(run.window)
        cpu_us["worker"].append(run.cpu_s / total * 1e6)
        say(
            f"rep {rep + 1}: leadscore {run.window.eps:,.0f} events/s "
            f"({run.window.seconds:.2f} s, {run.window.outputs} scores, RSS {run.rss_mb:.0f} MiB)"
        )
        if last:
            ok, detail = compare_with_offline(run.scores, offline)
            out["pipeline_equals_offline"] = {"ok": ok, "detail": detail}
            say(f"final scores vs offline scorer: {detail}")
            worker_memory = {
                "leads": len(offline),
                "rss_mb": round(run.rss_mb, 1),
                "peak_rss_mb": round(run.peak_rss_mb, 1),
            }
            keep = (workers, f"{prefix}leadscore-{rep}")
            last_scores = run.scores
        else:
            for w in workers:
                w.stop()
    assert keep is not None
    workers, group = keep
    try:
        # Faust's own floor for this shape (the worker without the processing), once.
        score_sizes = sorted(len(r.value) for r in last_scores if r.value is not None)
        floor_env = {
            "BENCH_FLOOR_STATE_BYTES": str(core["state_bytes"]["median"]),
            "BENCH_FLOOR_SCORE_BYTES": str(score_sizes[len(score_sizes) // 2]),
        }
        out["faust_floor_sizes"] = floor_env
        floor_profile = args.profile.with_suffix(".floor.raw") if args.profile else None
        # leadscore's app, settings, table and sensors; then the same agent on stock Faust
        # (its App, Table and default settings, no sensors).
        floors: dict[str, Window] = {}
        for name, env, profile in (
            ("faust_floor", floor_env, floor_profile),
            ("stock_faust_floor", {**floor_env, "BENCH_FLOOR_STOCK": "1"}, None),
        ):
            run, floor_workers = await run_workers(
                base,
                f"{prefix}{name}",
                workdir,
                input_ends,
                module="bench.floor",
                env=env,
                profile=profile,
            )
            for w in floor_workers:
                w.stop()
            cpu_us[name].append(run.cpu_s / total * 1e6)
            floors[name] = run.window
            out[f"{name}_eps"] = run.window.eps
            say(f"{name.replace('_', ' ')} (I/O only): {run.window.eps:,.0f} events/s")
        peer = await _quix_peer(base, params.partitions, inputs, total, workdir)
        if peer is not None:
            out["quix_peer"] = peer
            cpu_us["quix_peer"] = [peer["cpu_us_per_event"]]
            say(f"quix streams peer: {peer['eps']:,.0f} events/s")
        limit_eps = statistics.median(w.eps for w in limits)
        pipeline_eps = statistics.median(w.eps for w in pipelines)
        out["limit_2_outputs_eps"] = statistics.median(w.eps for w in limits2)
        out["throughput"] = {
            "limit_runs": [asdict(w) | {"eps": round(w.eps)} for w in limits],
            "limit_2_outputs_runs": [asdict(w) | {"eps": round(w.eps)} for w in limits2],
            "pipeline_runs": [asdict(w) | {"eps": round(w.eps)} for w in pipelines],
            **{f"{k}_run": asdict(w) | {"eps": round(w.eps)} for k, w in floors.items()},
            "client_settings": client_settings(faust_conf()),
        }
        out["cpu_us_per_event"] = {k: round(statistics.median(v), 1) for k, v in cpu_us.items()}
        ratio = pipeline_eps / limit_eps
        out.update(limit_eps=limit_eps, pipeline_eps=pipeline_eps, ratio=ratio)

        # Scale-out on the same inputs (before the latency phase adds events to them).
        if params.workers > 1:
            out["scale_out"] = await _scale_out(params, base, prefix, workdir, input_ends, offline)

        # 3. Latency at a quarter of the worker's maximum, on the caught-up last worker.
        rate = max(50.0, pipeline_eps / 4)
        count = int(rate * params.latency_seconds)
        fresh = list(generate(params.seed + 1, max(1, count // 4), count, 30.0, faults, now))
        say(f"latency: {count} events at {rate:,.0f}/s ...")
        lat = await measure_latency(base, group, fresh, rate)
    finally:
        for w in workers:
            w.stop()
    out["latency"] = asdict(lat)
    out.update(latency_p50_ms=lat.p50_ms, latency_p95_ms=lat.p95_ms, latency_p99_ms=lat.p99_ms)
    say(f"latency: p50 {lat.p50_ms:.0f} ms, p95 {lat.p95_ms:.0f} ms, p99 {lat.p99_ms:.0f} ms")

    # 6. exactly_once, with every at_least_once worker stopped, then any other variants.
    eos = await _variant(EXACTLY_ONCE, params, prefix, workdir, events, offline, fresh, rate)
    out["exactly_once"] = eos
    for variant in args.variant:
        out.setdefault("variants", {})[variant.name] = await _variant(
            variant, params, prefix, workdir, events, offline, fresh, rate
        )
    out.update(
        exactly_once_eps=eos["eps"],
        exactly_once_latency_p50_ms=eos["latency"]["p50_ms"],
        exactly_once_latency_p99_ms=eos["latency"]["p99_ms"],
    )

    # 4. Memory.
    state = core["state_bytes"]
    out.update(
        core_eps=core["core_eps"],
        bytes_per_lead=state["median"],
        bytes_per_lead_p95=state["p95"],
        cost_full_over_new_lead=core["history"]["ratio"],
        worker_memory=worker_memory,
    )
    probes = []
    for leads in params.memory_leads:
        say(f"memory: {leads:,} leads in the worker's RocksDB layout ...")
        probe = run_probe(
            "bench.memory",
            str(events_file) + ".blobs",
            leads,
            params.partitions,
            workdir / "rss-probe",
        )
        probes.append(probe)
        out[f"rss_mb_{_short(leads)}"] = probe["rss_mb"]
        say(f"memory: {leads:,} leads -> RSS {probe['rss_mb']} MiB (peak {probe['peak_rss_mb']})")
    out["memory_probes"] = probes

    return out


async def _raw_limit(
    base: Settings,
    partitions: int,
    inputs: list[str],
    total: int,
    rep: int,
    outputs: int,
    cpu_us: list[float],
) -> Window:
    """One raw aiokafka run over the inputs, sending each message to `outputs` topics."""
    prefix = base.topic_prefix
    topics = [f"{prefix}limit{outputs}-out{n}-{rep}" for n in range(outputs)]
    for topic in topics:
        await kafkaio.create_topic(base, topic, partitions)
    run = await run_limit(base, inputs, topics, f"{prefix}limit{outputs}-{rep}", total, 600)
    cpu_us.append(run.cpu_s / total * 1e6)
    ends = await kafkaio.end_offsets(base, topics[:1])
    return window(total, await kafkaio.read_range(base, {}, ends))


async def _quix_peer(
    base: Settings, partitions: int, inputs: list[str], total: int, workdir: Path
) -> dict[str, Any] | None:
    """The floor's stateful job on Quix Streams, in its own virtualenv (`make quix`); None
    when that is not installed."""
    if not QUIX_PYTHON.exists():
        say(f"quix streams peer: skipped ({QUIX_PYTHON} missing: `make quix`)")
        return None
    prefix = base.topic_prefix
    output, group = f"{prefix}quix-out", f"{prefix}quix"
    await kafkaio.create_topic(base, output, partitions)
    script = Path(__file__).resolve().parent / "quix_peer.py"
    args = [base.kafka_bootstrap, group, output, total, workdir / "quix-state", *inputs]
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [str(QUIX_PYTHON), str(script), *map(str, args)],
            check=True,
            capture_output=True,
            timeout=900,
        )
        result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
        ends = await kafkaio.end_offsets(base, [output])
        win = window(total, await kafkaio.read_range(base, {}, ends))
    finally:  # Quix names its changelogs after the group: outside the run's prefix
        await kafkaio.delete_prefix(base, f"changelog__{group}")
    return {
        "eps": win.eps,
        "run": asdict(win) | {"eps": round(win.eps)},
        "cpu_us_per_event": round(result["cpu_s"] / total * 1e6, 1),
        "quixstreams": result["version"],
    }


@dataclass(frozen=True)
class Variant:
    """A worker run with some settings changed, on its own copy of the inputs."""

    name: str
    update: dict[str, Any]  # Settings fields, validated
    env: dict[str, str] = field(default_factory=dict)  # the worker's environment

    @property
    def module(self) -> str:
        """What runs the worker: `bench.patched` applies BENCH_PATCHES first."""
        return "bench.patched" if "BENCH_PATCHES" in self.env else "streams.cli"

    @property
    def changes(self) -> dict[str, Any]:
        return {**self.update, **self.env}


EXACTLY_ONCE = Variant("exactly_once", {"processing_guarantee": "exactly_once"})


def parse_variant(text: str) -> Variant:
    """`NAME:FIELD=VALUE[,FIELD=VALUE]`, each FIELD a Settings field (LEADSCORE_FIELD) or an
    upper-case environment variable of the worker (NO_CYTHON, BENCH_PATCHES: bench/patched.py)."""
    name, _, assignments = text.partition(":")
    pairs = dict(item.split("=", 1) for item in assignments.split(",") if "=" in item)
    env = {k: v for k, v in pairs.items() if k.isupper()}
    fields = {k: v for k, v in pairs.items() if k not in env}
    unknown = sorted(set(fields) - set(Settings.model_fields))
    patches = set(filter(None, env.get("BENCH_PATCHES", "").split("+")))
    unknown += sorted(patches - set(PATCHES))
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", name) or not pairs or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: want NAME:FIELD=VALUE[,FIELD=VALUE], NAME in [a-z0-9_-], FIELD a "
            f"Settings field or an environment variable, BENCH_PATCHES from {sorted(PATCHES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    try:
        validated = Settings.model_validate(fields)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc
    return Variant(name, {f: getattr(validated, f) for f in fields}, env)


async def _variant(
    variant: Variant,
    params: Params,
    prefix: str,
    workdir: Path,
    events: list[SimEvent],
    offline: dict[str, dict[str, Any]],
    fresh: list[SimEvent],
    rate: float,
) -> dict[str, Any]:
    """One worker of the variant's settings on its own copy of the inputs (under the bench's
    prefix, so deleted with it): throughput, parity with offline, latency to
    read_committed, at the same offered load as the main worker."""
    vprefix = f"{prefix}{variant.name}."
    settings = Settings().model_copy(
        update={"topic_prefix": vprefix, "app_id": f"{vprefix}leadscore", **variant.update}
    )
    await create_topics(settings, params.partitions)
    await kafkaio.produce_events(settings, events)
    ends = await kafkaio.end_offsets(settings, [settings.topic(t) for t in INPUTS])
    total = kafkaio.count(ends)
    say(
        f"{variant.name}: one worker ({changed(variant.changes)}), commit every "
        f"{settings.effective_commit_interval:g} s ..."
    )
    run, workers = await run_workers(
        settings, settings.app_id, workdir, ends, module=variant.module, env=variant.env
    )
    try:
        ok, detail = compare_with_offline(run.scores, offline)
        say(f"{variant.name}: {run.window.eps:,.0f} events/s; final scores vs offline: {detail}")
        say(f"{variant.name} latency: {len(fresh)} events at {rate:,.0f}/s ...")
        lat = await measure_latency(settings, settings.app_id, fresh, rate)
    finally:
        for w in workers:
            w.stop()
    say(f"{variant.name} latency: p50 {lat.p50_ms:.0f} ms, p99 {lat.p99_ms:.0f} ms")
    return {
        "settings": {k: str(v) for k, v in variant.changes.items()},
        "eps": run.window.eps,
        "cpu_us_per_event": round(run.cpu_s / total * 1e6, 1),
        "commit_interval_seconds": settings.effective_commit_interval,
        "equals_offline": {"ok": ok, "detail": detail},
        "latency": asdict(lat),
    }


async def _scale_out(
    params: Params,
    base: Settings,
    prefix: str,
    workdir: Path,
    input_ends: kafkaio.Offsets,
    offline: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    group = f"{prefix}leadscore-x{params.workers}"
    say(f"scale-out: {params.workers} workers in group {group} ...")
    run, workers = await run_workers(base, group, workdir, input_ends, count=params.workers)
    try:
        members = await kafkaio.group_members(base, group, base.topic(INPUTS[0]))
        events = [_events_counted(w.get("/metrics")[1]) for w in workers]
    finally:
        for w in workers:
            w.stop()
    ok, detail = compare_with_offline(run.scores, offline)
    owned = [sorted(m) for m in members]
    disjoint = sum(map(len, owned)) == len(set().union(*map(set, owned))) if owned else False
    shared = len(owned) == params.workers and all(owned) and disjoint
    say(f"scale-out: {run.window.eps:,.0f} events/s; partitions {owned}; events {events}; {detail}")
    total = kafkaio.count(input_ends)
    return {
        "workers": params.workers,
        "input_events": total,
        # Handled twice: consumed by a worker before a rebalance moved its partition, and
        # not yet committed (at least once; the duplicates change no state).
        "handled_twice": max(0, sum(events) - total),
        "eps": run.window.eps,
        "window": asdict(run.window),
        "partitions_per_worker": owned,
        "events_per_worker": events,
        "load_shared": shared,
        "equals_offline": {"ok": ok, "detail": detail},
    }


def _events_counted(metrics: bytes) -> int:
    total = 0.0
    for line in metrics.decode(errors="replace").splitlines():
        if line.startswith("leadscore_events_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def _count_topics(events: list[SimEvent]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in events:
        counts[e.topic] = counts.get(e.topic, 0) + 1
    return counts


def _short(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def main(argv: list[str] | None = None) -> None:
    params, args = parse_args(argv)
    say(f"parameters: {params}")
    info = machine()
    results = asyncio.run(bench(params, args))
    results["parameters"] = asdict(params) | {
        "leads": params.leads,
        "events_per_lead": EVENTS_PER_LEAD,
        "quick": args.quick,
    }
    results["machine"] = info
    write_json(results, args.out)
    sys.stdout.write(render(results) + "\n")
    say(f"wrote {args.out} ({results['total_seconds']} s)")
