"""Disk cost of the lexical index on SQLite, in bytes per memory (page counts).

Run: ``python -m bench.lexical_size [--memories N] [--users U]``

N synthetic memories (``bench.corpus``) are created through ``CreateItemsUseCase`` in a
fresh SQLite database; SQLite's ``dbstat`` table then gives the pages of the postings
table and its indexes, of the items table and of the whole file. Run it with another
checkout first on ``PYTHONPATH`` to measure that schema in the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path

import structlog
from rich.console import Console
from rich.table import Table

from bench.corpus import memories
from memvault.application.memory_items.create_item import CreateItems, NewItem
from memvault.container import Settings, build_infrastructure, close_infrastructure, migrate

BATCH = 200


async def load(settings: Settings, count: int, users: int) -> None:
    infra = build_infrastructure(settings)
    container = infra.loops().current()
    try:
        create = container.create_items()
        pending: list[NewItem] = []
        owner = ""
        for memory in memories(count, users):
            if pending and (memory.user != owner or len(pending) >= BATCH):
                await create(CreateItems(user_id=owner, items=pending, batch=True))
                pending = []
            owner = memory.user
            pending.append(NewItem(memory_type=memory.memory_type, content=memory.content))
        if pending:
            await create(CreateItems(user_id=owner, items=pending, batch=True))
    finally:
        await infra.loops().close_current()
        await close_infrastructure(infra)


def pages(database: Path) -> dict[str, int]:
    """Bytes per table or index (the postings' indexes counted with the postings)."""
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        owners = dict(conn.execute("SELECT name, tbl_name FROM sqlite_schema").fetchall())
    sizes: dict[str, int] = {}
    for name, size in rows:
        table = owners.get(name, name)
        sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


def report(sizes: dict[str, int], database: Path, count: int) -> Table:
    table = Table(title=f"SQLite bytes per memory, {count} memories")
    table.add_column("what")
    table.add_column("bytes", justify="right")
    table.add_column("bytes per memory", justify="right")
    rows = [
        ("lexical index (memory_postings + indexes)", sizes.get("memory_postings", 0)),
        ("memory_items + indexes", sizes.get("memory_items", 0)),
        ("database file", os.path.getsize(database)),
    ]
    for label, size in rows:
        table.add_row(label, f"{size:,}", f"{size / count:,.0f}")
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), embedder="hashing", vector_store="memory")
        migrate(settings)
        asyncio.run(load(settings, args.memories, args.users))
        database = Path(tmp) / "memvault.db"
        console = Console(width=max(Console().width, 132))
        console.print(report(pages(database), database, args.memories))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
