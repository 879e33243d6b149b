"""``ExactString`` is created with a binary NO PAD collation on both MySQL-family servers."""

from __future__ import annotations

import pytest
from sqlalchemy import Dialect
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.schema import CreateTable

from memvault.adapters.sqlalchemy.tables import memory_user_settings


def mysql_dialect(*, mariadb: bool) -> mysql.dialect:
    dialect = mysql.dialect()
    dialect.is_mariadb = mariadb
    return dialect


@pytest.mark.parametrize(
    ("mariadb", "collation"), [(True, "utf8mb4_nopad_bin"), (False, "utf8mb4_0900_bin")]
)
def test_identifiers_get_the_servers_binary_no_pad_collation(mariadb: bool, collation: str):
    ddl = str(CreateTable(memory_user_settings).compile(dialect=mysql_dialect(mariadb=mariadb)))
    assert f"user_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE {collation} NOT NULL" in ddl
    assert "utf8mb4_bin" not in ddl, "utf8mb4_bin pads: 'bob' would equal 'bob '"


@pytest.mark.parametrize("dialect", [postgresql.dialect(), sqlite.dialect()])
def test_other_databases_get_a_plain_varchar(dialect: Dialect):
    ddl = str(CreateTable(memory_user_settings).compile(dialect=dialect))
    assert "user_id VARCHAR(128) NOT NULL" in ddl
    assert "COLLATE" not in ddl
