"""The port export and import need: items by id across every status, and inserts that
keep an item's id."""

from __future__ import annotations

from typing import Protocol

from memvault.domain.memory import MemoryItem


class MemoryTransferRepository(Protocol):
    """Bulk access to memory items for moving them between installations.

    Contract:
    - ``page`` returns items of ``user_id`` (of every user when ``None``) in every status
      with an id above ``after_id``, in id order, at most ``limit``.
    - ``owner`` is the user id of the item with that id, ``None`` when there is none.
    - ``insert`` stores ``item`` under its own ``id`` (which must be free), with the
      lexical index, exactly as given (timestamps included).
    - ``ids_inserted`` is called once after a batch of ``insert`` calls, in the same
      transaction, so the database's own id generator continues past them.
    """

    async def page(self, *, user_id: str | None, after_id: int, limit: int) -> list[MemoryItem]: ...

    async def count(self, *, user_id: str | None) -> int: ...

    async def owner(self, item_id: int) -> str | None: ...

    async def insert(self, item: MemoryItem) -> None: ...

    async def ids_inserted(self) -> None: ...
