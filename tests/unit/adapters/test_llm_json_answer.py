"""Finding the JSON object in a model's answer."""

from __future__ import annotations

import pytest

from memvault.adapters.llm.json_answer import AnswerFormatError, parse_json_object


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '  \n{"a": 1}\n',
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        'The answer is ```JSON {"a": 1}``` as asked.',
        'Here: {"a": 1} and that is all.',
        '<think>{"a": 2} is wrong</think>{"a": 1}',
        "{not json} then {bad: 'quotes'} then {\"a\": 1}",
        '```json\n{"a": }\n```\n{"a": 1}',
    ],
)
def test_the_object_is_found_wherever_the_model_put_it(text: str) -> None:
    assert parse_json_object(text) == {"a": 1}


def test_braces_and_escaped_quotes_inside_strings_do_not_end_the_object() -> None:
    text = 'prefix {"s": "a } b { \\" c \\\\", "n": {"m": "}"}} suffix }'

    assert parse_json_object(text) == {"s": 'a } b { " c \\', "n": {"m": "}"}}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("<think>hmm</think>  ", "empty"),
        ("no object here", "holds no JSON object"),
        ('{"a": 1', "truncated"),
        ('{"a": [1, 2}', "not valid JSON"),
        ('{"a": 1,}', "not valid JSON: Expecting property name"),
        ("[1, 2]", "JSON array, not an object"),
        ('"text"', "JSON string, not an object"),
        ("42", "JSON number, not an object"),
        ("null", "JSON null, not an object"),
    ],
)
def test_an_answer_without_an_object_says_why(text: str, reason: str) -> None:
    with pytest.raises(AnswerFormatError, match=reason):
        parse_json_object(text)
