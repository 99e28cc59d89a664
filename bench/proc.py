"""`leadscore worker` as a child process (optionally under py-spy), and process memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from streams.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(settings: Settings) -> dict[str, str]:
    """This environment without LEADSCORE_* variables, then every field of `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    for name, value in settings.model_dump(exclude_none=True).items():
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"LEADSCORE_{name.upper()}"] = str(raw)
    return env


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


class Worker:
    """One worker process; `start()` returns once its /readyz says ready."""

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        profile: Path | None = None,
        module: str = "streams.cli",
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = env or {}
        self.settings = settings
        self.module = module  # `python -m MODULE worker`
        self.log_path = log_path
        self.profile = profile  # py-spy raw flame output, when py-spy is on PATH
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 120.0) -> Worker:
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the process without waiting (see wait_ready)."""
        cmd = [sys.executable, "-m", self.module, "worker"]
        if self.profile is not None:
            spy = ["py-spy", "record", "-r", "200", "-f", "raw", "-o", str(self.profile), "--"]
            cmd = spy + cmd
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                env=settings_env(self.settings) | self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _python_pid(self) -> int | None:
        """The worker's own pid (py-spy's child when profiling)."""
        assert self.proc is not None
        if self.profile is None:
            return self.proc.pid
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        pids = [int(p) for p in children.split()]
        return pids[0] if pids else None

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"worker exited with {code}:\n{self.tail()}")
            if self.get("/readyz")[0] == 200:
                self.pid = self._python_pid()
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready within {timeout:g} s:\n{self.tail()}")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.pid is not None else 0.0

    def memory(self) -> tuple[float, float]:
        return rss_mb(self.pid) if self.pid is not None else (0.0, 0.0)

    def stop(self, timeout: float = 60.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # py-spy writes its profile when the worker it runs exits: signal the worker.
        target = self.pid if self.profile is not None and self.pid else self.proc.pid
        os.kill(target, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
