"""Run `leadscore worker` as a real process for integration and fault tests.

The process control lives in streams.worker_process (the demo uses it too); here failures
are AssertionErrors, which pytest reports with the worker's log.
"""

from __future__ import annotations

from streams.worker_process import WorkerProcess as _WorkerProcess
from streams.worker_process import free_port, settings_env


class WorkerProcess(_WorkerProcess):
    error = AssertionError


__all__ = ["WorkerProcess", "free_port", "settings_env"]
