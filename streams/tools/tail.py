"""`leadscore tail`: follow the lead and account scores and alerts (leads.scores,
leads.alerts, accounts.scores, accounts.alerts) and show the hottest leads and accounts live.

Three renderings of one `Board` (the latest score per lead and per account, and the latest
alerts of both):
- a rich live view when stdout is a terminal: top leads, top accounts, and a panel of
  alerts as they fire (account alerts marked ACCOUNT);
- plain lines otherwise (CI logs, `| tee`): each alert as it fires, the top leads and
  accounts periodically;
- `--json`: one JSON object per message, tagged with its topic, for piping.

Privacy: lead emails appear only in the live view's alert panel, which is sales' view of a
lead they are about to contact. Plain lines and JSON lines never carry them.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Annotated, Any, TextIO

import orjson
import typer
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from schemas.outputs import AccountAlert, AccountScore, Alert, ScoreUpdate
from schemas.topics import ACCOUNT_ALERTS, ACCOUNT_SCORES, ALERTS, SCORES, Topic
from streams.kafka.clients import client_kwargs
from streams.settings import Settings

MAX_ALERTS_SHOWN = 8
MAX_ALERT_LINES = 5  # plain output: alert lines per status period
TOP_FACTORS_SHOWN = 3
TOP_ACCOUNTS_SHOWN = 5  # at most; never more than the leads shown
FOLLOWED: tuple[Topic, ...] = (SCORES, ALERTS, ACCOUNT_SCORES, ACCOUNT_ALERTS)
AnyAlert = Alert | AccountAlert
Handler = Callable[[str, bytes | None, bytes | None], None]  # (contract topic, key, value)


@dataclass
class Board:
    """What the view shows: the latest score of each lead and of each account, and the
    latest alerts (of leads and accounts, newest first)."""

    scores: dict[str, ScoreUpdate] = field(default_factory=dict)
    accounts: dict[str, AccountScore] = field(default_factory=dict)
    alerts: deque[AnyAlert] = field(default_factory=lambda: deque(maxlen=MAX_ALERTS_SHOWN))
    counts: Counter[str] = field(default_factory=Counter)
    alerts_by_threshold: Counter[str] = field(default_factory=Counter)
    alert_ids: set[str] = field(default_factory=set)

    def apply(self, topic: str, key: bytes | None, value: bytes | None) -> AnyAlert | None:
        """Take one message of `topic` (contract name); the alert, if it was one."""
        try:
            if topic == SCORES.name:
                self._score(key, value)
            elif topic == ACCOUNT_SCORES.name:
                self._account(key, value)
            elif topic == ALERTS.name and value is not None:
                return self._alert(Alert.model_validate_json(value), "alerts")
            elif topic == ACCOUNT_ALERTS.name and value is not None:
                return self._alert(AccountAlert.model_validate_json(value), "account_alerts")
        except ValidationError:
            self.counts["unreadable"] += 1
        return None

    def _alert(self, alert: AnyAlert, counted: str) -> AnyAlert | None:
        if alert.alert_id in self.alert_ids:  # re-sent after a crash: shown once
            self.counts["alerts_repeated"] += 1
            return None
        self.alert_ids.add(alert.alert_id)
        self.alerts.appendleft(alert)
        self.counts[counted] += 1
        self.alerts_by_threshold[alert.threshold] += 1
        return alert

    def _score(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone: the lead was erased
            self.scores.pop((key or b"").decode("utf-8", "replace"), None)
            self.counts["tombstones"] += 1
            return
        update = ScoreUpdate.model_validate_json(value)
        self.scores[update.lead_id] = update
        self.counts["scores"] += 1

    def _account(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:  # a tombstone: no one is left in the account
            self.accounts.pop((key or b"").decode("utf-8", "replace"), None)
            self.counts["account_tombstones"] += 1
            return
        update = AccountScore.model_validate_json(value)
        self.accounts[update.account_id] = update
        self.counts["account_scores"] += 1

    def top(self, n: int) -> list[ScoreUpdate]:
        return sorted(self.scores.values(), key=lambda u: (-u.score, u.lead_id))[:n]

    def top_accounts(self, n: int) -> list[AccountScore]:
        """The best-scoring accounts; among equals, those with more engaged people."""
        ranked = sorted(
            self.accounts.values(), key=lambda a: (-a.score, -a.engaged_people, a.account_id)
        )
        return ranked[:n]


# --- rendering ---------------------------------------------------------------------------

_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("lead", "left"), ("score", "right"), ("fit", "right"), ("eng", "right"),
    ("valid", "right"), ("grade", "center"), ("stage", "left"), ("bot flags", "left"),
    ("top factors", "left"),
)  # fmt: skip
_ACCOUNT_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("account", "left"), ("score", "right"), ("people", "right"), ("engaged", "right"),
    ("roles", "left"), ("stage", "left"), ("top factor", "left"),
)  # fmt: skip
_STAGE_STYLE = {"sql": "bold green", "mql": "green", "converted": "bold cyan",
                "disqualified": "dim red", "engaged": "", "new": "dim",
                "mqa": "bold green"}  # fmt: skip
_ROLE_LABEL = {"decision_maker": "decision maker", "influencer": "influencer", "user": "user"}


def factors_text(update: ScoreUpdate | Alert | AccountScore, n: int = TOP_FACTORS_SHOWN) -> str:
    return ", ".join(f"{factor_label(f.factor)} {f.points:+g}" for f in update.factors[:n])


def roles_text(account: AccountScore) -> str:
    return ", ".join(_ROLE_LABEL.get(r, r) for r in account.roles) or "-"


def top_leads_text(alert: AccountAlert, n: int = 3) -> str:
    """An account alert's best people, by lead id and score (no contact details)."""
    return ", ".join(f"{t.lead_id} {t.score}" for t in alert.top_leads[:n]) or "-"


