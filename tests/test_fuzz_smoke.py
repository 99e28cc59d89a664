"""A short run of the atheris fuzz harness (tests/fuzz/fuzz_decode.py), so it keeps working;
the long runs (-runs=100000 and more) are made by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A dev dependency: the harness needs it, so a missing atheris fails here instead of skipping.
import atheris  # noqa: F401

HARNESS = Path(__file__).parent / "fuzz" / "fuzz_decode.py"


def test_fuzz_harness_runs_clean(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HARNESS), "-runs=3000", "-seed=1", f"-artifact_prefix={tmp_path}/"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 3000 runs" in done.stderr
    assert "'applied'" in done.stderr, "no input got through to the scoring core"
