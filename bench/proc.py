"""`leadscore worker` as a child process (optionally under py-spy), and process memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from streams.settings import Settings
from streams.tools.worker_process import WorkerProcess, free_port


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MiB, from /proc (Linux)."""
    fields: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(rest.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker(WorkerProcess):
    """A worker process whose CPU time and memory the bench reads, optionally under py-spy."""

    error = RuntimeError

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        profile: Path | None = None,
        module: str = "streams.cli",
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(settings, log_path, env=env)
        self.module = module  # `python -m MODULE worker` (the Faust floor has its own)
        self.profile = profile  # py-spy raw flame output

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", self.module, "worker"]
        if self.profile is None:
            return cmd
        # --gil: only the thread holding the GIL is sampled, so a thread waiting for it (the
        # main loop while Faust's consumer thread runs) is not charged with CPU it never used.
        # The dev extra installs py-spy beside this Python; a system one on PATH also does.
        exe = Path(sys.executable).with_name("py-spy")
        spy = [str(exe) if exe.exists() else "py-spy", "record", "--gil", "-r", "200", "-f", "raw"]
        spy += ["-o", str(self.profile)]
        return [*spy, "--", *cmd]

    @property
    def python_pid(self) -> int | None:
        """The worker's own pid (py-spy's child when profiling)."""
        if self.proc is None or self.profile is None:
            return self.pid
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        pids = [int(p) for p in children.split()]
        return pids[0] if pids else None

    def cpu(self) -> float:
        pid = self.python_pid
        return cpu_seconds(pid) if pid is not None else 0.0

    def memory(self) -> tuple[float, float]:
        pid = self.python_pid
        return rss_mb(pid) if pid is not None else (0.0, 0.0)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> None:
        if self.profile is None or self.proc is None or not self.alive():
            super().stop(sig, timeout)
            return
        # py-spy writes its profile when the worker it runs exits: signal the worker only.
        if self.python_pid:
            os.kill(self.python_pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


__all__ = ["Worker", "cpu_seconds", "free_port", "rss_mb"]
