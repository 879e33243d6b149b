"""The metrics port: counters and gauges named as upstream does (docs/behaviour.md, "Metrics")."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class Metric(StrEnum):
    JOB_TOTAL = "memory_job_total"
    JOB_RETRY_TOTAL = "memory_job_retry_total"
    DECISION_TOTAL = "memory_decision_total"
    DECISION_FALLBACK_TOTAL = "memory_decision_fallback_total"
    RETRIEVE_HIT_TOTAL = "memory_retrieve_hit_total"
    RETRIEVE_DEDUP_DROP_TOTAL = "memory_retrieve_dedup_drop_total"
    RAG_FALLBACK_TOTAL = "memory_rag_fallback_total"
    INJECT_ITEM_TOTAL = "memory_inject_item_total"
    MANAGE_TOTAL = "memory_manage_total"
    CLEANUP_RUN_TOTAL = "memory_cleanup_run_total"
    CLEANUP_ARCHIVED_TOTAL = "memory_cleanup_archived_total"
    OUTBOX_PUBLISHED_TOTAL = "memvault_outbox_published_total"
    OUTBOX_FAILED_TOTAL = "memvault_outbox_failed_total"
    DEAD_EVENT_TOTAL = "memvault_dead_event_total"


LABELS: dict[Metric, tuple[str, ...]] = {
    Metric.JOB_TOTAL: ("status",),
    Metric.JOB_RETRY_TOTAL: ("job_type",),
    Metric.DECISION_TOTAL: ("action", "status"),
    Metric.DECISION_FALLBACK_TOTAL: ("mode",),
    Metric.RETRIEVE_HIT_TOTAL: ("read_mode",),
    Metric.RETRIEVE_DEDUP_DROP_TOTAL: ("read_mode",),
    Metric.RAG_FALLBACK_TOTAL: ("read_mode",),
    Metric.INJECT_ITEM_TOTAL: ("inject_mode", "source"),
    Metric.MANAGE_TOTAL: ("operation", "status"),
    Metric.CLEANUP_RUN_TOTAL: ("operation", "status"),
    Metric.CLEANUP_ARCHIVED_TOTAL: ("dry_run",),
    Metric.OUTBOX_PUBLISHED_TOTAL: (),
    Metric.OUTBOX_FAILED_TOTAL: (),
    Metric.DEAD_EVENT_TOTAL: (),
}


class Metrics(Protocol):
    """Counts what happens. ``count`` ignores values ≤ 0 (as upstream does)."""

    def count(self, metric: Metric, value: float = 1, /, **labels: str) -> None: ...

    def set_jobs(self, counts: dict[str, int]) -> None:
        """The number of jobs per status (queue depth), as last measured."""
        ...


class NoMetrics(Metrics):
    """Counts nothing: the default of a use case built without metrics (tests, tools)."""

    def count(self, metric: Metric, value: float = 1, /, **labels: str) -> None:
        return None

    def set_jobs(self, counts: dict[str, int]) -> None:
        return None


NO_METRICS: Metrics = NoMetrics()
