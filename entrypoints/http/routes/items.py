"""``/api/v1/memory/items``: the caller's memory items."""

from __future__ import annotations

import json
from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from memvault.application.memory_items.change_item import PatchItem, SetItemStatus
from memvault.application.memory_items.create_item import CreateItems, NewItem
from memvault.application.memory_items.list_items import ListItems
from memvault.domain.errors import InvalidValue
from memvault.domain.memory import ItemChanges, MemoryType
from memvault.domain.metadata import require_metadata
from memvault.domain.text import IDENTIFIER_PATTERN
from memvault.entrypoints.http.auth import Principal
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep, checked_id, split_csv
from memvault.entrypoints.http.schemas import (
    AuditOut,
    BatchIn,
    HistoryOut,
    ItemIn,
    ItemOut,
    ItemPageOut,
    ItemPatch,
    ItemsOut,
    ReasonIn,
    as_utc,
)


def new_item(data: ItemIn, at: str = "") -> NewItem:
    """``at`` prefixes the field names of errors (``items[3].``)."""
    return NewItem(
        memory_type=data.memory_type,
        content=data.content,
        title=data.title,
        conversation_id=data.conversation_id,
        assistant_id=data.assistant_id,
        run_id=data.run_id,
        confidence=data.confidence,
        importance=data.importance,
        sensitivity_level=data.sensitivity_level,
        is_explicit=data.is_explicit,
        ttl_at=as_utc(data.ttl_at, field=at + "ttl_at"),
        occurred_at=as_utc(data.occurred_at, field=at + "occurred_at"),
        metadata=require_metadata(data.metadata, field=at + "metadata"),
        reason=data.reason,
    )


def changes_of(data: ItemPatch) -> ItemChanges:
    return ItemChanges(
        memory_type=MemoryType.require(data.memory_type) if data.memory_type else None,
        title=data.title,
        content=data.content,
        confidence=data.confidence,
        importance=data.importance,
        sensitivity_level=data.sensitivity_level,
        is_explicit=data.is_explicit,
        ttl_at=as_utc(data.ttl_at, field="ttl_at"),
        clear_ttl=data.clear_ttl,
        metadata=None if data.metadata is None else require_metadata(data.metadata),
    )


def metadata_query(text: str | None) -> dict[str, Any] | None:
    """The ``metadata`` query parameter: a JSON object, checked like the body's."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise InvalidValue("metadata must be a JSON object", field="metadata") from error
    return require_metadata(value)


OptionalReason = JSONBody[ReasonIn | None]


def status_change(principal: Principal, item_id: int, data: ReasonIn | None) -> SetItemStatus:
    """The command of both delete and restore: the caller's item and an optional reason."""
    return SetItemStatus(
        user_id=principal.user_id,
        item_id=checked_id(item_id),
        reason=data.reason if data else None,
        operator=principal.operator,
    )


class ItemController(Controller):
    path = "/api/v1/memory/items"
    tags = ("memory items",)

    @post("/", operation_id="create_memory", summary="Create a memory item")
    async def create(
        self, data: JSONBody[ItemIn], container: ContainerDep, principal: PrincipalDep
    ) -> ItemOut:
        command = CreateItems(
            user_id=principal.user_id, items=[new_item(data)], operator=principal.operator
        )
        (item,) = await container.create_items()(command)
        return ItemOut.of(item)

    @post(
        "/batch", operation_id="create_memories", summary="Create up to 500 items, all or nothing"
    )
    async def create_batch(
        self, data: JSONBody[BatchIn], container: ContainerDep, principal: PrincipalDep
    ) -> ItemsOut:
        command = CreateItems(
            user_id=principal.user_id,
            items=[new_item(i, f"items[{n}].") for n, i in enumerate(data.items)],
            batch=True,
            operator=principal.operator,
        )
        items = await container.create_items()(command)
        return ItemsOut(items=[ItemOut.of(item) for item in items])

    @get("/", operation_id="list_memories", summary="List the caller's items, a page at a time")
    async def list_items(
        self,
        container: ContainerDep,
        principal: PrincipalDep,
        status: FromQuery[list[str] | None] = None,
        statuses: FromQuery[list[str] | None] = None,
        memory_type: FromQuery[list[str] | None] = None,
        memory_types: FromQuery[list[str] | None] = None,
        conversation_id: Annotated[
            str | None, QueryParameter(max_length=128, pattern=IDENTIFIER_PATTERN)
        ] = None,
        limit: FromQuery[int | None] = None,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
        metadata: Annotated[
            str | None,
            QueryParameter(
                max_length=8192,
                description='Equality filter as a JSON object, e.g. {"project": "x"}',
            ),
        ] = None,
    ) -> ItemPageOut:
        page = await container.list_items()(
            ListItems(
                user_id=principal.user_id,
                statuses=split_csv(status, statuses),
                memory_types=split_csv(memory_type, memory_types),
                conversation_id=conversation_id,
                limit=limit,
                cursor=cursor,
                metadata=metadata_query(metadata),
            )
        )
        return ItemPageOut(items=[ItemOut.of(i) for i in page.items], next_cursor=page.next_cursor)

    @get("/{item_id:int}", operation_id="get_memory", summary="One item")
    async def get_item(
        self, item_id: FromPath[int], container: ContainerDep, principal: PrincipalDep
    ) -> ItemOut:
        item = await container.get_item()(principal.user_id, checked_id(item_id))
        return ItemOut.of(item)

    @patch(
        "/{item_id:int}",
        operation_id="update_memory",
        summary="Edit an item (a deleted item is a 409)",
    )
    async def patch_item(
        self,
        item_id: FromPath[int],
        data: JSONBody[ItemPatch],
        container: ContainerDep,
        principal: PrincipalDep,
    ) -> ItemOut:
        command = PatchItem(
            user_id=principal.user_id,
            item_id=checked_id(item_id),
            changes=changes_of(data),
            reason=data.reason,
            operator=principal.operator,
        )
        return ItemOut.of(await container.patch_item()(command))

    @delete(
        "/{item_id:int}",
        operation_id="delete_memory",
        status_code=200,
        summary="Soft-delete an item (idempotent)",
    )
    async def delete_item(
        self,
        item_id: FromPath[int],
        container: ContainerDep,
        principal: PrincipalDep,
        data: OptionalReason = None,
    ) -> ItemOut:
        return ItemOut.of(await container.delete_item()(status_change(principal, item_id, data)))

    @post(
        "/{item_id:int}/restore",
        operation_id="restore_memory",
        status_code=200,
        summary="Restore an item (idempotent)",
    )
    async def restore_item(
        self,
        item_id: FromPath[int],
        container: ContainerDep,
        principal: PrincipalDep,
        data: OptionalReason = None,
    ) -> ItemOut:
        return ItemOut.of(await container.restore_item()(status_change(principal, item_id, data)))

    @get(
        "/{item_id:int}/history",
        operation_id="memory_history",
        summary="The item's audit entries, oldest first",
    )
    async def history(
        self, item_id: FromPath[int], container: ContainerDep, principal: PrincipalDep
    ) -> HistoryOut:
        entries = await container.item_history()(principal.user_id, checked_id(item_id))
        return HistoryOut(items=[AuditOut.of(e) for e in entries])
