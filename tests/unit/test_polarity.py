"""Stances read from like/dislike statements, the offline judge's conflict rule."""

from __future__ import annotations

import pytest

from memvault.domain.polarity import DISLIKE, LIKE, expand_contractions, read_stance


def subject_and_polarity(content: str) -> tuple[str, int] | None:
    """``(subject key, +1 | -1)`` for a like/dislike statement, else ``None``."""
    stance = read_stance(content)
    return None if stance is None else (stance.key, stance.polarity)


def contradicts(new: str, old: str) -> bool:
    """The deterministic judge's conflict rule: same subject, opposite polarity."""
    a, b = read_stance(new), read_stance(old)
    return a is not None and b is not None and a.key == b.key and a.polarity != b.polarity


@pytest.mark.parametrize(
    ("older", "newer", "subject"),
    [
        ("I love sushi", "I don't like sushi anymore", "sushi"),
        ("I like jazz", "I'm not a fan of jazz", "jazz"),
        ("I can't stand cilantro", "I actually enjoy cilantro now", "cilantro"),
        ("我喜欢寿司", "我不再喜欢寿司了", "寿司"),
        ("我喜欢寿司", "我讨厌寿司", "寿司"),
        ("我爱吃辣", "我现在不怎么喜欢吃辣了", "辣"),
    ],
)
def test_a_like_and_a_later_dislike_meet_on_the_same_subject(
    older: str, newer: str, subject: str
) -> None:
    before, after = subject_and_polarity(older), subject_and_polarity(newer)
    assert before is not None
    assert after is not None
    assert before[0] == after[0] == subject
    assert before[1] == -after[1]


@pytest.mark.parametrize(
    "content",
    ["I love sushi", "User loves sushi", "The user loves sushi", "Loves sushi", "i love Sushi!"],
)
def test_first_third_person_and_subjectless_forms_read_the_same(content: str) -> None:
    assert subject_and_polarity(content) == ("sushi", LIKE)


@pytest.mark.parametrize(
    "content", ["我喜欢寿司", "用户喜欢寿司", "喜欢寿司", "我非常喜欢吃寿司", "我真的很爱寿司"]
)
def test_chinese_first_and_third_person_forms_read_the_same(content: str) -> None:
    assert subject_and_polarity(content) == ("寿司", LIKE)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("My favourite band is Radiohead", ("radiohead", LIKE)),
        ("Radiohead is my favorite band", ("radiohead", LIKE)),
        ("我最喜欢的歌手是周杰伦", ("周杰伦", LIKE)),
        ("我的爱好是摄影", ("摄影", LIKE)),
        ("我对篮球没什么兴趣", ("篮球", DISLIKE)),
        ("我对摄影很感兴趣", ("摄影", LIKE)),
    ],
)
def test_favourites_hobbies_and_interests_have_a_polarity(
    content: str, expected: tuple[str, int]
) -> None:
    assert subject_and_polarity(content) == expected


def test_a_comparison_is_about_the_preferred_thing() -> None:
    assert subject_and_polarity("I prefer tea over coffee") == ("tea", LIKE)
    assert subject_and_polarity("I'd rather walk than drive") == ("walk", LIKE)


def test_a_negated_dislike_leans_positive() -> None:
    assert subject_and_polarity("I don't hate country music") == ("country music", LIKE)
    assert subject_and_polarity("我不讨厌下雨天") == ("下雨天", LIKE)


def test_plurals_and_activity_verbs_do_not_split_a_subject() -> None:
    assert subject_and_polarity("I love dogs") == ("dog", LIKE)
    assert subject_and_polarity("I love eating sushi") == ("sushi", LIKE)
    assert subject_and_polarity("I don't like dog") == ("dog", DISLIKE)


@pytest.mark.parametrize(
    "content",
    [
        "",
        "I live in Berlin",
        "My friend loves sushi",
        "我朋友特别喜欢吃火锅",
        "I love it",
        "I like your answer",
        "我喜欢你",
        "I would love to visit Japan",
        "我爱人是医生",
        "I am allergic to peanuts",
        "Never use emojis",
    ],
)
def test_statements_that_are_not_likes_have_no_polarity(content: str) -> None:
    assert read_stance(content) is None


def test_a_stance_keeps_the_subject_as_written_and_a_lower_case_key() -> None:
    stance = read_stance("I'm a huge fan of Studio Ghibli movies")
    assert stance is not None
    assert stance.subject == "Studio Ghibli movies"
    assert stance.key == "studio ghibli movie"


def test_contradiction_needs_the_same_subject_and_opposite_polarity() -> None:
    assert contradicts("I don't like sushi anymore", "I love sushi")
    assert contradicts("我讨厌寿司", "用户喜欢寿司")
    assert not contradicts("I love ramen", "I love sushi")
    assert not contradicts("I hate ramen", "I love sushi")
    assert not contradicts("I really love sushi", "I love sushi")
    assert not contradicts("I live in Paris", "I love sushi")


def test_contractions_expand_and_keep_their_case() -> None:
    assert expand_contractions("I'm sure I don't") == "I am sure I do not"
    assert expand_contractions("i can’t and won't") == "i cannot and will not"
