"""Optional OpenTelemetry tracing of HTTP requests, through Litestar's own plugin.

Off by default (``MEMVAULT_OTEL_ENABLED=true`` turns it on) and needs the ``otel`` extra
(``pip install 'memvault[otel]'``). Spans go to the global tracer provider: configure
the SDK and its exporter the standard way, e.g. run ``opentelemetry-instrument memvault
serve`` with the ``OTEL_*`` environment variables.
"""

from __future__ import annotations

from litestar.plugins import PluginProtocol

from memvault.container import Settings

EXCLUDED = ["/healthz", "/readyz", "/metrics"]
"""Probes and scrapes: frequent and uninteresting."""


def tracing_plugins(settings: Settings) -> list[PluginProtocol]:
    if not settings.otel_enabled:
        return []
    try:
        from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
    except ImportError as error:  # the extra is not installed
        raise RuntimeError(
            "MEMVAULT_OTEL_ENABLED=true needs the OpenTelemetry packages: "
            "pip install 'memvault[otel]'"
        ) from error
    return [OpenTelemetryPlugin(OpenTelemetryConfig(exclude=EXCLUDED))]
