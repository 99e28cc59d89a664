"""The best N of a million keys by score, under any facet filter, without a sort per request.

Scores are integers 0-100, so keys sit in buckets by (score, facets): a key's update moves
it between two buckets in O(1), and a query walks the scores from 100 down, taking from
the buckets whose facets match until it has N. Within a score the most recently updated
come first (a bucket is a dict, whose order is insertion order). A query costs about
101 x (facet combinations) + N, however many keys there are.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

SCORES = range(100, -1, -1)  # best first
F = TypeVar("F", bound=Hashable)


class TopIndex(Generic[F]):
    """Keys with a score (0-100) and facets F (a tuple of filterable values)."""

    def __init__(self) -> None:
        self._where: dict[str, tuple[int, F]] = {}
        self._seq: dict[str, int] = {}  # update order: ties on score, most recent first
        self._buckets: list[dict[F, dict[str, None]]] = [{} for _ in range(101)]
        self._clock = itertools.count()

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def put(self, key: str, score: int, facets: F) -> None:
        self.remove(key)
        score = min(100, max(0, score))
        self._where[key] = (score, facets)
        self._seq[key] = next(self._clock)
        self._buckets[score].setdefault(facets, {})[key] = None

    def remove(self, key: str) -> None:
        where = self._where.pop(key, None)
        if where is None:
            return
        del self._seq[key]
        score, facets = where
        bucket = self._buckets[score][facets]
        del bucket[key]
        if not bucket:
            del self._buckets[score][facets]

    def top(self, n: int, match: Callable[[F], bool] = lambda _: True) -> list[str]:
        """The best `n` keys whose facets `match`, best score first."""
        out: list[str] = []
        for score in SCORES:
            buckets = [b for f, b in self._buckets[score].items() if match(f)]
            if buckets:
                out.extend(itertools.islice(self._newest_first(buckets), n - len(out)))
                if len(out) == n:
                    break
        return out

    def _newest_first(self, buckets: list[dict[str, None]]) -> Iterator[str]:
        if len(buckets) == 1:
            return reversed(buckets[0])
        seq = self._seq
        return heapq.merge(*(reversed(b) for b in buckets), key=lambda k: -seq[k])
