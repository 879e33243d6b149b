"""Handler dependencies: the request's container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, di
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.params import SkipValidationMarker

from memvault.container import Container
from memvault.domain.errors import NotFound
from memvault.entrypoints.http.auth import Principal

MAX_ID = 2**63 - 1


def get_container(request: Request[Any, Any, Any]) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, di.Dependency(kind="named"), SkipValidationMarker()]
"""The container as a handler parameter (a declarative container's instances are
``DynamicContainer`` objects, which Litestar's type check would refuse)."""


PrincipalDep = di.NamedDependency[Principal]


def get_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException("authentication required")
    return user


def checked_id(value: int, what: str = "memory item") -> int:
    """Ids outside the 64-bit range cannot exist: not found, rather than a database error."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} not found")
    return value


def split_csv(*values: list[str] | None) -> list[str]:
    """``?t=a,b&t=c`` and ``?t=a&types=b`` both give ``[a, b, c]``; blanks are dropped."""
    parts = [p.strip() for group in values for value in (group or []) for p in value.split(",")]
    return [p for p in parts if p]


DEPENDENCIES = {
    "container": Provide(get_container, sync_to_thread=False),
    "principal": Provide(get_principal, sync_to_thread=False),
}
