"""Prometheus metrics (prometheus-client), exported with the HTTP metrics at /metrics."""

from __future__ import annotations

from functools import cache

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from application.ports.metrics import LABELS, Metric, Metrics


class PrometheusMetrics(Metrics):
    """Registers every metric on ``registry``; one instance per registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters = {
            metric: Counter(
                metric.value, metric.value.replace("_", " "), LABELS[metric], registry=registry
            )
            for metric in Metric
        }
        self._jobs = Gauge("memvault_jobs", "Jobs per status", ("status",), registry=registry)

    def count(self, metric: Metric, value: float = 1, /, **labels: str) -> None:
        if value <= 0:
            return
        counter = self._counters[metric]
        names = LABELS[metric]
        if names:
            counter.labels(**{name: labels.get(name, "") for name in names}).inc(value)
        else:
            counter.inc(value)

    def set_jobs(self, counts: dict[str, int]) -> None:
        for status, value in counts.items():
            self._jobs.labels(status=status).set(value)


@cache
def process_metrics() -> PrometheusMetrics:
    """The process's metrics on the default registry (made on first use, never twice)."""
    return PrometheusMetrics(REGISTRY)
