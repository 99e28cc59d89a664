"""Email domains: the one rule for "this domain or a parent of it is in a list"."""

from __future__ import annotations

from collections.abc import Set
from functools import lru_cache

import idna


def email_domain(email: str | None) -> str | None:
    """The address's domain as registries list domains: lower case, ASCII (an IDN in its
    punycode form), without a trailing dot."""
    if not email or "@" not in email:
        return None
    return ascii_domain(email.rsplit("@", 1)[1])


@lru_cache(maxsize=65536)
def ascii_domain(domain: str) -> str:
    name = domain.strip().rstrip(".").lower()
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return name  # not a valid IDN: compared as written


def in_domain_list(domain: str, domains: Set[str]) -> bool:
    """The domain or any parent of it (mx.mailinator.com counts as mailinator.com)."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))
