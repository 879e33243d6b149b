"""``memvault keys create|list|revoke``: API keys, straight on the configured database.

A server answering on the same database sees a new or revoked key at once: keys are
read from the database on every request, never cached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memvault.application.api_keys.create_key import CreateKey
from memvault.container import Settings
from memvault.domain.errors import DomainError
from memvault.entrypoints.maintenance import run_directly

keys = typer.Typer(help="API keys: make, list and revoke them.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="seconds")


@keys.command("create")
def create_key(
    name: Annotated[str, typer.Option(help="Who uses the key; audited as the operator.")],
    scope: Annotated[str, typer.Option(help="service, admin or user:<id>.")],
    expires: Annotated[
        str | None, typer.Option(help="Lifetime such as 90d or 12h; unset: never.")
    ] = None,
) -> None:
    """Make a key and print its secret (shown this once; only a hash is stored)."""
    from memvault.entrypoints.cli import parse_duration  # cli.py imports this module

    lifetime = parse_duration(expires) if expires is not None else None
    command = CreateKey(name=name, scope=scope, expires_in=lifetime)
    try:
        new = run_directly(Settings(), lambda c: c.create_key()(command))
    except DomainError as error:
        err.print(f"[red]{error.detail}[/]")
        raise typer.Exit(2) from error
    err.print(f"key {new.key.id} ({new.key.name}, {new.key.scope}); store it now:")
    print(new.secret)


@keys.command("list")
def list_keys() -> None:
    """Every key, newest first: names, prefixes, scopes, times (never a secret)."""
    table = Table("id", "name", "prefix", "scope", "created", "expires", "revoked", "last used")
    for key in run_directly(Settings(), lambda c: c.list_keys()()):
        table.add_row(
            str(key.id),
            key.name,
            key.prefix + "…",
            str(key.scope),
            _time(key.created_at),
            _time(key.expires_at),
            _time(key.revoked_at),
            _time(key.last_used_at),
        )
    console.print(table)


@keys.command("revoke")
def revoke_key(
    key_id: Annotated[int, typer.Argument(help="The key's id (see keys list).")],
) -> None:
    """Revoke a key: every request with it is refused from now on."""
    try:
        key = run_directly(Settings(), lambda c: c.revoke_key()(key_id))
    except DomainError as error:
        err.print(f"[red]{error.detail}[/]")
        raise typer.Exit(1) from error
    console.print(f"key {key.id} ({key.name}) revoked at {_time(key.revoked_at)}")
