"""A backlog of one user's jobs, outside-in against a real ``memvault serve``.

Run: ``python -m bench.backlog [--jobs N] [--extract-ms D] [--probes Q]``.

The benchmark starts a slow OpenAI-compatible endpoint in this process (each extraction
answers "chit-chat" after D ms: the slow extractor) and ``memvault serve`` (the embedded
default with the hashing embedder) pointed at it. Then, for N/2 and for N jobs: the API's
latency while idle (``GET /items``, p50 of Q requests), the turns of one new user posted
at once (N jobs), the same latency while they drain, and the time until the last one
succeeded. It prints, per size: the queue messages sent per job and the parked
attempts per job (the server's ``memvault_job_messages_total`` and
``memvault_job_seconds_count{outcome="busy"}``), the API's p50 during the backlog over
its idle p50, and the drain time per job over the extraction delay; then the drain
time of N jobs over that of N/2 (2 when draining is proportional to the jobs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from bench.search import Tokens, server

MESSAGES = "/api/v1/memory/messages"
ITEMS = "/api/v1/memory/items"
PER_POST = 100
POLL_S = 0.25
GIVE_UP_S = 1800.0
CHIT_CHAT = json.dumps({"message_intent": "chitchat", "facts": []})


@contextmanager
def slow_llm(delay_s: float) -> Iterator[str]:
    """A chat-completions endpoint that answers every request after ``delay_s``."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            time.sleep(delay_s)
            choice = {"index": 0, "message": {"role": "assistant", "content": CHIT_CHAT}}
            body = json.dumps({"choices": [{**choice, "finish_reason": "stop"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{http.server_address[1]}/v1"
    finally:
        http.shutdown()
        http.server_close()


@dataclass(frozen=True, slots=True)
class Run:
    jobs: int
    messages: float
    parked: float
    idle_ms: float
    busy_ms: float
    drain_s: float


async def counters(client: httpx.AsyncClient) -> dict[str, float]:
    """The server's job counters: successes, queue messages, parked attempts."""
    text = (await client.get("/metrics")).text
    wanted = {
        'memory_job_total{status="success"}': "success",
        "memvault_job_messages_total": "messages",
        'memvault_job_seconds_count{outcome="busy"}': "parked",
    }
    found = dict.fromkeys(wanted.values(), 0.0)
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name in wanted:
            found[wanted[name]] = float(value)
    return found


async def latency_ms(client: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    (await client.get(ITEMS, headers=headers)).raise_for_status()
    return (time.perf_counter() - started) * 1000


async def post_turns(client: httpx.AsyncClient, headers: dict[str, str], jobs: int) -> None:
    for first in range(0, jobs, PER_POST):
        turns = [
            {"role": "user", "content": f"hello there, turn {n}", "message_id": f"m-{n}"}
            for n in range(first, min(jobs, first + PER_POST))
        ]
        body = {"conversation_id": "backlog", "messages": turns}
        (await client.post(MESSAGES, json=body, headers=headers)).raise_for_status()


async def one_backlog(client: httpx.AsyncClient, tokens: Tokens, jobs: int, probes: int) -> Run:
    probe = tokens(f"bench-probe-{secrets.token_hex(3)}")
    idle = [await latency_ms(client, probe) for _ in range(probes)]
    before = await counters(client)
    started = time.perf_counter()
    await post_turns(client, tokens(f"bench-backlog-{secrets.token_hex(3)}"), jobs)
    busy: list[float] = []
    while (now := await counters(client))["success"] - before["success"] < jobs:
        if time.perf_counter() - started > GIVE_UP_S:
            raise RuntimeError(f"the backlog of {jobs} jobs did not drain")
        busy.append(await latency_ms(client, probe))
        await asyncio.sleep(POLL_S)
    return Run(
        jobs=jobs,
        messages=(now["messages"] - before["messages"]) / jobs,
        parked=(now["parked"] - before["parked"]) / jobs,
        idle_ms=float(np.percentile(idle, 50)),
        busy_ms=float(np.percentile(busy, 50)) if busy else float("nan"),
        drain_s=time.perf_counter() - started,
    )


async def run(jobs: int, extract_ms: float, probes: int, console: Console) -> None:
    secret = secrets.token_urlsafe(32)
    tokens = Tokens(secret)
    settings = {"MEMVAULT_LLM_MODEL": "scripted", "MEMVAULT_VECTOR_STORE": "memory"}
    with slow_llm(extract_ms / 1000) as llm, tempfile.TemporaryDirectory() as tmp:
        settings["MEMVAULT_LLM_BASE_URL"] = llm
        async with (
            server(Path(tmp) / "data", "hashing", secret, settings) as base,
            httpx.AsyncClient(base_url=base, timeout=60) as client,
        ):
            runs = [await one_backlog(client, tokens, n, probes) for n in (jobs // 2, jobs)]
    print_runs(runs, extract_ms, console)


def print_runs(runs: Sequence[Run], extract_ms: float, console: Console) -> None:
    table = Table(title=f"one user's backlog (embedded serve, extraction {extract_ms:g} ms)")
    columns = (
        "jobs",
        "queue messages / job",
        "parked attempts / job",
        "API p50 idle ms",
        "API p50 in backlog ms",
        "backlog / idle",
        "drain s",
        "drain ms / job",
        "drain per job / extraction",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for r in runs:
        per_job_ms = r.drain_s * 1000 / r.jobs
        table.add_row(
            str(r.jobs),
            f"{r.messages:.2f}",
            f"{r.parked:.2f}",
            f"{r.idle_ms:.1f}",
            f"{r.busy_ms:.1f}",
            f"{r.busy_ms / r.idle_ms:.2f}",
            f"{r.drain_s:.1f}",
            f"{per_job_ms:.0f}",
            f"{per_job_ms / extract_ms:.1f}",
        )
    console.print(table)
    small, large = runs[0], runs[-1]
    console.print(
        f"drain time of {large.jobs} jobs / {small.jobs} jobs: "
        f"{large.drain_s / small.drain_s:.2f} (jobs ratio {large.jobs / small.jobs:.2f})"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backlog", description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--extract-ms", type=float, default=50.0)
    parser.add_argument("--probes", type=int, default=50)
    args = parser.parse_args(argv)
    asyncio.run(run(args.jobs, args.extract_ms, args.probes, Console()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
