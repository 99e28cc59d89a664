"""Random draws shared by the traffic simulator and the simulated history."""

from __future__ import annotations

import math
import random


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: exact and fast for the small means used here (under ~10)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
