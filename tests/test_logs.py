"""A repeating log message is written once per interval, with the count held back."""

from __future__ import annotations

import logging
from pathlib import Path

from streams.app.logs import RepeatFilter, quiet_repeats
from streams.app.worker import new_app, new_worker
from streams.settings import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(
    msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_flood_is_written_once_per_interval_with_the_count_held_back() -> None:
    clock = Clock()
    quiet = RepeatFilter(every=10, clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = [quiet.filter(record(template, 1, f"attempt {n}")) for n in range(1000)]
    assert passed[0] and not any(passed[1:])
    clock.now += 10
    again = record(template, 1, "refused")
    assert quiet.filter(again)
    assert again.getMessage() == (
        "Unable connect to node with id 1: refused [999 more like this since the previous one]"
    )


def test_kinds_are_told_apart_by_logger_level_and_template_not_by_numbers() -> None:
    quiet = RepeatFilter(every=10, clock=Clock())
    assert quiet.filter(record("producer buffer full size 101", level=logging.WARNING))
    assert not quiet.filter(record("producer buffer full size 117", level=logging.WARNING))
    assert quiet.filter(record("producer buffer full size 101", level=logging.ERROR))
    assert quiet.filter(record("producer buffer full size 101", name="faust"))
    assert quiet.filter(record("another message"))


def test_debug_records_always_pass() -> None:
    quiet = RepeatFilter(every=10, clock=Clock())
    assert all(quiet.filter(record("step %d", n, level=logging.DEBUG)) for n in range(5))


def test_quiet_repeats_filters_each_handler_once() -> None:
    root = logging.Logger("root-under-test")
    handlers = [logging.StreamHandler(), logging.NullHandler()]
    for handler in handlers:
        root.addHandler(handler)
    quiet_repeats(root)
    quiet_repeats(root)
    assert all(sum(isinstance(f, RepeatFilter) for f in h.filters) == 1 for h in handlers)


def test_the_worker_quiets_the_root_handlers_it_sets_up(tmp_path: Path) -> None:
    root = logging.Logger("root-under-test")
    root.addHandler(logging.StreamHandler())
    settings = Settings(data_dir=tmp_path)
    worker = new_worker(new_app(settings), settings)  # only the logging hook is exercised
    worker.spinner = None
    worker.on_setup_root_logger(root, logging.INFO)
    assert any(isinstance(f, RepeatFilter) for f in root.handlers[0].filters)
