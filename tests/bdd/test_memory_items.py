"""Steps for features/memory_items.feature, driven over HTTP against the in-process stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient
from pydantic import SecretStr
from pytest_bdd import given, parsers, scenarios, then, when

from memvault.container import Settings
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token

scenarios("memory_items.feature")

SECRET = "bdd-secret-" + "y" * 64
ITEMS = "/api/v1/memory/items"


class World:
    def __init__(self, client: TestClient, suffix: str) -> None:  # type: ignore[type-arg]
        self.client = client
        self.suffix = suffix
        self.tokens: dict[str, dict[str, str]] = {}
        self.item: dict[str, Any] = {}
        self.response: httpx.Response | None = None

    def headers(self, user: str) -> dict[str, str]:
        return self.tokens[user]


@pytest.fixture
def world(tmp_path: Path, database_urls: dict[str, str], user_id: str) -> Iterator[World]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_urls["sqlite"], auth_jwt_secret=SecretStr(SECRET)
    )
    with TestClient(create_app(settings)) as client:
        yield World(client, user_id)


@given("the memvault API is running")
def api_running(world: World) -> None:
    assert world.client.get("/healthz").status_code == 200


@given(parsers.parse('"{user}" has a token'))
def has_token(world: World, user: str) -> None:
    token = issue_token(SECRET, f"{user}-{world.suffix}")
    world.tokens[user] = {"Authorization": f"Bearer {token}"}


@given(parsers.parse('"{user}" remembered the {kind} "{content}"'))
def remembered(world: World, user: str, kind: str, content: str) -> None:
    response = world.client.post(
        ITEMS, json={"memory_type": kind, "content": content}, headers=world.headers(user)
    )
    assert response.status_code == 201, response.text
    world.item = response.json()


@when(parsers.parse('"{user}" changes that memory to "{content}" because "{reason}"'))
def change(world: World, user: str, content: str, reason: str) -> None:
    world.response = world.client.patch(
        f"{ITEMS}/{world.item['id']}",
        json={"content": content, "reason": reason},
        headers=world.headers(user),
    )


@when(parsers.parse('"{user}" deletes that memory'))
def delete(world: World, user: str) -> None:
    world.response = world.client.delete(f"{ITEMS}/{world.item['id']}", headers=world.headers(user))


@when(parsers.parse('"{user}" restores that memory'))
def restore(world: World, user: str) -> None:
    world.response = world.client.post(
        f"{ITEMS}/{world.item['id']}/restore", headers=world.headers(user)
    )


@when(parsers.parse('"{user}" reads that memory'))
def read(world: World, user: str) -> None:
    world.response = world.client.get(f"{ITEMS}/{world.item['id']}", headers=world.headers(user))


def current(world: World, user: str = "alice") -> dict[str, Any]:
    response = world.client.get(f"{ITEMS}/{world.item['id']}", headers=world.headers(user))
    assert response.status_code == 200
    return dict(response.json())


@then(parsers.parse('the memory says "{content}"'))
def memory_says(world: World, content: str) -> None:
    assert current(world)["content"] == content


@then(parsers.parse('the memory is "{status}"'))
def memory_is(world: World, status: str) -> None:
    assert current(world)["status"] == status


@then(parsers.parse('"{user}" still sees the memory as "{status}"'))
def still_sees(world: World, user: str, status: str) -> None:
    assert current(world, user)["status"] == status


def history(world: World) -> list[dict[str, Any]]:
    response = world.client.get(
        f"{ITEMS}/{world.item['id']}/history", headers=world.headers("alice")
    )
    return list(response.json()["items"])


@then(parsers.parse('its history shows "{operations}"'))
def history_shows(world: World, operations: str) -> None:
    assert [e["operation"] for e in history(world)] == operations.split(", ")


@then(parsers.parse('the last history entry gives the reason "{reason}"'))
def last_reason(world: World, reason: str) -> None:
    assert history(world)[-1]["reason"] == reason


@then(parsers.parse('the answer is a {status:d} problem "{code}"'))
def problem(world: World, status: int, code: str) -> None:
    assert world.response is not None
    assert world.response.status_code == status, world.response.text
    assert world.response.json()["code"] == code
