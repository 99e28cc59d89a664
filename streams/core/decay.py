"""Exact decayed sums: each occurrence's weight as an integer, so sums are order-free.

An occurrence at time t weighs 2^-(as_of - t) / half_life as of `as_of`. Against a fixed
epoch e that is 2^((t - e) / half_life) x 2^-((as_of - e) / half_life): the first factor
depends on the occurrence only, the second on `as_of` only. A lead keeps, per activity,
the sum of the first factors in integer fixed point (FRACTION_BITS below the point), so
adding, re-adding in another order or subtracting on eviction is exact, and the weight
as of any time is one multiplication: O(1) per event however long the history.

The epoch is the lead's newest record time rounded down to a multiple of EPOCH_SPAN
half-lives (from the Unix epoch), so it is a function of the set of records and the sums
stay small (at most EPOCH_SPAN + FRACTION_BITS + 10 bits for 1,000 records). When a new
record moves the epoch, the sums are rebuilt from the records (once per EPOCH_SPAN
half-lives of a lead's life). Scores are computed as of a time at or after the newest
record (scoring.score), so every factor 2^-((as_of - e)/h) is at most 1.
"""

from __future__ import annotations

import math
from typing import NamedTuple

FRACTION_BITS = 52  # an occurrence at the epoch weighs 2^52; error per weight < 2^-52
EPOCH_SPAN = 16  # half-lives between epochs


def half_life_us(days: float) -> int:
    """A half-life in whole microseconds (the arithmetic below is on integers)."""
    return max(1, round(days * 86_400_000_000))


def epoch(newest_us: int, half_life: int) -> int:
    """The epoch of a lead whose newest record is at `newest_us`."""
    span = EPOCH_SPAN * half_life
    return (newest_us // span) * span


def weight(at_us: int, epoch_us: int, half_life: int) -> int:
    """2^((at - epoch) / half_life) in fixed point: an exact function of its arguments.

    The fractional power comes from one float pow of a value in [0, 1), the whole part
    is a shift, so every platform with IEEE doubles computes the same integer.
    """
    whole, part = divmod(at_us - epoch_us, half_life)
    mantissa = int(math.ldexp(2.0 ** (part / half_life), 52))  # in [2^52, 2^53)
    shift = whole + FRACTION_BITS - 52
    return mantissa << shift if shift >= 0 else mantissa >> -shift


def value(total: int, epoch_us: int, as_of_us: int, half_life: int) -> float:
    """The decayed weight as of `as_of_us` of a sum of weights against `epoch_us`."""
    return scaled(total, scale(epoch_us, as_of_us, half_life))


class Scale(NamedTuple):
    """2^-((as_of - epoch) / half_life) as a shift and a factor in (0.5, 1]: computed once
    per half-life and applied to every activity's sum that shares it."""

    shift: int
    factor: float


def scale(epoch_us: int, as_of_us: int, half_life: int) -> Scale:
    whole, part = divmod(as_of_us - epoch_us, half_life)
    return Scale(whole + FRACTION_BITS, 2.0 ** (-part / half_life))


def scaled(total: int, by: Scale) -> float:
    if total == 0:
        return 0.0
    drop = max(0, total.bit_length() - 64)  # the top 64 bits: a float keeps 53 of them
    return math.ldexp(float(total >> drop) * by.factor, drop - by.shift)


def to_bytes(total: int) -> bytes:
    return total.to_bytes((total.bit_length() + 7) // 8, "big")


def from_bytes(raw: bytes) -> int:
    return int.from_bytes(raw, "big")
