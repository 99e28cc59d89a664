"""Email domains: the one rule for "this domain or a parent of it is in a list"."""

from __future__ import annotations

from collections.abc import Set


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()


def in_domain_list(domain: str, domains: Set[str]) -> bool:
    """The domain or any parent of it (mx.mailinator.com counts as mailinator.com)."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))
