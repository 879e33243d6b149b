"""Optional OpenTelemetry tracing: off by default, one server span per request when on."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """The process's tracer provider (set once per process) with an in-memory exporter."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    return EXPORTER


def settings_for(tmp_path: Path, url: str, *, enabled: bool) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=url,
        auth_jwt_secret=SecretStr("tracing-" + "t" * 48),
        embedder="hashing",
        vector_store="memory",
        otel_enabled=enabled,
    )


@pytest.mark.parametrize("enabled", [False, True])
async def test_requests_are_traced_only_when_enabled(
    tmp_path: Path, database_urls: dict[str, str], spans: InMemorySpanExporter, enabled: bool
) -> None:
    spans.clear()
    async with AsyncTestClient(
        create_app(settings_for(tmp_path, database_urls["sqlite"], enabled=enabled))
    ) as client:
        unauthorised = await client.get("/api/v1/memory/items")
        probe = await client.get("/healthz")
    assert (unauthorised.status_code, probe.status_code) == (401, 200)
    server_spans = [s for s in spans.get_finished_spans() if s.kind is trace.SpanKind.SERVER]
    if not enabled:
        assert server_spans == []
        return
    assert [s.attributes.get("http.status_code") for s in server_spans if s.attributes] == [401]
