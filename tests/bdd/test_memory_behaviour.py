"""Steps for features/memory_behaviour.feature (consent, secrets, per-fact outcomes,
re-learnable facts, judge failures), on the stacks of test_memory_consistency: every
scenario runs ``offline`` and ``llm`` (the scripted model), ``@llm`` ones with the model
only."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pytest_bdd import given, parsers, scenario, scenarios, then, when

from tests.bdd.test_memory_consistency import (
    DEADLINE_S,
    EXTRACTIONS,
    FAILING,
    ITEMS,
    JOBS,
    JUDGEMENTS,
    SCORES,
    World,
    api_running,
    current_memories,
    has_token,
    only_memory_from,
    personal_fact,
    post_turns,
    preference,
    relation,
    says,
    says_what_was_read,
    stack,
    world,
)

__all__ = ["stack", "world"]  # fixtures shared with test_memory_consistency

# pytest-bdd registers a step in the module that declares it: the shared steps again.
given("the memvault API is running")(api_running)
given(parsers.parse('"{name}" has a token'))(has_token)
when(parsers.parse('"{name}" says "{text}"'))(says)
then(parsers.parse('"{name}" has exactly one current memory, the one from "{text}"'))(
    only_memory_from
)
then(parsers.parse('it says what was read in "{text}"'))(says_what_was_read)


def explicit(title: str, content: str, *, sensitivity: int) -> dict[str, Any]:
    answer = personal_fact(title, content, sensitivity=sensitivity)
    answer["facts"][0]["is_explicit"] = True
    return answer


EXTRACTIONS.update(
    {
        "Remember that I am allergic to peanuts.": explicit(
            "Allergy: peanuts", "The user is allergic to peanuts", sensitivity=1
        ),
        "记住：我对花生过敏。": explicit("花生过敏", "用户对花生过敏", sensitivity=1),
        "I am allergic to peanuts": personal_fact(
            "Allergy: peanuts", "The user is allergic to peanuts", sensitivity=1
        ),
        # A model that misses the secret: the one rule still grades it 2.
        "my bank card password is 4512": personal_fact(
            "Bank card password", "The user's bank card password is 4512", sensitivity=0
        ),
        "My dog is called Rex": personal_fact(
            "Dog: Rex", "The user has a dog called Rex", sensitivity=0
        ),
    }
)
JUDGEMENTS[("The user loves jazz", "The user loves sushi")] = relation(
    "unrelated", "Jazz and sushi are different tastes"
)
assert SCORES  # the scripted answers above share the consistency scenarios' scores
assert preference


@pytest.mark.parametrize("stack", ["llm"], indirect=True)
@scenario(
    "memory_behaviour.feature",
    "A failing relation judge makes the job retry instead of adding a duplicate",
)
def test_a_failing_relation_judge_makes_the_job_retry() -> None:
    """Only the LLM judge can fail: the offline one is a pure function."""


@pytest.mark.parametrize("stack", ["gate"], indirect=True)
@scenario(
    "memory_behaviour.feature",
    "A habit said in passing, which no rule reads, is remembered by the learned gate",
)
def test_a_habit_no_rule_reads_is_remembered_by_the_learned_gate() -> None:
    """The gate reads e5 vectors: with the other stacks' hashing embedder it is off."""


scenarios("memory_behaviour.feature")


@given(parsers.parse('"{name}" had the memory read in "{text}", expired'))
def had_expired_memory(world: World, name: str, text: str) -> None:
    response = world.client.post(
        ITEMS,
        json={
            "memory_type": "fact",
            "content": world.stack.content_from(text),
            "ttl_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        },
        headers=world.headers(name),
    )
    assert response.status_code == 201, response.text
    world.earlier = dict(response.json())


@when(parsers.parse('the judge fails once, then "{name}" says "{text}"'))
def says_while_judge_fails(world: World, name: str, text: str) -> None:
    FAILING[("The user loves jazz", "The user loves sushi")] = 1
    (key,) = post_turns(world, name, [text])
    deadline = time.monotonic() + DEADLINE_S
    job: dict[str, Any] = {}
    while time.monotonic() < deadline and job.get("status") != "success":
        response = world.client.get(JOBS, params={"job_key": key}, headers=world.headers(name))
        found = response.json()["items"]
        job = dict(found[0]) if found else {}
        assert job.get("status") != "dead", job
        time.sleep(0.05)
    assert job.get("status") == "success", job
    world.jobs.setdefault(text, []).append(job)


@then(parsers.parse('"{name}" has no current memory'))
def no_memory(world: World, name: str) -> None:
    assert current_memories(world, name) == []


@then(parsers.parse('the job of "{text}" shows the outcome "{outcome}"'))
def job_outcome(world: World, text: str, outcome: str) -> None:
    (job,) = world.jobs[text]
    assert [o["outcome"] for o in job["outcomes"]] == [outcome], job
    written = [o["memory_id"] for o in job["outcomes"] if o["memory_id"] is not None]
    assert written == job["memory_ids"]


@then(parsers.parse('no job of "{name}" mentions "{words}"'))
def jobs_keep_no_secret(world: World, name: str, words: str) -> None:
    response = world.client.get(JOBS, headers=world.headers(name))
    assert response.status_code == 200, response.text
    assert words not in str(response.json()["items"][0]["outcomes"])


@then(parsers.parse('writing the memory "{content}" directly is refused as a secret'))
def direct_write_refused(world: World, content: str) -> None:
    response = world.client.post(
        ITEMS, json={"memory_type": "fact", "content": content}, headers=world.headers("alice")
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "MemorySecretRefused"


@then(parsers.parse('the expired memory is "{status}"'))
def expired_memory_status(world: World, status: str) -> None:
    response = world.client.get(f"{ITEMS}/{world.earlier['id']}", headers=world.headers("alice"))
    assert response.json()["status"] == status
    history = world.client.get(
        f"{ITEMS}/{world.earlier['id']}/history", headers=world.headers("alice")
    ).json()["items"]
    assert [e["operation"] for e in history] == ["create", "delete"]


@then(parsers.parse('the job of "{text}" took more than one attempt'))
def retried(world: World, text: str) -> None:
    # A judge failure is transient (docs/behaviour.md, "Extraction jobs"): the attempt it
    # broke fails and the job runs again without counting toward dead, so the evidence is
    # that the scripted failure was spent and the job still ended in success.
    (job,) = world.jobs[text]
    assert job["status"] == "success", job
    assert set(FAILING.values()) <= {0}, FAILING
