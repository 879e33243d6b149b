"""``/api/v1/memory/settings``: the caller's memory switches."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import JSONBody

from memvault.application.settings.settings import ChangeSettings
from memvault.entrypoints.http.deps import ContainerDep, PrincipalDep
from memvault.entrypoints.http.schemas import SettingsIn, SettingsOut


class SettingsController(Controller):
    path = "/api/v1/memory/settings"
    tags = ("settings",)

    @get(
        "/",
        operation_id="get_settings",
        summary="The caller's memory settings (defaults when never set)",
    )
    async def read(self, container: ContainerDep, principal: PrincipalDep) -> SettingsOut:
        return SettingsOut.of(await container.get_settings()(principal.user_id))

    @put(
        "/",
        operation_id="update_settings",
        summary="Change the caller's memory settings; omitted flags keep their value",
    )
    async def write(
        self, data: JSONBody[SettingsIn], container: ContainerDep, principal: PrincipalDep
    ) -> SettingsOut:
        command = ChangeSettings(
            user_id=principal.user_id,
            memory_enabled=data.memory_enabled,
            implicit_memory_enabled=data.implicit_memory_enabled,
            sensitive_memory_enabled=data.sensitive_memory_enabled,
            operator=principal.operator,
        )
        return SettingsOut.of(await container.change_settings()(command))
