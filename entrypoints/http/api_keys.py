"""The API-key path of the bearer authentication.

- ``user:<id>`` acts for that user only (an ``X-Memvault-User`` naming anyone else is 403).
- ``service`` acts for the user named by ``X-Memvault-User`` on every request (400 when
  missing or invalid) and is never an operator.
- ``admin`` reaches the operator endpoints (audited under the key's name) and, elsewhere,
  acts for the user named by ``X-Memvault-User`` like a service key.

Changes made with a key are audited with the key's name as the operator.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from memvault.container import Container
from memvault.domain.api_keys import MAX_USER_ID, ApiKey, ScopeKind
from memvault.domain.audit import Operator, OperatorType
from memvault.domain.errors import InvalidValue
from memvault.entrypoints.http.auth import Principal

USER_HEADER = "x-memvault-user"
ADMIN_PATH = "/api/v1/admin"


def _named_user(connection: ASGIConnection) -> str | None:  # type: ignore[type-arg]
    value = connection.headers.get(USER_HEADER)
    if value is None:
        return None
    if not 1 <= len(value) <= MAX_USER_ID or value != value.strip():
        raise InvalidValue(
            "X-Memvault-User must be a user id of 1-128 characters", field="X-Memvault-User"
        )
    return value


def _required_user(connection: ASGIConnection) -> str:  # type: ignore[type-arg]
    user_id = _named_user(connection)
    if user_id is None:
        raise InvalidValue(
            "a service key must name the user it acts for in X-Memvault-User",
            field="X-Memvault-User",
        )
    return user_id


def principal_for(key: ApiKey, connection: ASGIConnection) -> Principal:  # type: ignore[type-arg]
    """What ``key`` may do on this request."""
    scope = key.scope
    if scope.kind is ScopeKind.USER and scope.user_id is not None:
        named = _named_user(connection)
        if named is not None and named != scope.user_id:
            raise PermissionDeniedException("this key acts for one user only")
        acting = Operator(type=OperatorType.USER, id=key.name)
        return Principal(user_id=scope.user_id, acting=acting)
    if scope.kind is ScopeKind.ADMIN:
        acting = Operator(type=OperatorType.ADMIN, id=key.name)
        if connection.scope["path"].startswith(ADMIN_PATH):
            user_id = _named_user(connection) or key.name
        else:
            user_id = _required_user(connection)
        return Principal(user_id=user_id, is_admin=True, acting=acting)
    acting = Operator(type=OperatorType.SERVICE, id=key.name)
    return Principal(user_id=_required_user(connection), acting=acting)


async def principal_from_key(connection: ASGIConnection, secret: str) -> Principal:  # type: ignore[type-arg]
    container: Container = connection.app.state.container
    key = await container.authenticate_key()(secret)
    if key is None:
        raise NotAuthorizedException("the API key is not valid (unknown, revoked or expired)")
    return principal_for(key, connection)
