"""Log hygiene for the worker: a repeating message is written once per interval.

While the broker is unreachable aiokafka logs two errors per metadata attempt, thousands a
second (54,000 lines in a 5-second broker restart of the fault suite), and under load
Faust warns "producer buffer full" every hundred messages. Such lines drown the ones that
matter and fill disks. Prometheus counts what happens; the log needs each kind of message
once in a while, with how many were held back.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


class RepeatFilter(logging.Filter):
    """Pass the first record of each kind, then one per `every` seconds.

    A kind is (logger, level, message template with its numbers blanked): Faust formats
    some messages before logging them, so their numbers would make every line unique.
    DEBUG records always pass: whoever turns DEBUG on wants every line.
    """

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self._last: dict[tuple[str, int, str], tuple[float, int]] = {}  # kind -> (time, held)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        kind = (record.name, record.levelno, _NUMBER.sub("#", str(record.msg)))
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last[0] < self.every:
            self._last[kind] = (last[0], last[1] + 1)
            return False
        self._last[kind] = (now, 0)
        if last is not None and last[1]:
            # Appended to the template, so %-style arguments still format; no "%" added.
            record.msg = f"{record.msg} [{last[1]} more like this since the previous one]"
        return True


def quiet_repeats(logger: logging.Logger, every: float = 10.0) -> None:
    """Put a RepeatFilter on each of `logger`'s handlers (the root's, for every logger)."""
    for handler in logger.handlers:
        if not any(isinstance(f, RepeatFilter) for f in handler.filters):
            handler.addFilter(RepeatFilter(every))
