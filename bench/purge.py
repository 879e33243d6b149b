"""How long the purge holds SQLite's write lock: batched against one unbounded delete.

Run: ``python -m bench.purge [--rows N] [--batch B]``

N old chat turns (each with a job that ended long ago) and N old dead events are
written into a fresh SQLite database, twice. On the first copy one ``DELETE`` per kind
removes them all, each in one transaction (the baseline); on the second the purge's
store deletes them ``B`` rows per transaction, as the sweeper does. The longest
transaction is how long another writer (an ingest, a job commit) may have to wait.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete

from memvault.adapters.sqlalchemy.engine import create_engine
from memvault.adapters.sqlalchemy.migrations import upgrade
from memvault.adapters.sqlalchemy.retention import SqlRetentionStore, retention_rule
from memvault.application.ports.retention import Purgeable

KINDS = (Purgeable.CHAT_MESSAGES, Purgeable.DEAD_EVENTS)
NOW = datetime.now(UTC)
OLD = (NOW - timedelta(days=90)).replace(tzinfo=None).isoformat(sep=" ")
CUTOFF = NOW - timedelta(days=30)


def seed(path: Path, rows: int) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO chat_messages (user_id, conversation_id, message_id, role, content,"
            " occurred_at, created_at) VALUES (?, 'c', ?, 'user', 'I love tea', ?, ?)",
            ((f"u{i % 1000}", f"m{i}", OLD, OLD) for i in range(rows)),
        )
        conn.executemany(
            "INSERT INTO memory_jobs (user_id, conversation_id, source_message_id, job_type,"
            " idempotency_key, payload_json, status, created_at, updated_at)"
            " VALUES (?, 'c', ?, 'extract', ?, '{}', 'success', ?, ?)",
            ((f"u{i % 1000}", f"m{i}", f"k{i}", OLD, OLD) for i in range(rows)),
        )
        conn.executemany(
            "INSERT INTO memory_dead_events (topic, raw_payload, reason, created_at)"
            " VALUES ('t', 'x', 'r', ?)",
            ((OLD,) for _ in range(rows)),
        )
    return url


async def unbounded(url: str) -> list[float]:
    """One transaction per kind; the time each held the write lock."""
    engine = create_engine(url, pool_size=1)
    held = []
    try:
        for kind in KINDS:
            rule = retention_rule(kind, CUTOFF)
            started = time.perf_counter()
            async with engine.begin() as conn:
                await conn.execute(delete(rule.table).where(rule.old))
            held.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return held


async def batched(url: str, batch: int) -> list[float]:
    """The purge's store, ``batch`` rows per transaction; each transaction's time."""
    engine = create_engine(url, pool_size=1)
    store = SqlRetentionStore(engine)
    held = []
    try:
        for kind in KINDS:
            deleted = batch
            while deleted == batch:
                started = time.perf_counter()
                deleted = await store.purge(kind, before=CUTOFF, limit=batch)
                held.append(time.perf_counter() - started)
    finally:
        await engine.dispose()
    return held


def report(rows: int, batch: int, baseline: list[float], batches: list[float]) -> None:
    table = Table(title=f"purge of {rows} chat turns and {rows} dead events on SQLite")
    for column in (
        "deletion",
        "transactions",
        "median ms",
        "longest ms",
        "total s",
        "longest/base",
    ):
        table.add_column(column)
    worst = max(baseline)
    for name, held in (
        ("one DELETE per kind (baseline)", baseline),
        (f"{batch} rows per batch", batches),
    ):
        table.add_row(
            name,
            str(len(held)),
            f"{statistics.median(held) * 1000:.1f}",
            f"{max(held) * 1000:.1f}",
            f"{sum(held):.2f}",
            f"{max(held) / worst:.3f}",
        )
    Console().print(table)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.purge")
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        baseline = asyncio.run(unbounded(seed(Path(tmp) / "baseline.db", args.rows)))
        batches = asyncio.run(batched(seed(Path(tmp) / "batched.db", args.rows), args.batch))
    report(args.rows, args.batch, baseline, batches)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
