"""Export and import of memories: a user's own export, and the operators' export and
import of any user's (``memvault export`` / ``memvault import`` call these when a server
is running). Exports stream JSON Lines (one memory per line, see
``application/transfer/lines.py``), so their size does not matter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from memvault.application.transfer.export_memories import ExportMemories
from memvault.application.transfer.import_memories import ImportMemories
from memvault.application.transfer.lines import ExportedMemory, encode
from memvault.container import Container
from memvault.domain.audit import OperatorType
from memvault.domain.errors import InvalidValue
from memvault.entrypoints.http.auth import admin_guard
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep

JSON_LINES = "application/x-ndjson"
MAX_IMPORT_BYTES = 1024**3
UserFilter = Annotated[str | None, QueryParameter(min_length=1, max_length=128)]


class ImportReportOut(msgspec.Struct, kw_only=True):
    lines: int
    inserted: int
    skipped: int
    renumbered: int


async def _lines(memories: AsyncIterator[ExportedMemory]) -> AsyncIterator[str]:
    async for memory in memories:
        yield encode(memory) + "\n"


async def _array(memories: AsyncIterator[ExportedMemory]) -> AsyncIterator[str]:
    """The same objects as one JSON array, still written piece by piece."""
    yield "["
    first = True
    async for memory in memories:
        yield ("" if first else ",") + encode(memory)
        first = False
    yield "]\n"


def _export(container: Container, command: ExportMemories, shape: str) -> Stream:
    memories = container.export_memories()(command)
    if shape == "json":
        return Stream(_array(memories), media_type="application/json")
    return Stream(_lines(memories), media_type=JSON_LINES)


@get(
    "/api/v1/memory/export",
    summary="Every memory of the caller, in every status (JSON Lines, or ?format=json)",
    tags=("memory items",),
    operation_id="export_memories",
)
async def export_own(
    container: ContainerDep,
    principal: PrincipalDep,
    format: FromQuery[Literal["jsonl", "json"]] = "jsonl",
    history: FromQuery[bool] = False,
) -> Stream:
    command = ExportMemories(user_id=principal.user_id, with_history=history)
    return _export(container, command, format)


class TransferController(Controller):
    path = "/api/v1/admin"
    tags = ("operators",)
    guards = (admin_guard,)

    @get(
        "/export",
        summary="Memories of one user (?user_id=) or of every user, JSON Lines",
        operation_id="admin_export_memories",
    )
    async def export_any(
        self, container: ContainerDep, user_id: UserFilter = None, history: FromQuery[bool] = False
    ) -> Stream:
        return _export(container, ExportMemories(user_id=user_id, with_history=history), "jsonl")

    @post(
        "/import",
        status_code=200,
        operation_id="admin_import_memories",
        summary="Import an export file (JSON Lines body); all or nothing, idempotent",
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def import_lines(
        self,
        request: Request[Any, Any, Any],
        container: ContainerDep,
        principal: PrincipalDep,
    ) -> ImportReportOut:
        try:
            body = (await request.body()).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidValue(f"the body is not UTF-8 text: {error}", field="body") from error
        report = await container.import_memories()(
            ImportMemories(
                lines=body.splitlines(),
                operator=OperatorType.ADMIN,
                operator_id=principal.user_id,
            )
        )
        return ImportReportOut(
            lines=report.lines,
            inserted=report.inserted,
            skipped=report.skipped,
            renumbered=report.renumbered,
        )
