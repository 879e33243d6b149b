"""The id of the request being served, carried with the work it causes.

The HTTP layer sets it for each request; ingestion copies it into the extraction event
(``trace_id``), and the job that event becomes logs and audits under it, so one id links
a request to its outbox event, its job, the job's log lines and its audit entries.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("memvault_request_id", default=None)
"""The current request's id; ``None`` outside a request (and in tasks started before)."""
