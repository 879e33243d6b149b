"""One live ``memvault serve`` for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.clients.live_server import LiveServer, live_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live") / "data") as running:
        yield running


@pytest.fixture(scope="session")
def service_key(server: LiveServer) -> str:
    return server.api_key("service", "client-tests")
