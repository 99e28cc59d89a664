"""The console's HTTP side (aiohttp): the page and its assets, a JSON API over the board,
a lead's details and history asked of the workers, and live updates by Server-Sent Events.

Every page path serves the same static/index.html; static/app.js draws the view from the
JSON API (the API's shapes: docs/console.md). With API tokens configured (the workers'
LEADSCORE_API_TOKENS) every /api/ path needs one, from a bearer header or the cookie
/api/login sets; a contact's email needs read:contacts, and LEADSCORE_CONSOLE_SHOW_EMAILS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web

from streams.api_tokens import ApiToken, Scope
from streams.app.access import ApiAccess, peer_ssl_context, server_ssl_context
from streams.console.board import ConsoleBoard, LeadFilter
from streams.core.model import BOT_FLAG_HELP, ScoringModel
from streams.settings import Settings

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PAGES = ("/", "/alerts", "/accounts", "/model")
COOKIE = "leadscore_token"
TICK_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
CLIENT_QUEUE = 100  # SSE messages waiting for a slow browser before it misses some
WORKER_TIMEOUT = aiohttp.ClientTimeout(total=5)
# /api/ path prefix -> the scope it needs (the workers' scopes: streams/api_tokens.py).
API_SCOPES: tuple[tuple[str, Scope], ...] = (("/api/accounts", "read:accounts"),)
DEFAULT_SCOPE: Scope = "read:leads"
OPEN_API = frozenset({"/api/session", "/api/login"})  # the page asks these before a token
CALLER = web.RequestKey("caller", ApiToken)  # the token a request came with

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLOSE = b""  # on a stream's queue: end the stream


class Hub:
    """Fans messages out to the browsers following /api/stream."""

    def __init__(self) -> None:
        self.clients: set[asyncio.Queue[bytes]] = set()

    def publish(self, event: str, data: Any) -> None:
        message = b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
        for queue in self.clients:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled browser misses some
                queue.put_nowait(message)

    def close(self) -> None:
        """Tell every stream to end (the server is stopping: it would wait for them)."""
        for queue in self.clients:
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(CLOSE)

    @contextlib.contextmanager
    def subscribe(self) -> Any:
        queue: asyncio.Queue[bytes] = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(queue)
        try:
            yield queue
        finally:
            self.clients.discard(queue)


class Console:
    """The console's state and handlers: the board (fed by the follower), the settings."""

    def __init__(self, settings: Settings, board: ConsoleBoard, caught_up: asyncio.Event) -> None:
        self.settings = settings
        self.board = board
        self.caught_up = caught_up
        self.hub = Hub()
        self.access = ApiAccess(settings.api_tokens)
        self.started = datetime.now(UTC)
        self._fallback_model: ScoringModel | None = None
        self._session: aiohttp.ClientSession | None = None

    # --- wiring ------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        for path in PAGES:
            app.router.add_get(path, self.page)
        app.router.add_get("/leads/{lead_id:.+}", self.page)
        app.router.add_static("/static/", STATIC, append_version=False)
        app.router.add_get("/healthz", self.health)
        app.router.add_get("/api/session", self.session)
        app.router.add_post("/api/login", self.login)
        app.router.add_get("/api/summary", self.summary)
        app.router.add_get("/api/leaderboard", self.leaderboard)
        app.router.add_get("/api/leads/{lead_id:.+}", self.lead)
        app.router.add_get("/api/alerts", self.alerts)
        app.router.add_get("/api/accounts", self.accounts)
        app.router.add_get("/api/model", self.model_page)
        app.router.add_get("/api/stream", self.stream)
        app.cleanup_ctx.append(self._lifetime)
        app.on_shutdown.append(self._end_streams)
        app.on_response_prepare.append(_security_headers)
        return app

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        https = self._api_url.startswith("https")
        ssl: ssl_module.SSLContext | bool = peer_ssl_context(self.settings) if https else True
        self._session = aiohttp.ClientSession(
            timeout=WORKER_TIMEOUT, connector=aiohttp.TCPConnector(ssl=ssl)
        )
        ticker = asyncio.create_task(self._tick())
        yield
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await self._session.close()

    async def _end_streams(self, app: web.Application) -> None:
        self.hub.close()

    def on_message(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """The follower's handler: into the board, and a new alert to the browsers."""
        row = self.board.apply(topic, key, value)
        if row is not None:
            self.hub.publish("alert", self._shown(row, emails=False))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            changed = self.board.take_changed()
            if changed:
                self.hub.publish("tick", {**self._counts(), "changed": changed})

    # --- access ------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith("/api/") or path in OPEN_API or not self.access.enabled:
            return await handler(request)
        token = self._caller(request)
        if token is None:
            return _error(401, "a valid API token is required")
        needed = next((s for prefix, s in API_SCOPES if path.startswith(prefix)), DEFAULT_SCOPE)
        if needed not in token.scopes:
            return _error(403, f"this token lacks the scope {needed}")
        request[CALLER] = token
        return await handler(request)

    def _caller(self, request: web.Request) -> ApiToken | None:
        authorization = request.headers.get("Authorization")
        if authorization is None and COOKIE in request.cookies:
            authorization = f"Bearer {request.cookies[COOKIE]}"
        return self.access.caller(authorization)

    def _may_see_emails(self, request: web.Request) -> bool:
        if not self.settings.console_show_emails:
            return False
        caller = request.get(CALLER)
        return not self.access.enabled or (caller is not None and "read:contacts" in caller.scopes)

    def _shown(self, alert: dict[str, Any], *, emails: bool) -> dict[str, Any]:
        contact = alert.get("contact")
        if emails or contact is None or contact.get("email") is None:
            return alert
        return {**alert, "contact": {**contact, "email": None}}

    async def session(self, request: web.Request) -> web.Response:
        """Whether the page must ask for a token first (asked without one: no 401, which a
        browser would log as an error on every first visit)."""
        needed = self.access.enabled
        return _json({"login_required": needed and self._caller(request) is None})

    async def login(self, request: web.Request) -> web.Response:
        try:
            token = str((await request.json())["token"]).strip()
        except (ValueError, KeyError, TypeError):
            return _error(400, 'send {"token": "..."}')
        if self.access.enabled and self.access.caller(f"Bearer {token}") is None:
            return _error(401, "this token is not known")
        response = web.Response(status=204)
        if self.access.enabled:  # (no tokens: nothing to remember)
            secure = self.settings.web_ssl_certfile is not None
            response.set_cookie(COOKIE, token, httponly=True, samesite="Strict", secure=secure)
        return response

    # --- pages -------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html")

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    # --- the JSON API ------------------------------------------------------------------

    def _counts(self) -> dict[str, int]:
        board = self.board
        return {
            "leads": len(board.leads),
            "accounts": len(board.accounts),
            "alerts": board.alerts_seen,
        }

    async def summary(self, request: web.Request) -> web.Response:
        return _json(
            {
                **self._counts(),
                "model_version": self.model.model_version,
                "caught_up": self.caught_up.is_set(),
                "show_emails": self._may_see_emails(request),
                "since": self.started.isoformat(),
            }
        )

    async def leaderboard(self, request: web.Request) -> web.Response:
        q = request.query
        where = LeadFilter(
            stage=q.get("stage") or None,
            grade=q.get("grade") or None,
            flagged={"flagged": True, "clean": False}.get(q.get("bot", "")),
            contactable={"yes": True, "no": False}.get(q.get("contactable", "")),
        )
        rows = self.board.top_leads(_limit(q, self.settings.console_top), where)
        return _json(
            {
                "total": len(self.board.leads),
                "matched": len(rows),
                "leads": [r.as_json() for r in rows],
            }
        )

    async def lead(self, request: web.Request) -> web.Response:
        lead_id = request.match_info["lead_id"]
        row = self.board.leads.get(lead_id)
        (current, history), problem = await self._ask_workers(lead_id)
        if row is None and current is None and history is None:
            return _error(404, "unknown lead")
        emails = self._may_see_emails(request)
        return _json(
            {
                "lead": None if row is None else row.as_json(),
                "current": current,
                "history": history,
                "alerts": [
                    self._shown(a, emails=emails) for a in self.board.lead_alerts.get(lead_id, [])
                ],
                "worker_error": problem,
                "bot_flag_help": BOT_FLAG_HELP,
            }
        )

    async def alerts(self, request: web.Request) -> web.Response:
        emails = self._may_see_emails(request)
        shown = list(self.board.alerts)[: _limit(request.query, 100)]
        return _json({"alerts": [self._shown(a, emails=emails) for a in shown]})

    async def accounts(self, request: web.Request) -> web.Response:
        top = self.board.top_accounts(_limit(request.query, self.settings.console_top))
        return _json({"total": len(self.board.accounts), "accounts": top})

    async def model_page(self, request: web.Request) -> web.Response:
        settings = self.settings
        return _json(
            {
                "model": self.model.model_dump(mode="json"),
                "calibration": _report(settings.console_calibration_report),
                "diff": _report(settings.console_model_diff),
            }
        )

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        await response.write(
            b"retry: 2000\nevent: tick\ndata: " + orjson.dumps(self._counts()) + b"\n\n"
        )
        with self.hub.subscribe() as queue:
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    message = b": keep-alive\n\n"
                if message == CLOSE:
                    break
                try:
                    await response.write(message)
                except (ConnectionResetError, RuntimeError):  # the browser went away
                    break
        return response

    # --- helpers -----------------------------------------------------------------------

    @property
    def model(self) -> ScoringModel:
        """The model on leads.model, else the one this console's settings name."""
        if self.board.model is not None:
            return self.board.model
        if self._fallback_model is None:
            self._fallback_model = ScoringModel.load(self.settings.model_path)
        return self._fallback_model

    @property
    def _api_url(self) -> str:
        return self.settings.effective_console_api_url

    async def _ask_workers(self, lead_id: str) -> tuple[tuple[Any, Any], str | None]:
        """((current score, history), why they are missing) from the workers' API."""
        path = f"{self._api_url}/leads/{quote(lead_id, safe='')}"
        try:
            current, history = await asyncio.gather(self._get(path), self._get(f"{path}/history"))
        except (aiohttp.ClientError, TimeoutError, WorkerRefused) as exc:
            log.warning("the worker API did not answer the console: %s", type(exc).__name__)
            return (None, None), _worker_problem(exc, self._api_url)
        return (current, history), None

    async def _get(self, url: str) -> Any:
        assert self._session is not None, "the application is not running"
        token = self.settings.console_api_token
        headers = {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}
        async with self._session.get(url, headers=headers) as answer:
            if answer.status == 404:
                return None
            if answer.status != 200:
                raise WorkerRefused(answer.status)
            return orjson.loads(await answer.read())


class WorkerRefused(Exception):
    """The worker API answered something other than 200 or 404."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the worker API answered {status}")
        self.status = status


def _worker_problem(exc: Exception, url: str) -> str:
    if isinstance(exc, WorkerRefused) and exc.status in (401, 403):
        return (
            f"the worker API at {url} refused the console ({exc.status}): set "
            "LEADSCORE_CONSOLE_API_TOKEN to a token with read:leads"
        )
    if isinstance(exc, WorkerRefused):
        return f"the worker API at {url} answered {exc.status}: retry"
    return (
        f"no worker API answers at {url} (LEADSCORE_CONSOLE_API_URL): factors and history need one"
    )


# The page loads only its own assets; no other site may frame it (clickjacking) or read
# where a lead's page was opened from.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def _report(path: Path | None) -> Any:
    """A JSON report file's content; None when not configured, unreadable or not JSON."""
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("the report %s could not be read as JSON", path)
        return None


def _limit(query: Any, default: int) -> int:
    try:
        return max(1, min(1000, int(query.get("limit", default))))
    except ValueError:
        return default


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(doc), status=status, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


async def serve(console: Console) -> web.AppRunner:
    """Start the console's HTTP server; the runner to clean up."""
    settings = console.settings
    runner = web.AppRunner(console.application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner,
        settings.console_bind,
        settings.console_port,
        ssl_context=server_ssl_context(settings),
    )
    await site.start()
    return runner
