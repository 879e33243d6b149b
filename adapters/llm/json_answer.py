"""Reading one JSON object out of a model's free-text answer.

Models asked for "JSON only" still wrap it in a fenced block, put a sentence before it,
or think aloud first. The object is looked for, in order: the whole text, each fenced
```json block, then each balanced top-level ``{...}`` segment (string and escape aware).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_NOT_JSON = object()


class AnswerFormatError(ValueError):
    """The answer holds no JSON object; the message says why."""


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object the answer carries; :class:`AnswerFormatError` when there is none."""
    text = _THINKING.sub("", text).strip()
    if not text:
        raise AnswerFormatError("LLM answer was empty")
    whole = _loads(text)
    if isinstance(whole, dict):
        return whole
    if whole is not _NOT_JSON:
        raise AnswerFormatError(f"LLM answer is a JSON {_json_kind(whole)}, not an object")
    first_error = ""
    for segment in _candidates(text):
        try:
            value = json.loads(segment)
        except ValueError as error:
            first_error = first_error or str(error)
            continue
        if isinstance(value, dict):
            return value
    if first_error:
        raise AnswerFormatError(f"LLM answer is not valid JSON: {first_error}")
    raise AnswerFormatError(f"LLM answer holds no JSON object: {text[:80]!r}")


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NOT_JSON


def _candidates(text: str) -> Iterator[str]:
    for fence in _FENCE.finditer(text):
        yield fence.group(1).strip()
    yield from balanced_objects(text)


def balanced_objects(text: str) -> Iterator[str]:
    """Each top-level ``{...}`` segment in order; an unclosed one is AnswerFormatError."""
    start = text.find("{")
    while start != -1:
        end = _closing_brace(text, start)
        if end is None:
            raise AnswerFormatError("LLM answer was truncated (unbalanced JSON)")
        yield text[start : end + 1]
        start = text.find("{", end + 1)


def _closing_brace(text: str, start: int) -> int | None:
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif in_string:
            escaped = char == "\\"
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number" if isinstance(value, int | float) and not isinstance(value, bool) else "boolean"
