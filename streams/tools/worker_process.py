"""Run `leadscore worker` as a child process and wait for it to be ready.

Used by `leadscore demo` and by the integration tests (tests/worker_proc.py), so both start,
probe and stop workers the same way: settings go to the child as LEADSCORE_* variables,
readiness is the worker's own /readyz.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

import orjson

from streams.settings import Settings


class WorkerError(RuntimeError):
    """The worker exited or did not become ready in time (the message ends with its log)."""


def free_port() -> int:
    """A TCP port that was free a moment ago (for the worker's web server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether `port` can be bound right now (a preferred port, else another)."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def settings_env(settings: Settings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment that reproduces `settings` in a child process: this process's
    environment without its LEADSCORE_* variables, then every set field, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    as_json = settings.model_dump(mode="json", exclude_none=True)
    for name, value in settings.model_dump(exclude_none=True).items():
        if hasattr(value, "get_secret_value"):
            raw = value.get_secret_value()
        elif isinstance(as_json[name], list | dict):  # read back as JSON (api_tokens)
            raw = orjson.dumps(as_json[name]).decode()
        else:
            raw = str(value)
        env[f"LEADSCORE_{name.upper()}"] = raw
    env.update(extra or {})
    return env


class WorkerProcess:
    """One worker process; `start()` returns once /readyz says ready."""

    error: type[Exception] = WorkerError  # tests raise AssertionError instead

    def __init__(
        self,
        settings: Settings,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        new_session: bool = False,
    ) -> None:
        self.settings = settings
        self.log_path = log_path
        self.env = env
        # A new session keeps the terminal's Ctrl-C away from the worker, so the parent
        # decides when and how it stops (and --keep-running can leave it running).
        self.new_session = new_session
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.web_ssl_certfile else "http"
        return f"{scheme}://{self.settings.web_bind}:{self.settings.web_port}"

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 90.0) -> Self:
        self.launch()
        self.wait_ready(timeout)
        return self

    def command(self) -> list[str]:
        """The child's argv (the benchmark wraps it in a profiler)."""
        return [sys.executable, "-m", "streams.cli", "worker"]

    def launch(self) -> None:
        """Start the process without waiting for it (see wait_ready)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env=settings_env(self.settings, self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
            )

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise self.error(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            if self.get("/readyz")[0] == 200:
                return
            time.sleep(0.3)
        raise self.error(f"worker not ready within {timeout:g} s:\n{self.tail()}")

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        """(HTTP status, body) of a GET on the worker, with a bearer token if given; (0, b"")
        when it does not answer. HTTPS is checked against LEADSCORE_WEB_SSL_CAFILE."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url + path, headers=headers)
        context = None
        if self.url.startswith("https"):
            context = ssl.create_default_context(cafile=self.settings.web_ssl_cafile)
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Signal the worker and wait; SIGKILL if it outlives `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
