"""The LLM extractor and relation judge against a real OpenAI-compatible HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from memvault.adapters.llm.client import LLMClient, LLMError
from memvault.adapters.llm.extractor import LLMExtractor
from memvault.adapters.llm.judge import LLMRelationJudge
from memvault.adapters.llm.prompts import EXTRACT_SYSTEM_PROMPT, JUDGE_SYSTEM_PROMPT
from memvault.application.ports.extractor import ExtractionError, ExtractionRequest
from memvault.application.ports.relation_judge import Comparison, JudgeError, Judgement, Relation
from memvault.domain.facts import CandidateFact, normalize_facts
from tests.integration.chat_server import ChatServer

MODEL = "memvault-test-model"
TIMEOUT = 0.5
REQUEST = ExtractionRequest(
    user_id="u-1",
    conversation_id="c-1",
    text="记住：我对花生过敏。I love jazz.",
    occurred_at=datetime(2025, 3, 1, 8, 30, 5, tzinfo=UTC),
)
COMPARISON = Comparison(
    fact_type="preference",
    fact_content="用户喜欢喝冰美式",
    memory_type="preference",
    memory_content="用户喜欢喝咖啡",
)
PEANUTS = {
    "memory_type": "constraint",
    "title": "花生过敏",
    "content": "用户对花生过敏",
    "confidence": 0.95,
    "importance": 0.9,
    "sensitivity_level": 1,
    "is_explicit": True,
}
GOOD_ANSWER = {"message_intent": "personal_fact", "facts": [PEANUTS]}
PEANUT_FACT = CandidateFact(
    memory_type="constraint",
    title="花生过敏",
    content="用户对花生过敏",
    confidence=0.95,
    importance=0.9,
    sensitivity_level=1,
    is_explicit=True,
)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    chat = ChatServer()
    chat.start()
    yield chat
    chat.stop()


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[LLMClient]:
    llm = LLMClient(base_url=server.url, model=MODEL, timeout=TIMEOUT, max_answer_chars=2000)
    yield llm
    await llm.aclose()


@pytest.fixture
def extractor(client: LLMClient) -> LLMExtractor:
    return LLMExtractor(client)


@pytest.fixture
def judge(client: LLMClient) -> LLMRelationJudge:
    return LLMRelationJudge(client)


def fact(memory_type: str, content: str, **scores: Any) -> dict[str, Any]:
    return {"memory_type": memory_type, "title": "", "content": content, **scores}


async def test_extraction_converts_and_keeps_at_most_three_valid_facts(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.reply_json(
        {
            "message_intent": "preference",
            "facts": [
                fact("todo_hint", "buy milk", confidence=0.9),
                fact("preference", "   ", confidence=0.9),
                fact(
                    " Constraint ",
                    " 用户对花生过敏 ",
                    title="花生",
                    confidence=0,
                    importance=1.7,
                    sensitivity_level=5,
                    is_explicit=True,
                ),
                fact("preference", "The user loves jazz", confidence="0.8", importance=-1),
                "not an object",
                fact("fact", "The user works in Shanghai", sensitivity_level=1.2),
                fact("fact", "The user has a cat", confidence=0.9),
                fact("preference", "The user likes tea", confidence=0.9),
            ],
        }
    )

    facts = await extractor.extract(REQUEST)

    assert facts == [
        CandidateFact(
            memory_type="constraint",
            title="花生",
            content="用户对花生过敏",
            confidence=0.0,
            importance=1.0,
            sensitivity_level=2,
            is_explicit=True,
        ),
        CandidateFact(memory_type="preference", content="The user loves jazz", confidence=0.8),
        CandidateFact(
            memory_type="fact", content="The user works in Shanghai", sensitivity_level=1
        ),
    ]


async def test_a_zero_confidence_is_filled_in_by_normalisation(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.reply_json({"message_intent": "preference", "facts": [fact("preference", "Jazz")]})

    [normalised] = normalize_facts(await extractor.extract(REQUEST))

    assert (normalised.confidence, normalised.importance) == (0.6, 0.85)


@pytest.mark.parametrize("intent", ["chitchat", "task_request", " Knowledge_QA "])
async def test_skip_intents_give_no_facts_even_when_the_model_lists_some(
    server: ChatServer, extractor: LLMExtractor, intent: str
) -> None:
    server.reply_json({"message_intent": intent, "facts": [PEANUTS]})

    assert await extractor.extract(REQUEST) == []


async def test_an_empty_facts_list_gives_no_facts(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.reply_json({"message_intent": "preference", "facts": []})

    assert await extractor.extract(REQUEST) == []


async def test_an_empty_message_gives_no_facts_without_calling_the_model(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    blank = ExtractionRequest(
        user_id="u-1", conversation_id="c-1", text=" \n ", occurred_at=REQUEST.occurred_at
    )

    assert await extractor.extract(blank) == []
    assert server.requests == []


async def test_a_fenced_json_block_is_read(server: ChatServer, extractor: LLMExtractor) -> None:
    server.reply(f"Here you go:\n```json\n{json.dumps(GOOD_ANSWER, ensure_ascii=False)}\n```")

    assert await extractor.extract(REQUEST) == [PEANUT_FACT]


async def test_json_embedded_in_prose_is_read_with_braces_inside_strings(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    tricky = fact("preference", 'The user likes "{curly}" braces \\ and }', confidence=0.9)
    answer = json.dumps({"message_intent": "preference", "facts": [tricky]})
    server.reply(f"<think>maybe {{not this}}</think>Sure! {{not json}} {answer} Hope it helps }}")

    facts = await extractor.extract(REQUEST)

    assert [f.content for f in facts] == ['The user likes "{curly}" braces \\ and }']


@pytest.mark.parametrize(
    ("content", "finish_reason", "reason"),
    [
        ('{"message_intent": "preference", "facts": [,]}', "stop", "not valid JSON"),
        ('{"message_intent": "preference", "facts": [', "length", "finish_reason=length"),
        ('Sure: {"message_intent": "preference", "facts": [', "stop", "unbalanced JSON"),
        ("", "stop", "empty"),
        (None, "stop", "empty"),
        ("I found nothing worth remembering.", "stop", "holds no JSON object"),
        ('[{"memory_type": "fact"}]', "stop", "JSON array, not an object"),
        ('{"message_intent": "preference"}', "stop", "no 'facts' list"),
        ('{"message_intent": "fact", "facts": "none"}', "stop", "no 'facts' list"),
        ("{}", "content_filter", "blocked"),
        ("{" + " " * 3000 + "}", "stop", "too long (3002 characters, limit 2000)"),
    ],
)
async def test_unusable_answers_are_a_retryable_extraction_error_naming_the_problem(
    server: ChatServer,
    extractor: LLMExtractor,
    content: str | None,
    finish_reason: str,
    reason: str,
) -> None:
    server.reply(content, finish_reason=finish_reason)

    with pytest.raises(ExtractionError, match=re.escape(reason)):
        await extractor.extract(REQUEST)


async def test_a_slow_answer_fails_within_about_the_timeout(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.reply(json.dumps(GOOD_ANSWER), delay=5)
    started = time.perf_counter()

    with pytest.raises(ExtractionError, match=re.escape("timed out after 0.5 s")):
        await extractor.extract(REQUEST)

    assert time.perf_counter() - started < TIMEOUT + 1.0


async def test_an_http_error_fails_once_without_sdk_retries(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.fail(500)

    with pytest.raises(ExtractionError, match="HTTP 500"):
        await extractor.extract(REQUEST)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>gateway says hi</html>", "unreadable body"),
        (b'{"choices": []}', "no choices"),
        (b'{"choices": [{"message": null, "finish_reason": "stop"}]}', "empty"),
    ],
)
async def test_a_body_that_is_no_chat_completion_is_an_extraction_error(
    server: ChatServer, extractor: LLMExtractor, body: bytes, reason: str
) -> None:
    server.reply_raw(body)

    with pytest.raises(ExtractionError, match=reason):
        await extractor.extract(REQUEST)


async def test_an_unreachable_endpoint_is_an_extraction_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = LLMClient(base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, timeout=TIMEOUT)

    with pytest.raises(ExtractionError, match="unreachable"):
        await LLMExtractor(llm).extract(REQUEST)
    await llm.aclose()


async def test_the_extraction_request_carries_model_options_and_prompts(
    server: ChatServer, extractor: LLMExtractor
) -> None:
    server.reply_json(GOOD_ANSWER)

    await extractor.extract(REQUEST)

    [body] = server.requests
    system, user = body["messages"]
    assert body["_path"] == "/v1/chat/completions"
    assert (body["model"], body["temperature"], body["max_tokens"]) == (MODEL, 0.1, 1200)
    assert system == {"role": "system", "content": EXTRACT_SYSTEM_PROMPT}
    assert user["role"] == "user"
    payload = json.loads(user["content"][user["content"].index("{") :])
    assert payload == {
        "user_id": "u-1",
        "conversation_id": "c-1",
        "source_role": "user",
        "source_text": REQUEST.text,
        "occurred_at": "2025-03-01 08:30:05",
    }


@pytest.mark.parametrize(("configured", "sent"), [(0.0, 0.1), (0.4, 0.4), (3.0, 1.0)])
async def test_a_configured_prompt_and_clamped_temperature_are_sent(
    server: ChatServer, client: LLMClient, configured: float, sent: float
) -> None:
    server.reply_json(GOOD_ANSWER)

    await LLMExtractor(client, temperature=configured, system_prompt="Custom.").extract(REQUEST)

    [body] = server.requests
    assert (body["temperature"], body["messages"][0]["content"]) == (sent, "Custom.")


def test_one_client_serves_several_event_loops(server: ChatServer) -> None:
    llm = LLMClient(base_url=server.url, model=MODEL, timeout=TIMEOUT)

    async def once() -> dict[str, Any]:
        server.reply('{"ok": true}')
        try:
            return await llm.complete_json("s", "u", max_tokens=10, temperature=0.1)
        finally:
            await llm.aclose()

    assert [asyncio.run(once()), asyncio.run(once())] == [{"ok": True}, {"ok": True}]


async def test_the_client_raises_llm_error_for_an_unusable_answer(
    server: ChatServer, client: LLMClient
) -> None:
    server.reply("nothing here")

    with pytest.raises(LLMError, match="holds no JSON object"):
        await client.complete_json("s", "u", max_tokens=10, temperature=0.1)


@pytest.mark.parametrize("relation", ["duplicate", "conflict", "unrelated"])
async def test_the_judge_reads_relations_without_merged_content(
    server: ChatServer, judge: LLMRelationJudge, relation: str
) -> None:
    server.reply_json(
        {"relation": relation.upper(), "updated_content": "x", "updated_title": "y", "reason": "r"}
    )

    assert await judge.judge(COMPARISON) == Judgement(relation=Relation(relation), reason="r")


async def test_the_judge_reads_an_update_with_the_merged_content(
    server: ChatServer, judge: LLMRelationJudge
) -> None:
    server.reply(
        "```json\n"
        '{"relation": "update", "updated_content": " 用户喜欢喝咖啡，尤其是冰美式 ",'
        ' "updated_title": "咖啡偏好", "reason": "更具体"}\n```'
    )

    assert await judge.judge(COMPARISON) == Judgement(
        relation=Relation.UPDATE,
        updated_content="用户喜欢喝咖啡，尤其是冰美式",
        updated_title="咖啡偏好",
        reason="更具体",
    )


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"relation": "update", "updated_content": "  ", "reason": "r"}', "without updated"),
        ('{"relation": "update", "reason": "r"}', "without updated_content"),
        ('{"relation": "maybe", "reason": "r"}', "unknown relation 'maybe'"),
        ('{"reason": "r"}', "unknown relation ''"),
        ("The new fact is a duplicate.", "holds no JSON object"),
        ('{"relation": "duplicate"', "unbalanced JSON"),
    ],
)
async def test_the_judge_refuses_invalid_answers(
    server: ChatServer, judge: LLMRelationJudge, answer: str, reason: str
) -> None:
    server.reply(answer)

    with pytest.raises(JudgeError, match=reason):
        await judge.judge(COMPARISON)


async def test_a_judge_call_failure_is_a_judge_error(
    server: ChatServer, judge: LLMRelationJudge
) -> None:
    server.fail(503)

    with pytest.raises(JudgeError, match="HTTP 503"):
        await judge.judge(COMPARISON)


async def test_the_judge_request_carries_options_and_both_texts(
    server: ChatServer, judge: LLMRelationJudge
) -> None:
    server.reply_json({"relation": "duplicate", "reason": "same"})

    await judge.judge(COMPARISON)

    [body] = server.requests
    assert (body["model"], body["temperature"], body["max_tokens"]) == (MODEL, 0.1, 600)
    assert body["messages"] == [
        {"role": "system", "content": JUDGE_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": (
                "新事实：【preference】用户喜欢喝冰美式\n旧记忆：【preference】用户喜欢喝咖啡"
            ),
        },
    ]
