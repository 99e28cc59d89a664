"""Faust's aiohttp web server without its built-in pages, and with the app's middlewares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from aiohttp.typedefs import Middleware
from faust.web.drivers.aiohttp import Web as AiohttpWeb


class LeadscoreWeb(AiohttpWeb):  # type: ignore[misc]  # faust is untyped
    """Faust's web server without its built-in pages. The worker's settings (new_app in
    streams/app/worker.py) turn off all but one: the status page at "/", served whenever
    the statistics pages are off."""

    default_blueprints: ClassVar[list[Any]] = []
    production_blueprints: ClassVar[list[Any]] = []
    debug_blueprints: ClassVar[list[Any]] = []
    optional_blueprints: ClassVar[list[Any]] = []

    def __init__(self, app: Any, *, middlewares: Iterable[Middleware] = (), **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        # Before any view: the app's own (bearer tokens, when configured: access.py).
        self.web_app.middlewares.extend(middlewares)