def factor_label(factor: str) -> str:
    """A factor as sales read it: a page kind's activity (page.pricing) is "pricing page";
    any other factor keeps the name the model gives it."""
    kind = factor.removeprefix("page.")
    return f"{kind} page" if kind != factor else factor


def leads_table(board: Board, top: int) -> Table:
    table = Table(title=f"Top {top} leads by score", expand=True, title_justify="left")
    for name, justify in _COLUMNS:
        # One line per lead whatever the width: long text is cut with "…", not wrapped.
        ratio = {"bot flags": 1, "top factors": 3}.get(name)
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", ratio=ratio)
    for u in board.top(top):
        table.add_row(
            u.lead_id,
            Text(str(u.score), style="bold"),
            str(u.fit),
            str(u.engagement),
            f"{u.validity:.2f}",
            u.grade,
            Text(u.stage, style=_STAGE_STYLE.get(u.stage, "")),
            Text(", ".join(u.bot_flags) or "-", style="yellow" if u.bot_flags else "dim"),
            factors_text(u),
        )
    return table


def accounts_table(board: Board, top: int) -> Table:
    shown = board.top_accounts(top)
    title = f"Top {top} accounts by score" if board.accounts else "Top accounts (none yet)"
    table = Table(title=title, expand=True, title_justify="left")
    for name, justify in _ACCOUNT_COLUMNS:
        ratio = {"account": 2, "roles": 2, "top factor": 3}.get(name)
        table.add_column(name, justify=justify, no_wrap=True, overflow="ellipsis", ratio=ratio)
    for a in shown:
        table.add_row(
            a.account_id,
            Text(str(a.score), style="bold"),
            str(a.people),
            str(a.engaged_people),
            roles_text(a),
            Text(a.stage, style=_STAGE_STYLE.get(a.stage, "")),
            factors_text(a, 1) or "-",
        )
    return table


def alerts_panel(board: Board) -> Panel:
    """The one place an email is shown: sales' contact view of an alerted lead. Account
    alerts name the account and its best people (lead ids), never a contact."""
    table = Table(box=None, expand=True, show_header=True, pad_edge=False)
    for name in ("time", "threshold", "lead / account", "score"):
        table.add_column(name, no_wrap=True)
    # The contact and the reasons share what is left; one line per alert, cut with "…".
    table.add_column("contact", ratio=3, no_wrap=True, overflow="ellipsis")
    table.add_column("why", ratio=2, no_wrap=True, overflow="ellipsis")
    for a in board.alerts:
        if isinstance(a, AccountAlert):
            table.add_row(
                a.emitted_at.strftime("%H:%M:%S"),
                Text(f"ACCOUNT {a.threshold}", style="bold cyan"),
                a.account_id,
                f"{a.previous_score}→{a.score}",
                f"top leads: {top_leads_text(a)}",
                "-",
            )
            continue
        c = a.contact
        contact = " · ".join(x for x in (c.name, c.job_title, c.company, c.email) if x)
        if not a.contactable:  # opted out or bounced: call, do not email
            contact = f"do not email · {contact}"
        table.add_row(
            a.emitted_at.strftime("%H:%M:%S"),
            Text(a.threshold, style="bold magenta"),
            a.lead_id,
            f"{a.previous_score}→{a.score}",
            contact or "-",
            factors_text(a, 2),
        )
    counts = ", ".join(f"{k} {v}" for k, v in sorted(board.alerts_by_threshold.items()))
    return Panel(table, title=f"Latest alerts ({counts or 'none yet'})", title_align="left")


