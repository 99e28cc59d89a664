"""faust.App building the overrides: its web server, producer buffer, transaction manager
and consumer are leadscore's, and its HTTP client trusts the peers' certificates."""

from __future__ import annotations

import ssl
from typing import Any, cast

import aiohttp
import faust
from aiohttp.typedefs import Middleware
from faust.types.enums import ProcessingGuarantee

from streams.upstream.buffer import install_draining_buffer
from streams.upstream.transactions import install_flushing_transactions
from streams.upstream.web import LeadscoreWeb


class LeadscoreApp(faust.App):  # type: ignore[misc]  # faust is untyped
    """faust.App whose factories build this package's web server, producer buffer,
    transaction manager and consumer (the worker's `new_app` makes one)."""

    # Set by the worker's new_app before the web starts: aiohttp middlewares put before
    # every view (the API tokens' check, streams/app/access.py), and HTTPS to peers when
    # routing.
    web_middlewares: tuple[Middleware, ...] = ()
    peer_ssl: ssl.SSLContext | None = None

    def _new_web(self) -> LeadscoreWeb:
        return LeadscoreWeb(self, middlewares=self.web_middlewares)

    @property
    def http_client(self) -> Any:
        # Faust's router sends routed GETs with this client; with HTTPS it must trust the
        # peers' certificates (LEADSCORE_WEB_SSL_CAFILE).
        if self._http_client is None and self.peer_ssl is not None:
            connector = aiohttp.TCPConnector(ssl=self.peer_ssl)
            self._http_client = aiohttp.ClientSession(connector=connector)
        return super().http_client

    @http_client.setter
    def http_client(self, client: Any) -> None:
        self._http_client = client

    def _new_producer(self) -> Any:
        # Faust's own buffer lets an offset commit overtake buffered writes (see buffer.py).
        exactly_once = cast(Any, self.conf).processing_guarantee == ProcessingGuarantee.EXACTLY_ONCE
        return install_draining_buffer(super()._new_producer(), transactional=exactly_once)

    def _new_transport(self) -> Any:
        # exactly_once: hand that buffer over before each transactional commit
        # (transactions.py); recovery to the changelogs' stable ends (consumer.py).
        return install_flushing_transactions(super()._new_transport())
