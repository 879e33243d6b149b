"""A client generated from ``/schema/openapi.json`` by openapi-python-client compiles,
imports, and creates and searches a memory against the live server."""

from __future__ import annotations

import compileall
import importlib
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.clients.live_server import LiveServer

PACKAGE = "memvault_api"


def generate(document: Path, output: Path) -> None:
    tool = Path(sys.executable).with_name("openapi-python-client")
    env = os.environ | {"PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run(
        [tool, "generate", "--path", document, "--meta", "none", "--output-path", output],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def test_a_generated_client_creates_and_searches_a_memory(server: LiveServer, tmp_path: Path):
    document = tmp_path / "openapi.json"
    document.write_bytes(httpx.get(f"{server.url}/schema/openapi.json").content)
    generate(document, tmp_path / PACKAGE)
    assert compileall.compile_dir(tmp_path / PACKAGE, quiet=1)

    sys.path.insert(0, str(tmp_path))
    try:
        api: Any = importlib.import_module(PACKAGE)
        create_memory: Any = importlib.import_module(f"{PACKAGE}.api.memory_items.create_memory")
        search_memories: Any = importlib.import_module(f"{PACKAGE}.api.retrieval.search_memories")
        models: Any = importlib.import_module(f"{PACKAGE}.models")
        user = f"generated-{uuid.uuid4().hex[:8]}"
        with api.AuthenticatedClient(base_url=server.url, token=server.token(user)) as client:
            body = models.ItemIn(
                memory_type=models.MemoryType("preference"), content="I like jasmine tea"
            )
            made = create_memory.sync(client=client, body=body)
            assert isinstance(made, models.ItemOut)
            assert (made.user_id, made.content) == (user, "I like jasmine tea")
            found = search_memories.sync(client=client, body=models.SearchIn(query="jasmine tea"))
            assert isinstance(found, models.SearchOut)
            assert [hit.id for hit in found.items] == [made.id]
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]
