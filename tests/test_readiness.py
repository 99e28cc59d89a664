"""/readyz logic: ready only once joined (an assignment), recovered, and not rebalancing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streams.app.worker import is_ready


def fake_app(*, started: bool, recovered: bool, rebalancing: bool) -> Any:
    completed = asyncio.Event()
    if recovered:
        completed.set()
    return SimpleNamespace(
        producer=SimpleNamespace(started=started),
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)),
        rebalancing=rebalancing,
    )


@pytest.mark.parametrize(
    ("started", "recovered", "rebalancing", "ready"),
    [
        (False, False, False, False),  # still starting
        (True, False, True, False),  # joining the group
        (True, False, False, False),  # assigned, recovering tables
        (True, True, True, False),  # a new rebalance started
        (True, True, False, True),  # joined and recovered
    ],
)
def test_ready_only_after_join_and_recovery(
    started: bool, recovered: bool, rebalancing: bool, ready: bool
) -> None:
    app = fake_app(started=started, recovered=recovered, rebalancing=rebalancing)
    assert is_ready(app) is ready
