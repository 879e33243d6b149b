"""Chat turn → memory visible, outside-in against a real ``memvault serve``.

Run: ``python -m bench.pipeline [--turns N] [--embedder local|hashing]``.

The benchmark starts ``memvault serve`` (the embedded default: SQLite, qdrant-edge, the
in-process bus and worker, the rule-based extractor) and, N times, posts one user turn
to ``POST /messages`` (a new user each time, so no turn supersedes another) and polls
``GET /items`` every millisecond or two until the extracted memory is listed. It prints
p50 / p95 / max of that delay; the relay's poll interval is printed beside it, since a
hand-off that waited for the poll would show up as about half of it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.search import Tokens, server
from memvault.adapters.settings import Settings

MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
POLL_S = 0.002
GIVE_UP_S = 30.0


async def one_turn(client: httpx.AsyncClient, tokens: Tokens, n: int) -> float:
    user = f"bench-chat-{n:04d}-{secrets.token_hex(3)}"
    body = {
        "conversation_id": "bench",
        "messages": [{"role": "user", "content": f"My favourite colour is teal number {n}."}],
    }
    started = time.perf_counter()
    (await client.post(MESSAGES, json=body, headers=tokens(user))).raise_for_status()
    while time.perf_counter() - started < GIVE_UP_S:
        page = await client.get(ITEMS, headers=tokens(user))
        page.raise_for_status()
        if page.json()["items"]:
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"turn {n}: no memory after {GIVE_UP_S:.0f} s")


async def run(turns: int, embedder: str, console: Console) -> None:
    secret = secrets.token_urlsafe(32)
    tokens = Tokens(secret)
    with tempfile.TemporaryDirectory(prefix="memvault-bench-pipeline-") as tmp:
        async with (
            server(Path(tmp) / "data", embedder, secret) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            await one_turn(client, tokens, -1)  # warm-up: model load, first queries
            delays = [await one_turn(client, tokens, n) for n in range(turns)]
    table = Table(title=f"chat turn → memory visible (embedded, {embedder} embedder)")
    for column in ("turns", "p50 ms", "p95 ms", "max ms", "relay poll interval ms"):
        table.add_column(column, justify="right")
    table.add_row(
        str(turns),
        f"{np.percentile(delays, 50):.0f}",
        f"{np.percentile(delays, 95):.0f}",
        f"{max(delays):.0f}",
        f"{Settings.model_fields['relay_poll_interval_s'].default * 1000:.0f}",
    )
    console.print(table)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--embedder", choices=("local", "hashing"), default="local")
    args = parser.parse_args(argv)
    asyncio.run(run(args.turns, args.embedder, Console()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
