"""Runs the alembic chain programmatically (CLI, ``make serve``, tests).

Synchronous on purpose: alembic's env runs its own event loop, so call these from a
thread when a loop is already running.
"""

from __future__ import annotations

from importlib.resources import files

from alembic.config import Config

from alembic import command

# Shipped inside the package (package data), so a wheel install can migrate too.
SCRIPT_LOCATION = str(files("memvault") / "alembic")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision of the migration chain shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
