"""``POST /api/v1/memory/messages``: chat ingestion."""

from __future__ import annotations

from litestar import post
from litestar.params import JSONBody

from memvault.application.ingest.ingest_messages import IncomingMessage, IngestMessages
from memvault.domain.metadata import require_metadata
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep
from memvault.entrypoints.http.schemas import MessageOut, MessagesIn, MessagesOut, as_utc


@post(
    "/api/v1/memory/messages",
    operation_id="ingest_messages",
    status_code=202,
    summary="Store chat turns; each user turn with text is queued for extraction",
    tags=("ingestion",),
)
async def post_messages(
    data: JSONBody[MessagesIn], container: ContainerDep, principal: PrincipalDep
) -> MessagesOut:
    command = IngestMessages(
        user_id=principal.user_id,
        conversation_id=data.conversation_id,
        assistant_id=data.assistant_id,
        run_id=data.run_id,
        metadata=require_metadata(data.metadata),
        operator=principal.acting,
        messages=[
            IncomingMessage(
                role=m.role,
                content=m.content,
                message_id=m.message_id,
                occurred_at=as_utc(m.occurred_at, field=f"messages[{n}].occurred_at"),
            )
            for n, m in enumerate(data.messages)
        ],
    )
    results = await container.ingest_messages()(command)
    return MessagesOut(
        messages=[
            MessageOut(message_id=r.message_id, extraction=r.extraction, job_key=r.job_key)
            for r in results
        ]
    )
