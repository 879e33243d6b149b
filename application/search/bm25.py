"""Okapi BM25 over the postings of the visible items."""

from __future__ import annotations

import math
from collections import defaultdict

from memvault.application.ports.repositories import LexicalMatches

K1 = 1.2
B = 0.75


def bm25_ranking(matches: LexicalMatches, query_terms: list[str]) -> list[tuple[int, float]]:
    """Item ids with their BM25 score, best first (ties: higher id first)."""
    if not matches.postings or matches.documents == 0:
        return []
    weight = {term: query_terms.count(term) for term in set(query_terms)}
    document_frequency: dict[str, int] = defaultdict(int)
    for posting in matches.postings:
        document_frequency[posting.term] += 1
    scores: dict[int, float] = defaultdict(float)
    average = max(matches.average_length, 1.0)
    for posting in matches.postings:
        df = document_frequency[posting.term]
        idf = math.log(1 + (matches.documents - df + 0.5) / (df + 0.5))
        norm = posting.tf + K1 * (1 - B + B * posting.doc_len / average)
        scores[posting.item_id] += weight.get(posting.term, 1) * idf * posting.tf * (K1 + 1) / norm
    return sorted(scores.items(), key=lambda pair: (pair[1], pair[0]), reverse=True)
