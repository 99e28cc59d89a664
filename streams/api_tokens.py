"""API tokens as the settings keep them (LEADSCORE_API_TOKENS): a name, the token's SHA-256
and its scopes, never the token itself. `leadscore api-token NAME --scope S` makes one."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from pydantic import BaseModel, Field

Scope = Literal["read:leads", "read:accounts", "read:contacts", "read:metrics"]
SCOPES: tuple[Scope, ...] = ("read:leads", "read:accounts", "read:contacts", "read:metrics")


class ApiToken(BaseModel):
    """One caller's token: a name (for logs), its hash, its scopes."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: frozenset[Scope]


def token_digest(token: str) -> str:
    # One SHA-256 is enough: tokens are 256 random bits, not passwords to guess.
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(name: str, scopes: list[Scope]) -> tuple[str, ApiToken]:
    """A fresh random token and its settings entry."""
    token = "lst_" + secrets.token_urlsafe(32)
    return token, ApiToken(name=name, sha256=token_digest(token), scopes=frozenset(scopes))
