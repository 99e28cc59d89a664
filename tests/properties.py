"""Hypothesis settings of the core's properties (tests/test_core_properties.py).

More examples where there is time for them: LEADSCORE_PROPERTY_EXAMPLES scales every
property (say 10 for a long exploratory run); the defaults keep `make test` well within
its budget on a 2-core machine.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

SCALE = float(os.environ.get("LEADSCORE_PROPERTY_EXAMPLES", "1"))


def _examples(n: int) -> settings:
    return settings(
        max_examples=max(1, int(n * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


CORE_PROPERTIES = _examples(150)
# Overflowing windows: up to 40 events, each replayed twice to note uncertain erasures.
CORE_WINDOW_PROPERTIES = _examples(200)
