from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from memvault.adapters.sqlalchemy.tables import chat_messages as t
from memvault.adapters.sqlalchemy.upsert import insert_unless_exists
from memvault.application.ports.repositories import ChatRepository
from memvault.domain.conversation import ChatMessage


class SqlChatRepository(ChatRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, message: ChatMessage) -> bool:
        return await insert_unless_exists(
            self._conn,
            t,
            {
                "user_id": message.user_id,
                "conversation_id": message.conversation_id,
                "message_id": message.message_id,
                "role": message.role.value,
                "content": message.content,
                "assistant_id": message.assistant_id,
                "run_id": message.run_id,
                "occurred_at": message.occurred_at,
                "created_at": message.created_at or message.occurred_at,
            },
        )
