"""docker-compose.yml checked against the code: no Docker engine runs here, so the file is
parsed and every command, ``MEMVAULT_*`` name, volume, port and health check is compared
with the CLI, the settings and README's scale-mode section."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from memvault.container import Settings, refusal
from memvault.entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[2]
MEMVAULT_SERVICES = {"migrate", "api", "relay", "worker"}
LONG_RUNNING = {"api", "relay", "worker"}
STATEFUL = {
    "postgres": "/var/lib/postgresql/data",
    "redis": "/data",
    "qdrant": "/qdrant/storage",
    "etcd": "/etcd",
    "minio": "/minio_data",
    "milvus": "/var/lib/milvus",
}
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")
SECRET = "s" * 40


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]  # type: ignore[no-any-return]


def interpolate(value: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set in the environment but the secret."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) == "MEMVAULT_AUTH_JWT_SECRET":
            return SECRET
        return match.group(2) or ""

    return INTERPOLATION.sub(one, value)


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: interpolate(str(value)) for name, value in service["environment"].items()}


def resolve(argv: list[str]) -> Any:
    """The (click) command ``memvault <argv>`` runs; fails on an unknown command or option."""
    command: Any = typer.main.get_command(app)
    args = list(argv)
    while hasattr(command, "commands") and args:
        name = args.pop(0)
        sub = command.commands.get(name)
        assert sub is not None, f"`memvault {' '.join(argv)}`: no command {name!r}"
        command = sub
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for arg in args:
        if arg.startswith("-"):
            assert arg in options, f"`memvault {' '.join(argv)}`: no option {arg}"
    return command


def test_each_memvault_service_runs_a_real_cli_command(services: dict[str, Any]) -> None:
    expected = {
        "migrate": "db_upgrade",
        "api": "serve",
        "relay": "relay",
        "worker": "worker",
    }
    for name, callback in expected.items():
        command = services[name]["command"]
        assert command[0] == "memvault"
        resolved = resolve(command[1:])
        assert resolved.callback is not None
        assert resolved.callback.__name__ == callback


def test_every_memvault_env_name_is_a_setting(services: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)
    for name in MEMVAULT_SERVICES:
        for variable in environment(services[name]):
            assert variable.startswith("MEMVAULT_"), variable
            assert variable.removeprefix("MEMVAULT_").lower() in fields, variable


def test_the_environment_configures_scale_mode_with_servers(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in [v for v in os.environ if v.startswith("MEMVAULT_")]:
        monkeypatch.delenv(variable)
    for variable, value in environment(services["api"]).items():
        monkeypatch.setenv(variable, value)
    settings = Settings()
    assert refusal(settings, "worker") is None
    assert refusal(settings, "relay") is None
    assert settings.broker == "redis"
    assert settings.event_bus == "redis"
    assert settings.vector_store == "qdrant"
    assert settings.jwt_secret() == SECRET
    assert settings.effective_database_url.startswith("postgresql+asyncpg://")
    hosts = {
        "postgres": settings.effective_database_url,
        "redis": settings.redis_url,
        "qdrant": settings.qdrant_url,
        "milvus": settings.milvus_uri,
    }
    for service, url in hosts.items():
        assert url is not None
        assert f"@{service}:" in url or f"//{service}:" in url, (service, url)
        assert service in services


def test_one_image_built_once_for_every_memvault_service(services: dict[str, Any]) -> None:
    builders = [name for name, service in services.items() if "build" in service]
    assert builders == ["migrate"]
    images = {services[name]["image"] for name in MEMVAULT_SERVICES}
    assert len(images) == 1
    environments = [environment(services[name]) for name in MEMVAULT_SERVICES]
    assert all(env == environments[0] for env in environments)


def test_the_image_runs_as_an_unprivileged_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[-1]
    users = re.findall(r"^USER\s+(\S+)", final_stage, flags=re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}


def test_every_stateful_service_keeps_its_data_in_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(compose["volumes"])
    for name, path in STATEFUL.items():
        mounts = dict(volume.split(":", 1) for volume in services[name]["volumes"])
        assert path in mounts.values(), (name, mounts)
        assert all(source in declared for source in mounts), (name, mounts)


def test_milvus_and_its_dependencies_run_only_under_a_profile(services: dict[str, Any]) -> None:
    for name in ("etcd", "minio", "milvus"):
        assert services[name]["profiles"] == ["milvus"]
    for name, service in services.items():
        if "profiles" not in service:
            assert not set(service.get("depends_on", {})) & {"etcd", "minio", "milvus"}, name


def test_health_checks_and_start_order(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = condition["condition"]
            if wanted == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
            else:
                assert wanted == "service_completed_successfully"
                assert dependency == "migrate"
    assert "healthcheck" not in services["migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in LONG_RUNNING:
        assert "healthcheck" in services[name], name
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
    for name in STATEFUL:
        assert "healthcheck" in services[name], name


def test_ports_and_health_urls_match_the_settings(services: dict[str, Any]) -> None:
    env = environment(services["api"])
    port, metrics_port = env["MEMVAULT_PORT"], env["MEMVAULT_METRICS_PORT"]
    assert env["MEMVAULT_HOST"] == "0.0.0.0"
    assert services["api"]["ports"] == [f"{port}:{port}"]
    assert f"127.0.0.1:{port}/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("relay", "worker"):
        test = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{metrics_port}/metrics" in test, name


def test_readme_scale_mode_section_matches_the_compose_file(services: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Scale mode**", 1)[1].split("\n#", 1)[0]
    named = set(re.findall(r"^\| `(\w+)`", section, flags=re.MULTILINE))
    named |= {
        extra
        for row in re.findall(r"^\| (`\w+`(?:, `\w+`)+) \|", section, flags=re.MULTILINE)
        for extra in re.findall(r"`(\w+)`", row)
    }
    assert named == set(services)
    for command in re.findall(r"^\| `\w+` \| `(memvault [^`]+)`", section, flags=re.MULTILINE):
        resolve(command.split()[1:])
    for variable in set(re.findall(r"MEMVAULT_[A-Z_]+", section)):
        if variable.endswith("_"):  # "MEMVAULT_WORKER_PROCESSES / _THREADS"
            continue
        assert variable.removeprefix("MEMVAULT_").lower() in Settings.model_fields, variable
    for volume in re.findall(r"`(\w+_data)`", section):
        assert any(volume in str(s.get("volumes", [])) for s in services.values()), volume
