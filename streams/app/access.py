"""Who may call the worker's HTTP API: bearer tokens with scopes (streams/api_tokens.py).

With no token configured the API is open, as before. With tokens, every path but /healthz
and /readyz (and /metrics when LEADSCORE_METRICS_PUBLIC) needs one: 401 without a valid
token, 403 when its scopes lack the path's. A worker routing a GET to the lead's owner
forwards the request's headers (Faust's router), so the owner checks the same token.
"""

from __future__ import annotations

import hmac
import ssl
from collections.abc import Awaitable, Callable
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Middleware

from streams.api_tokens import ApiToken, Scope, token_digest
from streams.settings import Settings

OPEN_PATHS = frozenset({"/healthz", "/readyz"})
# Path prefix -> the scope it needs; read:contacts guards contact details (emails, names).
PATH_SCOPES: tuple[tuple[str, Scope], ...] = (
    ("/leads/", "read:leads"),
    ("/accounts/", "read:accounts"),
    ("/metrics", "read:metrics"),
)
REALM = 'Bearer realm="leadscore"'


def required_scope(path: str, *, metrics_public: bool) -> Scope | Literal["open"] | None:
    """The scope a path needs: "open" for none, None for any valid token."""
    if path in OPEN_PATHS or (metrics_public and path == "/metrics"):
        return "open"
    return next((scope for prefix, scope in PATH_SCOPES if path.startswith(prefix)), None)


class ApiAccess:
    """The decision for one request, from its Authorization header and path."""

    def __init__(self, tokens: list[ApiToken], *, metrics_public: bool = False) -> None:
        self.tokens = list(tokens)
        self.metrics_public = metrics_public

    @property
    def enabled(self) -> bool:
        return bool(self.tokens)

    def caller(self, authorization: str | None) -> ApiToken | None:
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return None
        digest = token_digest(credentials.strip())
        # Every entry compared, in constant time: no timing tells which prefix matched.
        found = [t for t in self.tokens if hmac.compare_digest(t.sha256, digest)]
        return found[0] if found else None

    def refusal(self, authorization: str | None, path: str) -> web.Response | None:
        """None when the request may go on, else the 401 or 403 response."""
        if not self.enabled:
            return None
        needed = required_scope(path, metrics_public=self.metrics_public)
        if needed == "open":
            return None
        token = self.caller(authorization)
        if token is None:
            return _error(401, "a valid bearer token is required", REALM)
        if needed is not None and needed not in token.scopes:
            challenge = f'{REALM}, error="insufficient_scope", scope="{needed}"'
            return _error(403, f"this token lacks the scope {needed}", challenge)
        return None


def _error(status: int, message: str, challenge: str) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers={"WWW-Authenticate": challenge}
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def access_middleware(access: ApiAccess) -> Middleware:
    """An aiohttp middleware refusing requests `access` does not allow."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        refused = access.refusal(request.headers.get("Authorization"), request.path)
        return refused if refused is not None else await handler(request)

    return check


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """HTTPS for the worker's server when a certificate is configured."""
    if settings.web_ssl_certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.web_ssl_certfile, settings.web_ssl_keyfile)
    return context


def peer_ssl_context(settings: Settings) -> ssl.SSLContext:
    """What a worker checks its peers' HTTPS certificates with when it routes a request."""
    return ssl.create_default_context(cafile=settings.web_ssl_cafile)
