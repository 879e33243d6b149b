"""``/api/v1/agent/snapshots/{conversation_id}``: the caller's latest agent state."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.params import JSONBody, PathParameter

from memvault.application.agent.snapshots import PutSnapshot
from memvault.domain.text import IDENTIFIER_PATTERN
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep
from memvault.entrypoints.http.schemas import SnapshotIn, SnapshotOut

ConversationId = Annotated[
    str, PathParameter(min_length=1, max_length=128, pattern=IDENTIFIER_PATTERN)
]


class SnapshotController(Controller):
    path = "/api/v1/agent/snapshots"
    tags = ("agent state",)

    @put(
        "/{conversation_id:str}",
        operation_id="put_snapshot",
        status_code=202,
        summary="Save (through the outbox)",
    )
    async def save(
        self,
        conversation_id: ConversationId,
        data: JSONBody[SnapshotIn],
        container: ContainerDep,
        principal: PrincipalDep,
    ) -> Response[dict[str, str]]:
        await container.put_snapshot()(
            PutSnapshot(
                user_id=principal.user_id,
                conversation_id=conversation_id,
                phase=data.phase,
                snapshot=data.snapshot,
            )
        )
        return Response({"status": "accepted"}, status_code=202)

    @get(
        "/{conversation_id:str}",
        operation_id="get_snapshot",
        summary="The latest snapshot of the conversation",
    )
    async def read(
        self, conversation_id: ConversationId, container: ContainerDep, principal: PrincipalDep
    ) -> SnapshotOut:
        return SnapshotOut.of(await container.get_snapshot()(principal.user_id, conversation_id))
