"""One logging setup for every process: memvault's structlog calls and the standard
``logging`` records of uvicorn, Dramatiq, alembic and the rest all leave through one
handler, rendered by structlog as key-value lines (``console``) or JSON objects
(``json``). Values bound with ``structlog.contextvars`` (the request id) appear on both.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog

LogFormat = Literal["console", "json"]
NOISY = {"uvicorn.access": logging.WARNING}
"""Loggers that repeat what memvault logs itself (the HTTP metrics count requests)."""


def _shared() -> list[structlog.types.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(log_format: LogFormat) -> structlog.types.Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


def configure_logging(
    level: str = "info", log_format: LogFormat = "console", *, stream: TextIO | None = None
) -> None:
    """Route everything through one handler on the root logger (writing to ``stream``,
    stderr by default), replacing whatever handlers were there (Dramatiq's included)."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    extra: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info] if log_format == "json" else []
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *extra,
            _renderer(log_format),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    for name, floor in NOISY.items():
        logging.getLogger(name).setLevel(max(floor, numeric))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Reconfiguring (tests, `serve` after the CLI logged) must reach every logger.
        cache_logger_on_first_use=False,
    )
