"""The ``memvault`` command: serve, migrate, mint tokens, manage jobs, show configuration."""

from __future__ import annotations

import faulthandler
import re
from datetime import timedelta
from typing import Annotated

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from memvault.container import Command, Settings, migrate, missing_extra, refusal
from memvault.entrypoints.cli_jobs import jobs
from memvault.entrypoints.cli_keys import keys
from memvault.entrypoints.cli_transfer import export_memories, import_memories
from memvault.entrypoints.http.auth import issue_token
from memvault.entrypoints.logging import configure_logging

app = typer.Typer(help="memvault: long-term memory for AI agents.", no_args_is_help=True)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(jobs, name="jobs")
app.add_typer(keys, name="keys")
app.command("export")(export_memories)
app.command("import")(import_memories)
console = Console()
err = Console(stderr=True)

DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = DURATION.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number and a unit: 30m, 24h, 7d")
    return timedelta(**{UNITS[match.group(2)]: float(match.group(1))})


@app.command()
def serve(
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema before serving.")
    ] = True,
) -> None:
    """Run the HTTP API (and, in the embedded default, everything else in-process)."""
    import uvicorn

    from memvault.entrypoints.http.app import create_app

    settings = Settings()
    refuse_to_start(settings, "serve")
    configure_logging(settings.log_level, settings.log_format)
    # A crash in a native extension (SQLite, qdrant-edge, the embedders) prints every
    # thread's Python stack to stderr instead of dying silently.
    faulthandler.enable()
    if migrate_first:
        migrate(settings)
    secret_configured = settings.auth_jwt_secret is not None
    app_ = create_app(settings)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]memvault[/] serving on {base}  (OpenAPI: {base}/schema)")
    if not secret_configured:
        console.print(f"JWT secret: {(settings.data_dir / 'jwt-secret').resolve()}")
    console.print("Get a token:  [bold].venv/bin/memvault token alice[/]  (add --admin for ops)")
    console.print(
        f'Then:         curl -H "Authorization: Bearer $TOKEN" {base}/api/v1/memory/items'
    )
    uvicorn.run(
        app_,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's records go through configure_logging's handler
    )


