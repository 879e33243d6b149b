"""A thin JSON-answer wrapper over the official ``openai`` SDK, for any compatible server.

The SDK's own retries are off (``max_retries=0``): a failed call is a failed job attempt,
and the job's retry policy (backoff, ``max_retry``) is the only one. Every failure,
whether HTTP, timeout, or an answer that is empty, cut short, too long or not a JSON
object, is one :class:`LLMError` whose message says which: :class:`LLMUnavailable` (a
transient failure: unreachable, timed out, HTTP 5xx, 408 or 429) or :class:`LLMRefused`
(permanent: any other 4xx, such as a wrong API key) where the kind is known.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import openai
import structlog
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from memvault.adapters.llm.json_answer import AnswerFormatError, parse_json_object
from memvault.adapters.loop_local import LoopLocal
from memvault.adapters.metrics import observe_llm
from memvault.application.ports.failures import PermanentFailure, TransientFailure

_log = structlog.get_logger(__name__)

NO_API_KEY = "not-needed"
"""Sent when no key is configured: local servers ignore it, the SDK insists on one."""


class LLMError(Exception):
    """The model gave no usable JSON object; the message is the reason."""


class LLMUnavailable(LLMError, TransientFailure):
    """The endpoint is down, slow or overloaded: the same call may work later."""


class LLMRefused(LLMError, PermanentFailure):
    """The endpoint refused the request for good (HTTP 4xx other than 408 and 429)."""


TRANSIENT_STATUSES = frozenset({408, 429})


def status_error(status: int, message: str) -> LLMError:
    """The error for an HTTP error answer, classified by its status."""
    text = f"LLM endpoint answered HTTP {status}: {message}"
    if status >= 500 or status in TRANSIENT_STATUSES:
        return LLMUnavailable(text)
    if 400 <= status < 500:
        return LLMRefused(text)
    return LLMError(text)


class LLMClient:
    """Chat completions that must answer with one JSON object.

    ``timeout`` bounds the whole call (connect, wait, read) in seconds; an answer longer
    than ``max_answer_chars`` characters is refused before it is parsed.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 30.0,
        max_answer_chars: int = 20_000,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._base_url = base_url
        self._model = model
        self._api_key = api_key or NO_API_KEY
        self._timeout = timeout
        self._max_answer_chars = max_answer_chars
        self._clients = LoopLocal(self._new_client)

    @property
    def model(self) -> str:
        return self._model

    async def complete_json(
        self, system: str, user: str, *, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        """The JSON object the model answers to ``system`` + ``user``; LLMError otherwise."""
        started = time.perf_counter()
        completion = await self._create(
            [{"role": "system", "content": system}, {"role": "user", "content": user}],
            max_tokens=max_tokens,
            temperature=temperature,
        )
        text = self._answer_text(completion)
        try:
            answer = parse_json_object(text)
        except AnswerFormatError as error:
            raise LLMError(str(error)) from error
        _log.debug(
            "llm_answer",
            model=self._model,
            chars=len(text),
            seconds=round(time.perf_counter() - started, 3),
        )
        return answer

    async def aclose(self) -> None:
        """Close the SDK client of the current event loop."""
        client = self._clients.pop_current()
        if client is not None:
            await client.close()

    def _new_client(self) -> AsyncOpenAI:
        return AsyncOpenAI(
            base_url=self._base_url,
            api_key=self._api_key,
            timeout=self._timeout,
            max_retries=0,
        )

    async def _create(
        self, messages: list[ChatCompletionMessageParam], *, max_tokens: int, temperature: float
    ) -> ChatCompletion:
        started = time.perf_counter()
        ok = False
        try:
            # The SDK's timeout is per network operation; this one bounds the whole call.
            async with asyncio.timeout(self._timeout):
                completion = await self._clients.get().chat.completions.create(
                    model=self._model,
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=temperature,
                )
            ok = True
            return completion
        except (TimeoutError, openai.APITimeoutError) as error:
            raise LLMUnavailable(f"LLM call timed out after {self._timeout:g} s") from error
        except openai.APIStatusError as error:
            raise status_error(error.status_code, _short(error.message)) from error
        except openai.APIConnectionError as error:
            raise LLMUnavailable(f"LLM endpoint unreachable: {_short(str(error))}") from error
        except ValueError as error:
            raise LLMError(
                f"LLM endpoint answered an unreadable body: {_short(str(error))}"
            ) from error
        except openai.OpenAIError as error:
            raise LLMError(
                f"LLM call failed: {type(error).__name__}: {_short(str(error))}"
            ) from error
        finally:
            observe_llm(time.perf_counter() - started, ok=ok)

    def _answer_text(self, completion: ChatCompletion) -> str:
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise LLMError("LLM answer had no choices")
        choice = choices[0]
        finish_reason = getattr(choice, "finish_reason", None)
        if finish_reason in ("length", "content_filter"):
            reason = "truncated" if finish_reason == "length" else "blocked"
            raise LLMError(f"LLM answer was {reason} (finish_reason={finish_reason})")
        content = getattr(getattr(choice, "message", None), "content", None)
        if not isinstance(content, str) or not content.strip():
            raise LLMError("LLM answer was empty")
        if len(content) > self._max_answer_chars:
            raise LLMError(
                f"LLM answer was too long ({len(content)} characters, "
                f"limit {self._max_answer_chars})"
            )
        return content


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
