"""What the simulator plans: an event's document at a time, before ids are drawn."""

from __future__ import annotations

from typing import Any

Doc = dict[str, Any]
Planned = tuple[float, Doc]  # (occurred_at, event document without ids and time)
