"""``memvault jobs list|show|retry``: extraction jobs, straight from the configured database.

``retry`` is the use case behind ``POST /api/v1/admin/jobs/{id}/retry``, audited with
the operator ``cli``. It enqueues the job on the configured broker; with the in-process
broker nobody in this process consumes it, and the server's sweeper sends it on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memvault.application.jobs.bulk_retry import RetryJobs
from memvault.application.jobs.queries import ListJobs
from memvault.container import Settings
from memvault.domain.errors import Conflict, InvalidValue, NotFound
from memvault.domain.jobs import ExtractionJob
from memvault.entrypoints.maintenance import run_directly

CLI_OPERATOR = "cli"
ERROR_WIDTH = 60

jobs = typer.Typer(
    help="Extraction jobs: inspect them, send failed or dead ones again.", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.isoformat(timespec="milliseconds")


def _short(text: str | None) -> str:
    if not text:
        return "-"
    line = " ".join(text.split())
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"


def _fail(error: Exception, code: int) -> typer.Exit:
    err.print(f"[red]{error}[/]")
    return typer.Exit(code)


@jobs.command("list")
def list_jobs(
    status: Annotated[
        list[str] | None, typer.Option(help="pending, processing, success, failed, dead.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only this user's jobs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first.")] = 20,
) -> None:
    """List jobs, newest first."""
    statuses = [s for value in status or [] for s in value.split(",") if s.strip()]
    query = ListJobs(user_id=user, statuses=statuses, limit=limit)
    try:
        page = run_directly(Settings(), lambda c: c.list_jobs()(query))
    except InvalidValue as error:
        raise _fail(error, 2) from error
    table = Table("id", "user", "status", "attempts", "next retry", "updated", "last error")
    for job in page.items:
        table.add_row(
            str(job.id),
            job.user_id,
            job.status.value,
            f"{job.retry_count}/{job.max_retry}",
            _time(job.next_retry_at),
            _time(job.updated_at),
            _short(job.last_error),
        )
    console.print(table)
    if page.next_cursor is not None:
        console.print(f"(more: older than job {page.next_cursor})")


def _details(job: ExtractionJob) -> Table:
    table = Table("field", "value", title=f"job {job.id}", show_lines=False)
    rows = {
        "status": job.status.value,
        "user": job.user_id,
        "conversation": job.conversation_id or "-",
        "message": job.source_message_id or "-",
        "event": job.source_event_id or "-",
        "job key": job.idempotency_key,
        "attempts": f"{job.retry_count} of {job.max_retry}",
        "next retry": _time(job.next_retry_at),
        "locked by": job.locked_by or "-",
        "locked until": _time(job.locked_until),
        "memory ids": ", ".join(str(i) for i in job.memory_ids) or "-",
        "created": _time(job.created_at),
        "updated": _time(job.updated_at),
        "last error": job.last_error or "-",
    }
    for name, value in rows.items():
        table.add_row(name, value)
    return table


@jobs.command("show")
def show_job(job_id: Annotated[int, typer.Argument(min=1, help="The job id.")]) -> None:
    """Show one job: its state, last error and the memories it wrote."""
    try:
        job = run_directly(Settings(), lambda c: c.get_job()(job_id, user_id=None))
    except NotFound as error:
        raise _fail(error, 1) from error
    console.print(_details(job))


@jobs.command("retry")
def retry_job(
    job_id: Annotated[
        int | None, typer.Argument(min=1, help="The job id (or filter with --status/--since).")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="Retry every job in this status: failed or dead.")
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(help="With --status: only jobs that changed at or after (ISO, UTC)."),
    ] = None,
    user: Annotated[str | None, typer.Option(help="With --status: only this user's jobs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="With --status: at most.")] = 100,
    reason: Annotated[str | None, typer.Option(help="Audit reason.")] = None,
) -> None:
    """Send a failed or dead job again, with a fresh retry budget (audited); or, with
    --status and --since, every job matching the filter (each audited)."""
    settings = Settings()
    if job_id is None:
        _retry_many(settings, status, since, user=user, limit=limit, reason=reason)
        return
    try:
        job = run_directly(
            settings, lambda c: c.retry_job()(job_id, operator=CLI_OPERATOR, reason=reason)
        )
    except (NotFound, Conflict) as error:
        raise _fail(error, 1) from error
    console.print(f"job {job.id} is {job.status.value} again (attempts reset to 0)")
    if settings.broker == "memory":
        console.print(
            "the running server picks it up within "
            f"{settings.sweep_interval_s + settings.job_requeue_grace_s:g} s"
        )


def _retry_many(
    settings: Settings,
    status: str | None,
    since: datetime | None,
    *,
    user: str | None,
    limit: int,
    reason: str | None,
) -> None:
    if status is None or since is None:
        raise _fail(ValueError("give a job id, or --status and --since"), 2)
    moment = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    command = RetryJobs(status=status, since=moment, user_id=user, limit=limit)
    try:
        ids = run_directly(
            settings, lambda c: c.retry_jobs()(command, operator=CLI_OPERATOR, reason=reason)
        )
    except InvalidValue as error:
        raise _fail(error, 2) from error
    console.print(f"{len(ids)} jobs sent again: {', '.join(map(str, ids)) or '-'}")
