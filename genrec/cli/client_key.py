"""`genrec client-key NAME --scope read`: a new API key for one client of the gateway, and the
entry that configures it (`GENREC_CLIENTS`, or the chart's `gateway.clients`), which holds only
the key's digest. The key is printed once; nothing is stored."""

from __future__ import annotations

import json
import re
import secrets
from typing import Annotated

import typer

from genrec.cli.common import app, console
from genrec.errors import GenrecError


@app.command("client-key")
def client_key(
    name: Annotated[str, typer.Argument(help="The client, e.g. shop-frontend")],
    scope: Annotated[
        list[str], typer.Option(help="read (pages, histories) and/or write (events)")
    ] = ["read"],
) -> None:
    """Make a key for a client of the gateway and print it with its configuration entry."""
    from service.clients import NAME, Scope, digest

    if not re.match(NAME, name):
        raise GenrecError(f"client name {name!r}: letters, digits, '.', '_' or '-' (≤ 64)")
    if unknown := sorted(set(scope) - set(Scope)):
        raise GenrecError(f"unknown scope {unknown[0]!r}; expected read or write")
    key = secrets.token_urlsafe(32)
    entry = {"sha256": digest(key), "scopes": sorted(set(scope))}
    console.print(f"key (give it to {name}; it is shown only now): {key}")
    console.print(f"GENREC_CLIENTS entry: {json.dumps({name: entry})}", soft_wrap=True)
    console.print(f"chart values (gateway.clients): {name}: {json.dumps(entry)}", soft_wrap=True)
