"""Resident memory of a process holding N leads' state the way the worker's table does.

The worker's table is Faust's `rocksdb://` store: one RocksDB database per partition, opened
with Faust's RocksDBOptions as the worker sizes them (streams.app.worker.rocksdb_options:
the LEADSCORE_ROCKSDB_* settings), raw lead-id keys and LeadState blobs as values. This probe
imports what the worker imports, opens the same databases, writes N leads whose blobs are
the simulated leads' final states (cycled, each rewritten with its own lead id, so the size
distribution is the simulation's), then reads every lead once, as the worker does when the
lead's next event arrives, and reports its RSS (current and peak) and the data on disk.

Run as `python -m bench.memory BLOBS_FILE LEADS PARTITIONS DIR`; prints one JSON object.
"""

from __future__ import annotations

import pickle
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from bench.proc import rss_mb
from streams.core import LeadState


def with_lead_id(blob: bytes, lead_id: bytes) -> bytes:
    """The same state under another lead id."""
    state = LeadState.from_bytes(blob)
    state.lead_id = lead_id.decode()
    return state.to_bytes()


def disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(blobs_path: str, leads: int, partitions: int, workdir: str) -> dict[str, Any]:
    from faust.stores.rocksdb import RocksDBOptions

    from streams.app.worker import rocksdb_options  # the worker's imports: the same baseline
    from streams.settings import Settings

    blobs: list[bytes] = pickle.loads(Path(blobs_path).read_bytes())
    baseline = rss_mb_now()
    root = Path(workdir)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    options = RocksDBOptions(**rocksdb_options(Settings()))
    dbs = [options.open(root / f"leads-{p}.db") for p in range(partitions)]
    started = time.perf_counter()
    size = 0
    for i in range(leads):
        key = b"lead-%012x" % i
        value = with_lead_id(blobs[i % len(blobs)], key)
        size += len(value)
        dbs[i % partitions][key] = value
    written = time.perf_counter()
    found = 0
    for i in range(leads):
        if dbs[i % partitions].get(b"lead-%012x" % i) is not None:
            found += 1
    read = time.perf_counter()
    rss, peak = rss_mb_now(), peak_mb_now()
    for db in dbs:
        db.close()
    on_disk = disk_bytes(root)
    shutil.rmtree(root, ignore_errors=True)
    if found != leads:
        raise RuntimeError(f"read back {found} of {leads} leads")
    return {
        "leads": leads,
        "partitions": partitions,
        "state_bytes_total": size,
        "baseline_rss_mb": round(baseline, 1),
        "rss_mb": round(rss, 1),
        "peak_rss_mb": round(peak, 1),
        "disk_mb": round(on_disk / 2**20, 1),
        "write_s": round(written - started, 2),
        "read_s": round(read - written, 2),
    }


def rss_mb_now() -> float:
    import os

    return rss_mb(os.getpid())[0]


def peak_mb_now() -> float:
    import os

    return rss_mb(os.getpid())[1]


if __name__ == "__main__":
    out = main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    sys.stdout.write(orjson.dumps(out).decode() + "\n")
