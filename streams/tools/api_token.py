"""`leadscore api-token NAME --scope S`: a new bearer token for the worker's HTTP API."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer

from streams.api_tokens import SCOPES, Scope, new_token


def api_token(
    name: Annotated[str, typer.Argument(help="Who the token is for (letters, digits, . _ -)")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"Repeatable: {', '.join(SCOPES)}")],
) -> None:
    """Make an API token: print it once, and the entry LEADSCORE_API_TOKENS keeps (its hash).

    The token itself is stored nowhere: give it to the caller, who sends it as
    `Authorization: Bearer <token>`.
    """
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        typer.echo(
            f"error: unknown scope {', '.join(unknown)}: one of {', '.join(SCOPES)}", err=True
        )
        raise typer.Exit(2)
    scopes: list[Scope] = [s for s in SCOPES if s in scope]
    try:
        token, entry = new_token(name, scopes)
    except ValueError as exc:
        typer.echo(f"error: invalid name {name!r}: letters, digits, '.', '_' and '-'", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"token: {token}")
    entry_json = orjson.dumps(entry.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
    typer.echo(f"LEADSCORE_API_TOKENS entry: {entry_json.decode()}")
