"""Generated clients get readable method names: every operation has a unique snake_case id."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient

Client = AsyncTestClient  # type: ignore[type-arg]
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


async def test_every_api_operation_has_a_unique_readable_id(client: Client):
    document = (await client.get("/schema/openapi.json")).json()
    ids = {
        (method, path): operation.get("operationId")
        for path, item in document["paths"].items()
        if path.startswith("/api/")
        for method, operation in item.items()
        if isinstance(operation, dict)
    }
    assert all(isinstance(i, str) and SNAKE.match(i) for i in ids.values()), ids
    assert len(set(ids.values())) == len(ids)
    assert ids[("post", "/api/v1/memory/items")] == "create_memory"
    assert ids[("post", "/api/v1/memory/search")] == "search_memories"
