"""`python -m bench.console [--leads N]`: the console's board at a million leads.

Feeds N score messages (one per lead, the fields `leads.scores` carries, scores and stages
spread like a real population) into the console's board, then times leaderboard queries
(the top 50, unfiltered and with filters) against the baseline of a full sort of every lead
per request (what a naive board does), measured in the same run, and prints the process's
resident memory. No broker: this is the console's own cost.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import orjson

from bench.proc import rss_mb
from schemas.topics import SCORES
from streams.console.board import ConsoleBoard, LeadFilter, LeadRow

STAGES = ["new", "engaged", "mql", "sql", "converted", "disqualified"]
STAGE_WEIGHTS = [40, 35, 12, 6, 2, 5]


def messages(leads: int, seed: int = 3) -> Iterator[tuple[bytes, bytes]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC).isoformat()
    for i in range(leads):
        score = min(100, int(rnd.expovariate(1 / 25)))
        flags = ["free_mail"] if rnd.random() < 0.2 else []
        doc = {
            "lead_id": f"lead-{i:07d}",
            "score": score,
            "fit": score,
            "engagement": score,
            "validity": 0.85 if flags else 1.0,
            "grade": "ABCD"[min(3, (100 - score) // 25)],
            "stage": rnd.choices(STAGES, STAGE_WEIGHTS)[0],
            "bot_flags": flags,
            "factors": [
                {"factor": "email.clicked", "points": 12.5},
                {"factor": "fit", "points": 30},
            ],
            "model_version": "bench",
            "events_counted": 12,
            "last_event_at": now,
            "cause_event_id": f"e{i}",
            "contactable": rnd.random() > 0.05,
            "account_id": f"acct-{i % 50_000}.com",
            "updated_at": now,
        }
        yield doc["lead_id"].encode(), orjson.dumps(doc)


def timed(query: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(p50, p99) in milliseconds."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        query()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def full_sort(board: ConsoleBoard, n: int, where: LeadFilter) -> list[LeadRow]:
    rows = (r for r in board.leads.values() if where(r.facets))
    return sorted(rows, key=lambda r: -r.score)[:n]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console")
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    before = rss_mb(os.getpid())[0]
    batch = list(messages(min(args.leads, 10_000)))  # made ahead: the timing is the board's
    board = ConsoleBoard()
    began = time.perf_counter()
    for key, value in batch:
        board.apply(SCORES.name, key, value)
    rate = len(batch) / (time.perf_counter() - began)
    board = ConsoleBoard()
    for key, value in messages(args.leads):
        board.apply(SCORES.name, key, value)
    rss = rss_mb(os.getpid())[0]
    print(f"console board: {rate:,.0f} score messages/s applied; {args.leads:,} leads held "
          f"in {rss - before:,.0f} MiB more RSS ({(rss - before) * 2**20 / args.leads:,.0f} "
          f"bytes per lead)")  # fmt: skip
    filters = {
        "top 50": LeadFilter(),
        "top 50, stage sql": LeadFilter(stage="sql"),
        "top 50, bot-flagged": LeadFilter(flagged=True),
        "top 50, converted, grade D": LeadFilter(stage="converted", grade="D"),
    }
    print(f"{'query':<30} {'index p50':>10} {'p99':>8} {'full sort p50':>14} {'p99':>8}  ms")
    for name, where in filters.items():
        ip50, ip99 = timed(lambda w=where: board.top_leads(50, w), args.repeats)
        sp50, sp99 = timed(lambda w=where: full_sort(board, 50, w), max(3, args.repeats // 10))
        same = [r.score for r in board.top_leads(50, where)] == [
            r.score for r in full_sort(board, 50, where)
        ]
        print(f"{name:<30} {ip50:>10.3f} {ip99:>8.3f} {sp50:>14.1f} {sp99:>8.1f}"
              f"  {'same scores' if same else 'DIFFERENT'}")  # fmt: skip


if __name__ == "__main__":
    main()