def render(board: Board, top: int, header: str = "") -> RenderableType:
    status = (
        f"{len(board.scores)} leads · {board.counts['scores']} score updates · "
        f"{board.counts['alerts']} alerts · {len(board.accounts)} accounts · "
        f"{board.counts['account_alerts']} account alerts"
    )
    lines = Text(f"{header}\n{status}" if header else status, style="dim")
    accounts = accounts_table(board, min(top, TOP_ACCOUNTS_SHOWN))
    return Group(lines, leads_table(board, top), accounts, alerts_panel(board))


def alert_line(alert: AnyAlert) -> str:
    """An alert as one plain line: name and company, never the email; an account alert
    as ACCOUNT <threshold> <account> <score> and its best people's lead ids."""
    if isinstance(alert, AccountAlert):
        return (
            f"ACCOUNT {alert.threshold} {alert.account_id} {alert.score} "
            f"(was {alert.previous_score}) top leads: {top_leads_text(alert)}"
        )
    c = alert.contact
    who = " / ".join(x for x in (c.name, c.company) if x) or "-"
    email = "" if alert.contactable else " (do not email)"
    return (
        f"ALERT {alert.threshold} lead={alert.lead_id} score={alert.previous_score}->"
        f"{alert.score} contact={who}{email} why: {factors_text(alert, 2)}"
    )


def plain_status(board: Board, top: int, header: str = "") -> str:
    lines = [header] if header else []
    lines.append(
        f"leads={len(board.scores)} score_updates={board.counts['scores']} "
        f"alerts={board.counts['alerts']} accounts={len(board.accounts)} "
        f"account_updates={board.counts['account_scores']} "
        f"account_alerts={board.counts['account_alerts']}"
    )
    for u in board.top(top):
        flags = ",".join(u.bot_flags) or "-"
        lines.append(
            f"  {u.lead_id:<20} score={u.score:>3} grade={u.grade} stage={u.stage:<12} "
            f"flags={flags} why: {factors_text(u)}"
        )
    for a in board.top_accounts(min(top, TOP_ACCOUNTS_SHOWN)):
        roles = ",".join(a.roles) or "-"
        lines.append(
            f"  account {a.account_id:<20} score={a.score:>3} people={a.people} "
            f"engaged={a.engaged_people} roles={roles} stage={a.stage:<7} "
            f"why: {factors_text(a, 1) or '-'}"
        )
    return "\n".join(lines)


def json_line(topic: str, key: bytes | None, value: bytes | None) -> bytes:
    """One message as a JSON line tagged with its topic; alerts lose the contact's email."""
    body: Any = None
    if value is not None:
        try:
            body = orjson.loads(value)
        except orjson.JSONDecodeError:
            body = value.decode("utf-8", "replace")
    if topic == ALERTS.name and isinstance(body, dict) and isinstance(body.get("contact"), dict):
        body["contact"].pop("email", None)
    lead = None if key is None else key.decode("utf-8", "replace")
    return orjson.dumps({"topic": topic, "key": lead, "value": body})


