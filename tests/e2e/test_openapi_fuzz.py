"""schemathesis against the app in-process, on SQLite and PostgreSQL (issue 11).

Every operation of the served OpenAPI document is called with generated requests that
follow it (positive) and that break it (negative), with an admin bearer token so that
no route is out of reach. Each generated request is sent to the app on both databases.
No response may be a 5xx, and each must match what the document says: a documented
status, content type and body schema. Examples per operation are few, so the module
stays well under two minutes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.e2e.conftest import SECRET

DIALECTS = ("sqlite", "postgresql")
MAX_EXAMPLES = 5
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TOKEN = issue_token(SECRET, "fuzz-operator", admin=True, ttl=timedelta(hours=1))


def settings_for(data_dir: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        auth_jwt_secret=SecretStr(SECRET),
        embedder="hashing",
        vector_store="memory",
        # The fuzzer is one user sending bursts: the limiter must not hide the routes.
        rate_limit_per_second=10_000.0,
        rate_limit_burst=10_000,
    )


def served_document() -> dict[str, Any]:
    """The document as the app builds it (building the app opens no connection)."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/document.db"
        return create_app(settings_for(Path(tmp) / "data", url)).openapi_schema.to_schema()


schema = schemathesis.openapi.from_dict(served_document())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    deterministic=True,
)


@pytest.fixture(scope="module")
def apis(
    tmp_path_factory: pytest.TempPathFactory, database_urls: dict[str, str]
) -> Iterator[dict[str, asgi.ASGIClient]]:
    """The app on each dialect: every generated case is sent to all of them, so that
    schemathesis generates each case once (generating costs more than calling)."""
    with ExitStack() as stack:
        clients = {}
        for dialect in DIALECTS:
            data_dir = tmp_path_factory.mktemp(f"fuzz-{dialect}") / "data"
            app = create_app(settings_for(data_dir, database_urls[dialect]))
            clients[dialect] = stack.enter_context(asgi.get_client(app))
        yield clients
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_every_operation_answers_as_documented_and_never_5xx(
    case: Any, apis: dict[str, asgi.ASGIClient]
) -> None:
    for dialect, api in apis.items():
        try:
            case.call_and_validate(
                session=api,
                base_url=api.base_url,
                headers={"Authorization": f"Bearer {TOKEN}"},
                checks=CHECKS,
            )
        except Exception as failure:
            failure.add_note(f"on {dialect}")
            raise


def test_the_document_declares_problem_responses_and_bearer_security(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
            auth_jwt_secret=SecretStr(SECRET),
            embedder="hashing",
            vector_store="memory",
        )
    )
    document = app.openapi_schema.to_schema()
    assert document["components"]["securitySchemes"]["BearerToken"]["scheme"] == "bearer"
    item = document["paths"]["/api/v1/memory/items/{item_id}"]["patch"]
    assert {"400", "401", "404", "409", "413", "422", "429", "503"} <= item["responses"].keys()
    problem = item["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert item["security"] == [{"BearerToken": []}]
    assert "security" not in document["paths"]["/healthz"]["get"]
    admin = document["paths"]["/api/v1/admin/jobs"]["get"]
    assert "403" in admin["responses"]
    memory_type = document["components"]["schemas"]["MemoryType"]
    assert sorted(memory_type["enum"]) == ["constraint", "fact", "preference"]
    assert sorted(document["components"]["schemas"]["Role"]["enum"]) == [
        "assistant",
        "system",
        "tool",
        "user",
    ]
    context = document["components"]["schemas"]["ContextIn"]["properties"]["render_mode"]
    assert sorted(context["enum"]) == ["flat", "typed", "typed_v2"]
    for name in ("JobStatus", "MemoryStatus"):
        assert document["components"]["schemas"][name]["enum"]
