"""memvault-client: sync and async clients for the memvault memory service."""

from memvault_client._core import RetryPolicy
from memvault_client.async_client import AsyncClient
from memvault_client.client import Client
from memvault_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    JobTimeout,
    MemvaultError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    Unprocessable,
)
from memvault_client.models import (
    AcceptedMessage,
    AuditEntry,
    Context,
    Job,
    Memory,
    SearchResult,
    Settings,
)

__all__ = [
    "AcceptedMessage",
    "AsyncClient",
    "AuditEntry",
    "BadRequest",
    "Client",
    "Conflict",
    "Context",
    "Forbidden",
    "Job",
    "JobTimeout",
    "Memory",
    "MemvaultError",
    "NotFound",
    "RateLimited",
    "RetryPolicy",
    "SearchResult",
    "Settings",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
]