class View:
    """Shows a Board: a rich live view on a terminal, plain periodic lines elsewhere."""

    def __init__(
        self,
        board: Board,
        *,
        top: int = 10,
        live: bool | None = None,
        every: float = 5.0,
        header: Callable[[], str] = lambda: "",
        out: TextIO | None = None,
    ) -> None:
        self.board, self.top, self.every, self.header = board, top, every, header
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self._live: Live | None = None
        self._last_plain = time.monotonic()
        self._alert_lines = 0  # alert lines since the last plain status

    def __enter__(self) -> View:
        if self.live:
            console = Console(file=self.out)
            self._live = Live(self._render(), console=console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def _render(self) -> RenderableType:
        return render(self.board, self.top, self.header())

    def message(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        alert = self.board.apply(topic, key, value)
        if alert is None or self.live:
            return
        # A burst of alerts must not drown a CI log: a few lines per status period.
        if self._alert_lines < MAX_ALERT_LINES:
            self._print(alert_line(alert))
        self._alert_lines += 1

    def refresh(self, force: bool = False) -> None:
        """Call often: redraws the live view, or prints the plain status every `every` s."""
        if self._live is not None:
            self._live.update(self._render())
        elif force or time.monotonic() - self._last_plain >= self.every:
            self._last_plain = time.monotonic()
            hidden = self._alert_lines - MAX_ALERT_LINES
            if hidden > 0:
                self._print(f"(+{hidden} more alerts not shown)")
            self._alert_lines = 0
            self._print(plain_status(self.board, min(self.top, 5), self.header()))

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)


# --- consuming ---------------------------------------------------------------------------


async def follow(
    settings: Settings,
    handle: Handler,
    *,
    from_beginning: bool,
    stop: asyncio.Event,
    on_idle: Callable[[], None] | None = None,
    followed: tuple[Topic, ...] = FOLLOWED,
    caught_up: asyncio.Event | None = None,
) -> None:
    """Feed every message of `followed` (the lead and account scores and alerts topics) to
    `handle` until `stop` is set; `caught_up` is set once every partition was read up to
    where it ended when the consumer started.

    No consumer group: every partition is read, nothing is committed, and any number of
    tails can run side by side without stealing partitions from each other.
    """
    names = {settings.topic(t): t.name for t in followed}
    consumer = AIOKafkaConsumer(
        *names,
        **client_kwargs(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    ends: dict[Any, int] | None = None
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=250, max_records=2000)
            for records in batches.values():
                for record in records:
                    handle(names[record.topic], record.key, record.value)
            if on_idle is not None:
                on_idle()
            if caught_up is not None and not caught_up.is_set():
                ends = ends or await _end_offsets(consumer)
                if ends and await _reached(consumer, ends):
                    caught_up.set()
    finally:
        await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[Any, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return False
    return True


async def _end_offsets(consumer: AIOKafkaConsumer) -> dict[Any, int] | None:
    """Where each assigned partition ended when first asked (None before the assignment)."""
    assigned = list(consumer.assignment())
    return dict(await consumer.end_offsets(assigned)) if assigned else None


async def missing_topics(settings: Settings) -> list[str]:
    """Output topics that do not exist (subscribing would make the broker auto-create them
    with one partition)."""
    from streams.kafka.admin import missing_topics as missing

    return await missing(settings, [settings.topic(t) for t in FOLLOWED])


@contextmanager
def stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM end the loop cleanly (consumer closed, last view drawn)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def stop_after(stop: asyncio.Event, seconds: float | None) -> None:
    if seconds is None:
        return
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    stop.set()


# --- command -----------------------------------------------------------------------------


def tail(
    top: Annotated[
        int, typer.Option(min=1, help="How many leads (and up to 5 accounts) to show")
    ] = 10,
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Replay the topics from their start")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Plain JSON lines, for piping")] = False,
    every: Annotated[
        float, typer.Option(min=0.5, help="Seconds between plain status lines (no terminal)")
    ] = 5.0,
    duration: Annotated[
        float | None, typer.Option(min=0.0, help="Stop after this many seconds")
    ] = None,
) -> None:
    """Follow the lead and account scores and alerts: top leads and accounts by score,
    alerts as they fire."""
    from streams.settings import get_settings
    from streams.tools.kafka import errors_as_exit, require_broker

    with errors_as_exit():  # bad settings, no broker, refused credentials or ACLs: one line
        settings = get_settings()
        require_broker(settings)
        missing = asyncio.run(missing_topics(settings))
    if missing:
        typer.echo(
            f"error: missing topics {', '.join(missing)} (leadscore topics create)", err=True
        )
        raise typer.Exit(1)
    if as_json:
        asyncio.run(_tail_json(settings, from_beginning, duration))
    else:
        asyncio.run(_tail_view(settings, top, from_beginning, every, duration))


async def _tail_json(settings: Settings, from_beginning: bool, duration: float | None) -> None:
    out = sys.stdout.buffer

    def write(topic: str, key: bytes | None, value: bytes | None) -> None:
        out.write(json_line(topic, key, value) + b"\n")

    stop = asyncio.Event()
    with stop_on_signals(stop):
        timer = asyncio.create_task(stop_after(stop, duration))
        await follow(settings, write, from_beginning=from_beginning, stop=stop, on_idle=out.flush)
        timer.cancel()


async def _tail_view(
    settings: Settings, top: int, from_beginning: bool, every: float, duration: float | None
) -> None:
    stop = asyncio.Event()
    where = f"following {', '.join(settings.topic(t) for t in FOLLOWED)}"
    with stop_on_signals(stop), View(Board(), top=top, every=every, header=lambda: where) as view:
        timer = asyncio.create_task(stop_after(stop, duration))
        await follow(
            settings, view.message, from_beginning=from_beginning, stop=stop, on_idle=view.refresh
        )
        timer.cancel()
        view.refresh(force=True)
