"""leadscore end to end: worker processes on preloaded input topics, timed by the Kafka
record timestamps of what they publish.

Throughput is measured the same way for the worker and for the raw client limit: input
messages / (CreateTime of the last output message - CreateTime of the first). The first
output appears once the consumer has joined its group and fetched, so start-up is not
counted for either. Completion is the consumer group's committed offsets reaching the end
of every input partition (Faust commits only what was processed and whose outputs were
flushed), which also proves that nothing was skipped; its commit-interval granularity
(2.8 s) is why it is not the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.kafkaio import Offsets, Rec, data_ends, end_offsets, read_range, wait_committed
from bench.proc import Worker, free_port
from schemas.outputs import SCORE_STATE_FIELDS as SCORE_FIELDS
from schemas.topics import CONTRIBUTIONS, SCORES, VISITORS
from streams.settings import Settings


@dataclass
class Window:
    """Output messages of one run and the span of their timestamps."""

    inputs: int
    outputs: int
    first_ms: int
    last_ms: int

    @property
    def seconds(self) -> float:
        return max(self.last_ms - self.first_ms, 1) / 1000

    @property
    def eps(self) -> float:
        return self.inputs / self.seconds


def window(inputs: int, records: Sequence[Rec]) -> Window:
    if not records:
        raise RuntimeError("no output messages to time")
    stamps = [r.timestamp for r in records]
    return Window(inputs, len(records), min(stamps), max(stamps))


@dataclass
class PipelineRun:
    window: Window
    rss_mb: float
    peak_rss_mb: float
    cpu_s: float  # CPU time of the worker processes from ready to the last commit
    scores: list[Rec] = field(repr=False, default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)


def worker_settings(base: Settings, app_id: str, data_dir: Path) -> Settings:
    return base.model_copy(
        update={
            "app_id": app_id,
            "data_dir": data_dir,
            "web_port": free_port(),
            "sweep_interval_seconds": 0.0,  # no wall-clock re-scores during a measurement
        }
    )


async def run_workers(
    base: Settings,
    app_id: str,
    workdir: Path,
    input_ends: Offsets,
    *,
    count: int = 1,
    timeout: float = 600.0,
    profile: Path | None = None,
    module: str = "streams.cli",
    env: dict[str, str] | None = None,
) -> tuple[PipelineRun, list[Worker]]:
    """Start `count` workers in one group on the preloaded inputs; return once the group has
    committed every input message, with the workers still running (the caller stops them)."""
    scores_topic = base.topic(SCORES)
    before = await end_offsets(base, [scores_topic])
    workers: list[Worker] = []
    try:
        # All launched at once, so that they join the group together (one rebalance).
        for n in range(count):
            s = worker_settings(base, app_id, workdir / f"{app_id}-{n}")
            log = workdir / f"{app_id}-{n}.log"
            workers.append(Worker(s, log, profile if n == 0 else None, module, env))
            workers[-1].launch()
        for w in workers:
            w.wait_ready(120.0)
        cpu_at_ready = sum(w.cpu() for w in workers)

        def alive() -> bool:
            return all(w.alive() for w in workers)

        await wait_committed(base, app_id, input_ends, timeout, alive=alive)
        if module != "bench.floor":  # a worker (the Faust floor reads the inputs only)
            # Then what the inputs made the workers send themselves: visitors' views
            # forwarded to their leads (with exactly_once, visible once their transaction
            # commits, and followed by a commit marker the group never commits past).
            # Then the leads' contributions to their accounts, the last thing they make.
            for internal in (VISITORS, CONTRIBUTIONS):
                made = await data_ends(base, [base.topic(internal)])
                await wait_committed(base, app_id, made, timeout, alive=alive)
        cpu = sum(w.cpu() for w in workers) - cpu_at_ready
        memory = [w.memory() for w in workers]
        after = await end_offsets(base, [scores_topic])
        scores = await read_range(base, before, after)
    except BaseException:
        for w in workers:
            w.stop()
        raise
    total = sum(input_ends.values())
    run = PipelineRun(
        window(total, scores),
        rss_mb=max(m[0] for m in memory),
        peak_rss_mb=max(m[1] for m in memory),
        cpu_s=cpu,
        scores=scores,
    )
    return run, workers


def latest_scores(records: Iterable[Rec]) -> dict[str, dict[str, Any] | None]:
    """The final value per lead, as a reader of the compacted topic sees it."""
    out: dict[str, dict[str, Any] | None] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        key = (r.key or b"").decode()
        out[key] = None if r.value is None else orjson.loads(r.value)
    return out


def compare_with_offline(
    records: Iterable[Rec], offline: dict[str, dict[str, Any]]
) -> tuple[bool, str]:
    """Final scores of the stream against the offline scorer's, field by field."""
    stream = {k: v for k, v in latest_scores(records).items() if v is not None}
    if set(stream) != set(offline):
        extra, missing = set(stream) - set(offline), set(offline) - set(stream)
        return False, f"leads differ: {len(extra)} extra, {len(missing)} missing"
    wrong = [
        k
        for k, want in offline.items()
        if {f: stream[k][f] for f in SCORE_FIELDS} != {f: want[f] for f in SCORE_FIELDS}
    ]
    if wrong:
        return False, f"{len(wrong)} of {len(offline)} leads differ, e.g. {wrong[0]}"
    return True, f"all {len(offline)} leads equal"
