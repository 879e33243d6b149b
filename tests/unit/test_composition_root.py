"""container.py is the only composition root and builds nothing at import time.

Who may import it (entrypoints only) and what it may import (never entrypoints) are
import-linter contracts in pyproject.toml; what it does at import time is checked here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from memvault.container import Settings, refusal

ROOT = Path(__file__).resolve().parents[2]
MODULES = [ROOT / "container.py", ROOT / "adapters" / "settings.py"]
STRONG = "s" * 32


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_importing_the_container_builds_nothing(path: Path):
    tree = ast.parse(path.read_text())
    top_level_calls = [
        node
        for node in tree.body
        if isinstance(node, ast.Expr | ast.Assign)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) != "TypeVar"
    ]
    assert top_level_calls == [], f"{path.name} must not build anything at import time"


def settings(**changes: object) -> Settings:
    return Settings.model_validate({"auth_jwt_secret": STRONG, **changes})


def test_the_embedded_default_may_serve_but_not_run_a_worker_or_a_relay():
    embedded = settings()
    assert refusal(embedded, "serve") is None
    assert refusal(embedded, "token") is None
    assert "MEMVAULT_BROKER=redis" in (refusal(embedded, "worker") or "")
    assert "MEMVAULT_EVENT_BUS=redis" in (refusal(embedded, "relay") or "")


@pytest.mark.parametrize("command", ["worker", "relay"])
def test_scale_processes_refuse_the_embedded_vector_store(command: str):
    scale = settings(broker="redis", event_bus="redis", vector_store="qdrant-edge")
    assert "qdrant-edge" in (refusal(scale, command) or "")  # type: ignore[arg-type]
    served = settings(broker="redis", event_bus="redis", vector_store="milvus")
    assert refusal(served, command) is None  # type: ignore[arg-type]


def test_a_relay_refuses_the_in_process_broker_even_with_a_server_bus():
    half = settings(broker="memory", event_bus="redis", vector_store="milvus")
    assert "MEMVAULT_BROKER=redis" in (refusal(half, "relay") or "")


@pytest.mark.parametrize("bus", ["redis", "kafka"])
def test_serve_refuses_a_server_bus_with_the_in_process_broker(bus: str):
    # No relay would run anywhere: `memvault relay` refuses the in-process broker.
    half = settings(broker="memory", event_bus=bus, vector_store="milvus")
    why = refusal(half, "serve") or ""
    assert "MEMVAULT_BROKER=redis" in why
    assert "MEMVAULT_EVENT_BUS=memory" in why
    assert refusal(settings(broker="redis", event_bus=bus, vector_store="milvus"), "serve") is None


def test_pgvector_is_not_an_accepted_vector_store():
    with pytest.raises(ValueError, match="vector_store"):
        settings(vector_store="pgvector")


@pytest.mark.parametrize("command", ["serve", "token", "worker", "relay"])
def test_a_weak_secret_is_the_first_refusal_of_every_command(command: str):
    weak = settings(auth_jwt_secret="short")
    assert "MEMVAULT_AUTH_JWT_SECRET" in (refusal(weak, command) or "")  # type: ignore[arg-type]
