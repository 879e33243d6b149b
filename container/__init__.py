"""The only composition root: configuration, wiring and lifecycle of memvault's processes.

Only entrypoints (and tests) import it; the import contracts in pyproject.toml keep
domain, application and adapters from reaching it.

- :mod:`container.settings`: every option (``MEMVAULT_*``), start-up refusals, the
  embedded default's private files.
- :mod:`container.wiring`: the per-process :class:`Infrastructure` and the per-loop
  :class:`Container` that build adapters and use cases.
- :mod:`container.lifecycle`: :func:`running` (build → use → close) and :func:`migrate`.
"""

from container.lifecycle import migrate, running
from container.settings import Command, Settings, WeakSecret, refusal, write_private_file
from container.wiring import (
    JOB_QUEUE_NAME,
    Container,
    Infrastructure,
    build_infrastructure,
    close_infrastructure,
    retrieval_weights,
    shutdown,
)

__all__ = [
    "JOB_QUEUE_NAME",
    "Command",
    "Container",
    "Infrastructure",
    "Settings",
    "WeakSecret",
    "build_infrastructure",
    "close_infrastructure",
    "migrate",
    "refusal",
    "retrieval_weights",
    "running",
    "shutdown",
    "write_private_file",
]
