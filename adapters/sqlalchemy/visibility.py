"""The read scope as SQL: which of ``memory_items`` a retrieval may see.

The clauses are built once per *shape* of the query (which optional filters it has)
with bound parameters, so the statements that use them are built and compiled once
and then only executed: building a SQLAlchemy statement costs more than running it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, true
from sqlalchemy.sql.elements import ColumnElement

from memvault.adapters.sqlalchemy.tables import memory_item_metadata as m
from memvault.adapters.sqlalchemy.tables import memory_items as t
from memvault.application.ports.repositories import ScopeQuery
from memvault.domain.memory import MemoryStatus
from memvault.domain.settings import CONSENTED_SENSITIVITY


@dataclass(frozen=True, slots=True)
class Shape:
    """Which optional filters a scope query has."""

    types: bool
    assistant: bool
    run: bool
    explicit_only: bool
    sensitivity: bool
    metadata: int = 0
    """How many metadata pairs the filter has."""


def shape_of(query: ScopeQuery) -> Shape:
    return Shape(
        types=bool(query.memory_types),
        assistant=bool(query.assistant_id),
        run=bool(query.run_id),
        explicit_only=query.explicit_only,
        sensitivity=query.max_sensitivity is not None,
        metadata=len(query.metadata_tokens),
    )


def parameters(query: ScopeQuery) -> dict[str, Any]:
    """The values of :func:`visible`'s parameters for ``query``."""
    shape = shape_of(query)
    values: dict[str, Any] = {"v_user_id": query.user_id, "v_now": query.now}
    if shape.types:
        values["v_types"] = sorted(m.value for m in query.memory_types)
    if shape.assistant:
        values["v_assistant_id"] = query.assistant_id
    if shape.run:
        values["v_run_id"] = query.run_id
    if shape.sensitivity:
        values["v_max_sensitivity"] = query.max_sensitivity
    values.update(metadata_parameters(query.metadata_tokens))
    return values


def metadata_parameters(tokens: frozenset[str]) -> dict[str, str]:
    """The values of :func:`metadata_clauses`' parameters (tokens in sorted order)."""
    values: dict[str, str] = {}
    for n, token in enumerate(sorted(tokens)):
        key, _, value_hash = token.partition("=")
        values[f"v_meta_key_{n}"] = key
        values[f"v_meta_hash_{n}"] = value_hash
    return values


@cache
def metadata_clauses(count: int) -> tuple[ColumnElement[bool], ...]:
    """One ``EXISTS`` per metadata pair on ``memory_item_metadata``: the item holds that
    key with that value (hash); several pairs AND. Inside the query, so a filter never
    costs a search its recall."""
    return tuple(
        exists()
        .where(
            m.c.item_id == t.c.id,
            m.c.key == bindparam(f"v_meta_key_{n}", type_=m.c.key.type),
            m.c.value_hash == bindparam(f"v_meta_hash_{n}", type_=m.c.value_hash.type),
        )
        .correlate(t)
        for n in range(count)
    )


@cache
def visible(shape: Shape) -> tuple[ColumnElement[bool], ...]:
    """Read scope: the user's active, unexpired items; assistant and run match their
    value or none; conversation is deliberately ignored; the user's settings as
    ``explicit_only`` and ``max_sensitivity``."""
    clauses: list[ColumnElement[bool]] = [
        t.c.user_id == bindparam("v_user_id", type_=t.c.user_id.type),
        t.c.status == MemoryStatus.ACTIVE.value,
        or_(t.c.ttl_at.is_(None), t.c.ttl_at > bindparam("v_now", type_=t.c.ttl_at.type)),
    ]
    if shape.types:
        clauses.append(t.c.memory_type.in_(bindparam("v_types", expanding=True)))
    if shape.assistant:
        clauses.append(
            or_(t.c.assistant_id == bindparam("v_assistant_id"), t.c.assistant_id.is_(None))
        )
    if shape.run:
        clauses.append(or_(t.c.run_id == bindparam("v_run_id"), t.c.run_id.is_(None)))
    if shape.explicit_only:
        clauses.append(t.c.is_explicit == true())
    if shape.sensitivity:
        # an explicit request to remember was consent (docs/behaviour.md, "Consent")
        clauses.append(
            or_(
                t.c.sensitivity_level <= bindparam("v_max_sensitivity"),
                and_(t.c.is_explicit == true(), t.c.sensitivity_level <= CONSENTED_SENSITIVITY),
            )
        )
    clauses.extend(metadata_clauses(shape.metadata))
    return tuple(clauses)
