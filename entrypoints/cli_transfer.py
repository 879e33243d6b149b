"""``memvault export`` and ``memvault import``: through a running server's admin API when
one answers, else directly on the data (as ``dedup`` and ``reindex`` do)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn, TextIO

import httpx
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memvault.container import Container, Settings
from memvault.entrypoints.http.auth import issue_token

err = Console(stderr=True)
out = Console()
LONG = httpx.Timeout(10.0, read=3600.0)


def _admin_headers(settings: Settings) -> dict[str, str]:
    token = issue_token(settings.jwt_secret(), "memvault-cli", admin=True, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def export_memories(
    user: Annotated[str | None, typer.Option(help="Export this user's memories.")] = None,
    all_users: Annotated[bool, typer.Option("--all", help="Export every user's.")] = False,
    history: Annotated[bool, typer.Option(help="Include each memory's audit history.")] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write memories as JSON Lines (one memory per line) to stdout or --output."""
    from memvault.entrypoints.maintenance import run_directly, server_url

    if (user is None) == (not all_users):
        raise typer.BadParameter("give exactly one of --user U and --all")
    settings = Settings()
    sink: TextIO = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with Progress(console=err, transient=output is None) as progress:
            task = progress.add_task("exporting memories", total=None)
            base = server_url(settings)
            if base is not None:
                params: dict[str, Any] = {"history": "true" if history else "false"}
                if user is not None:
                    params["user_id"] = user
                with httpx.stream(
                    "GET",
                    f"{base}/api/v1/admin/export",
                    params=params,
                    headers=_admin_headers(settings),
                    timeout=LONG,
                ) as response:
                    if response.status_code != 200:
                        response.read()
                        _fail(f"the server answered {response.status_code}: {response.text}")
                    for line in response.iter_lines():
                        if line:
                            sink.write(line + "\n")
                            progress.advance(task)
            else:
                count = run_directly(
                    settings, lambda c: _export_direct(c, user, history, sink, progress, task)
                )
                progress.update(task, completed=count)
    finally:
        if output:
            sink.close()


async def _export_direct(
    container: Container,
    user: str | None,
    history: bool,
    sink: TextIO,
    progress: Progress,
    task: Any,
) -> int:
    from memvault.application.transfer.export_memories import ExportMemories
    from memvault.application.transfer.lines import encode

    count = 0
    async for memory in container.export_memories()(
        ExportMemories(user_id=user, with_history=history)
    ):
        sink.write(encode(memory) + "\n")
        count += 1
        progress.advance(task)
    return count


def import_memories(
    path: Annotated[Path, typer.Argument(help="An export file (JSON Lines); - for stdin.")],
) -> None:
    """Import memories from an export file: all or nothing, and importing the same file
    again changes nothing (a line whose user already has its id, or an active memory of
    the same type and content, is skipped)."""
    from memvault.application.transfer.import_memories import ImportMemories, ImportRejected
    from memvault.entrypoints.maintenance import run_directly, server_url

    text = sys.stdin.read() if str(path) == "-" else _read(path)
    lines = text.splitlines()
    settings = Settings()
    base = server_url(settings)
    with Progress(console=err) as progress:
        task = progress.add_task("importing memories", total=len(lines))
        if base is not None:
            response = httpx.post(
                f"{base}/api/v1/admin/import",
                content=text.encode("utf-8"),
                headers={**_admin_headers(settings), "Content-Type": "application/x-ndjson"},
                timeout=LONG,
            )
            if response.status_code != 200:
                _fail(_problem_text(response))
            report: dict[str, Any] = response.json()
            progress.update(task, completed=len(lines))
        else:

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            command = ImportMemories(lines=lines, operator_id="cli")
            try:
                result = run_directly(settings, lambda c: c.import_memories()(command, advance))
            except ImportRejected as error:
                progress.stop()
                _fail(error.detail)
            report = {name: getattr(result, name) for name in result.__slots__}
    table = Table("field", "value", title=f"import of {path}")
    for name, value in report.items():
        table.add_row(name, str(value))
    out.print(table)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"cannot read {path}: {error}")


def _problem_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return f"the server answered {response.status_code}: {response.text}"


def _fail(message: str) -> NoReturn:
    err.print(message, markup=False)
    raise typer.Exit(1)
