"""The lexical index's rows and its one query (table ``memory_postings``).

The index lives in the database, not in each process: it is written in the item's own
transaction, so every API process (scale mode runs several) sees a change the moment it
commits, with nothing to invalidate or rebuild at start-up. One statement per search
returns the postings of the query terms in the user's visible items with the statistics
BM25 needs; the arithmetic over those few rows stays in Python
(``application.search.bm25``), so the scores are identical on every dialect (SQLite has
no portable ``ln``) and the tie order does not depend on a database's float summation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from memvault.adapters.sqlalchemy.tables import memory_items as t
from memvault.adapters.sqlalchemy.tables import memory_postings as postings
from memvault.adapters.sqlalchemy.visibility import Shape, parameters, shape_of, visible
from memvault.application.ports.repositories import ScopeQuery
from memvault.domain.lexical import term_counts

DOCUMENT_TERM = ""
"""The term of an item's document row (``tf`` = its length); no real term is empty."""


def user_key(user_id: str) -> int:
    """A stable signed 32-bit hash of ``user_id``: it keeps a user's postings together in
    the primary key at 4 bytes a row. Two users may share a key; that only costs a few
    extra rows read, because every query also checks ``memory_items.user_id``."""
    digest = hashlib.blake2b(user_id.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def posting_rows(item_id: int, user_id: str, text: str) -> list[dict[str, Any]]:
    """The item's postings and its document row; none for an item without terms."""
    counts = term_counts(text)
    if not counts:
        return []
    key = user_key(user_id)
    document = {"user_key": key, "term": DOCUMENT_TERM, "item_id": item_id}
    return [
        {**document, "tf": sum(counts.values())},
        *(
            {"user_key": key, "term": term, "item_id": item_id, "tf": tf}
            for term, tf in counts.items()
        ),
    ]


def matches(query: ScopeQuery, query_terms: Sequence[str]) -> tuple[Select[Any], dict[str, Any]]:
    """The statement of :func:`matches_statement` for ``query`` and its parameters."""
    values = parameters(query)
    values["l_user_key"] = user_key(query.user_id)
    values["l_terms"] = sorted(set(query_terms))
    return matches_statement(shape_of(query)), values


@cache
def matches_statement(shape: Shape) -> Select[Any]:
    """One statement: every posting of the query terms in the user's visible items, each
    with its item's length, the number of visible items with terms and their average
    length (what BM25 needs). The visible items come from ``memory_items`` itself, so
    the index can only propose; the item row decides."""
    key = bindparam("l_user_key", type_=postings.c.user_key.type)
    doc = postings.alias("doc")
    hit = postings.alias("hit")
    documents = (
        select(doc.c.item_id, doc.c.tf.label("length"))
        .select_from(doc.join(t, t.c.id == doc.c.item_id))
        .where(doc.c.user_key == key, doc.c.term == DOCUMENT_TERM, *visible(shape))
        .cte("visible_documents")
    )
    count = select(func.count()).select_from(documents).scalar_subquery()
    average = select(func.avg(documents.c.length)).scalar_subquery()
    return (
        select(hit.c.item_id, hit.c.term, hit.c.tf, documents.c.length, count, average)
        .select_from(hit.join(documents, documents.c.item_id == hit.c.item_id))
        .where(hit.c.user_key == key, hit.c.term.in_(bindparam("l_terms", expanding=True)))
    )
