"""faust.Worker, with a say in the root logger it sets up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import faust


class LeadscoreWorker(faust.Worker):  # type: ignore[misc]  # faust is untyped
    """faust.Worker that also hands the root logger it sets up to `on_root_logger` (the
    worker's is streams/app/logs.py's `quiet_repeats`)."""

    on_root_logger: Callable[[logging.Logger], None] | None = None

    def __init__(
        self,
        *args: Any,
        on_root_logger: Callable[[logging.Logger], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.on_root_logger = on_root_logger
        super().__init__(*args, **kwargs)

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        if self.on_root_logger is not None:
            self.on_root_logger(logger)