@app.command()
def mcp() -> None:
    """Serve the MCP tools over stdio for a running server (MEMVAULT_URL, MEMVAULT_API_KEY
    or MEMVAULT_TOKEN, MEMVAULT_USER for service keys)."""
    from memvault.entrypoints.mcp_stdio import run

    run()


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration (the embedded SQLite file is created if missing)."""
    settings = Settings()
    missing = missing_extra(settings)
    if missing is not None:
        err.print(f"memvault refuses to start: {missing}", markup=False)
        raise typer.Exit(2)
    migrate(settings)
    console.print(f"schema is up to date: {masked_url(settings.effective_database_url)}")


@app.command()
def token(
    user: Annotated[str, typer.Argument(help="The user id (the token's sub).")],
    admin: Annotated[bool, typer.Option(help="Grant the admin scope.")] = False,
    ttl: Annotated[str, typer.Option(help="Lifetime: 30m, 24h, 7d.")] = "24h",
) -> None:
    """Print a bearer token signed with the configured secret."""
    if not 1 <= len(user) <= 128:
        raise typer.BadParameter("a user id has 1 to 128 characters")
    settings = Settings()
    refuse_to_start(settings, "token")
    try:
        secret = settings.jwt_secret(create=True)
    except OSError as error:
        err.print(f"cannot read or create the JWT secret: {error}")
        raise typer.Exit(1) from error
    typer.echo(issue_token(secret, user, admin=admin, ttl=parse_duration(ttl)))


def refuse_to_start(settings: Settings, command: Command) -> None:
    """Stop ``command`` with the reason :func:`container.refusal` gives, if any."""
    reason = refusal(settings, command)
    if reason is not None:
        err.print(f"memvault refuses to start: {reason}", markup=False)
        raise typer.Exit(2)


@app.command()
def worker() -> None:
    """Run Dramatiq worker processes (scale mode: MEMVAULT_BROKER=redis or rabbitmq)."""
    import os
    import sys

    from memvault.entrypoints.metrics_server import prepare_worker_metrics
    from memvault.entrypoints.worker import dramatiq_argv

    settings = Settings()
    refuse_to_start(settings, "worker")
    metrics = prepare_worker_metrics(settings)
    argv = [sys.executable, "-m", "dramatiq", *dramatiq_argv(settings), *metrics]
    console.print(f"starting {settings.worker_processes} worker process(es): {' '.join(argv[2:])}")
    os.execv(sys.executable, argv)  # noqa: S606 (fixed argv, no shell)


@app.command()
def relay() -> None:
    """Run the outbox relay, the event consumer and the job sweepers (scale mode)."""
    import asyncio

    from memvault.entrypoints.pipeline import run_relay

    settings = Settings()
    refuse_to_start(settings, "relay")
    configure_logging(settings.log_level, settings.log_format)
    asyncio.run(run_relay(settings))


@app.command()
def dedup(
    user: Annotated[str | None, typer.Option(help="Only this user's memories.")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Archive (default: dry run).")] = False,
    reason: Annotated[str | None, typer.Option(help="Audit reason.")] = None,
) -> None:
    """Archive duplicated memories (same user, type and content); a dry run by default."""
    from memvault.application.maintenance.dedup import Dedup
    from memvault.domain.audit import OperatorType
    from memvault.entrypoints.maintenance import call_server, run_directly, server_url

    settings = Settings()
    body = {"user_id": user, "dry_run": not apply, "reason": reason}
    base = server_url(settings)
    if base is not None:
        report = call_server(settings, base, "/api/v1/admin/dedup", body)
    else:
        command = Dedup(
            user_id=user,
            dry_run=not apply,
            reason=reason,
            operator=OperatorType.ADMIN,
            operator_id="cli",
        )
        result = run_directly(settings, lambda c: c.dedup()(command))
        report = {name: getattr(result, name) for name in result.__slots__}
    table = Table("field", "value", title="dedup" + (" (dry run)" if not apply else ""))
    for name, value in report.items():
        table.add_row(name, str(value))
    console.print(table)


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted, delete nothing.")
    ] = False,
) -> None:
    """Delete idempotency keys, inbox entries, consumed outbox rows, dead events and chat
    turns older than their retention (MEMVAULT_RETENTION_*), in small batches."""
    from memvault.entrypoints.maintenance import run_directly

    settings = Settings()
    report = run_directly(settings, lambda c: c.purge()(dry_run=dry_run))
    title = "would delete (dry run)" if dry_run else "deleted"
    table = Table("rows", title, title="purge")
    for kind, count in report.rows.items():
        table.add_row(kind.value, str(count))
    console.print(table)


@app.command()
def reindex() -> None:
    """Rebuild the vector store from the database (through a running server if one answers)."""
    from rich.progress import Progress

    from memvault.entrypoints.maintenance import call_server, run_directly, server_url

    settings = Settings()
    base = server_url(settings)
    if base is not None:
        console.print(f"asking the running server at {base} to reindex ...")
        report = call_server(settings, base, "/api/v1/admin/reindex", None)
        console.print(report)
        return
    with Progress(console=console) as progress:
        task = progress.add_task("reindexing", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            result = run_directly(settings, lambda c: c.reindex()(advance))
        except Exception as error:  # e.g. the embedded store held by another process
            err.print(f"reindex failed: {error}")
            raise typer.Exit(1) from error
    console.print(
        f"reindexed {result.items} items ({result.indexed} searchable), "
        f"removed {result.removed_orphans} orphaned documents"
    )


config = typer.Typer(help="Configuration.", no_args_is_help=True)
app.add_typer(config, name="config")


CREDENTIAL_IN_URL = re.compile(
    r"(?P<head>(?:[a-z][a-z0-9+.-]*://|,)[^:/@\s,]*:)[^@/\s,]*(?=@)", re.I
)
CREDENTIAL_IN_QUERY = re.compile(
    r"(?P<head>[?&](?:password|passwd|pwd|token|api_key|apikey|key|secret)=)[^&\s]*", re.I
)
MASK = "********"


def masked_url(url: str) -> str:
    """``url`` with every credential replaced: the password of each ``user:password@``
    (several URLs in one value included) and password-, token- or key-like parameters."""
    url = CREDENTIAL_IN_URL.sub(lambda match: match["head"] + MASK, url)
    return CREDENTIAL_IN_QUERY.sub(lambda match: match["head"] + MASK, url)


def shown_value(value: object) -> str:
    """How ``config show`` prints one setting: secrets masked whole, URLs' credentials."""
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return MASK
    return masked_url(str(value))


@config.command("show")
def config_show() -> None:
    """Print the effective configuration, secrets masked."""
    settings = Settings()
    table = Table("variable", "value")
    for name in type(settings).model_fields:
        table.add_row(f"MEMVAULT_{name.upper()}", shown_value(getattr(settings, name)))
    table.add_row("(effective database)", masked_url(settings.effective_database_url))
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
