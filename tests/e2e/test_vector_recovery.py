"""The embedded server's vectors recover from crashes and from a lost store (docs/adr/0006):
real ``memvault serve`` and ``memvault reindex`` processes on a data
directory with the embedded Qdrant engine and the hashing embedder.

Searches use a query that only the vector path can answer, ranked by relevance alone
(no prior, so newer items cannot push the one found out of the type budget): a made-up codeword with
its last letter dropped is no word of the item (so the lexical index misses it) but
shares most character trigrams with it (so the hashing embedder finds it). An item
found that way has its vectors in the store.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from pydantic import SecretStr

from memvault.adapters.vector_store.qdrant_edge import QdrantEdgeVectorStore
from memvault.application.indexing.chunking import chunk_id, chunk_text
from memvault.application.memory_items.change_item import SetItemStatus
from memvault.application.memory_items.create_item import CreateItems, CreateItemsUseCase, NewItem
from memvault.application.ports.indexer import ItemIndexer
from memvault.application.ports.vector_store import VectorFilter, VectorRecord
from memvault.application.shared.documents import document_id
from memvault.container import (
    Container,
    Settings,
    build_infrastructure,
    close_infrastructure,
    migrate,
)
from memvault.domain.memory import MemoryItem
from memvault.entrypoints.http.auth import issue_token
from tests.e2e.test_serve_process import free_port

T = TypeVar("T")
SECRET = "vector-recovery-" + "x" * 48
DIMENSION = 2048
"""The hashing embedder's dimension: wide, so the codeword's trigrams rarely collide."""
BATCH = 25
KILL_WITHIN_S = 20
STARTUP_TIMEOUT_S = 60
SYNC_TIMEOUT_S = 120
"""A bound on waiting, not a timing claim: the sweeper runs every 0.3 s, but a loaded CI
machine can take tens of seconds to resync a few dozen items."""
LETTERS = "".join(c for c in string.ascii_lowercase if c != "s")
"""No "s": the lexical index drops a trailing "s", which would make the clipped word match."""


class CrashBeforeIndexing(ItemIndexer):
    """What a process killed right after the commit leaves: no vector write at all."""

    async def items_changed(self, items: Sequence[MemoryItem]) -> None:
        return None


@dataclass(frozen=True)
class Data:
    """A data directory and the environment `memvault` runs with on it."""

    root: Path
    port: int

    @property
    def env(self) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MEMVAULT_")}
        return inherited | {
            "MEMVAULT_DATA_DIR": str(self.root),
            "MEMVAULT_HOST": "127.0.0.1",
            "MEMVAULT_PORT": str(self.port),
            "MEMVAULT_AUTH_JWT_SECRET": SECRET,
            "MEMVAULT_EMBEDDER": "hashing",
            "MEMVAULT_HASHING_DIMENSION": str(DIMENSION),
            "MEMVAULT_VECTOR_STORE": "qdrant-edge",
            "MEMVAULT_VECTOR_RESYNC_GRACE_S": "1",
            "MEMVAULT_SWEEP_INTERVAL_S": "0.3",
            "MEMVAULT_RETRIEVAL_PRIOR_WEIGHT": "0",
            "MEMVAULT_RATE_LIMIT_PER_SECOND": "1000",
            "MEMVAULT_RATE_LIMIT_BURST": "1000",
            "MEMVAULT_LOG_LEVEL": "warning",
        }

    @property
    def settings(self) -> Settings:
        """The same data, opened by this test process (``Settings`` ignores the env)."""
        return Settings(
            data_dir=self.root,
            embedder="hashing",
            hashing_dimension=DIMENSION,
            vector_store="qdrant-edge",
            auth_jwt_secret=SecretStr(SECRET),
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def vectors(self) -> Path:
        return self.root / "vectors"

    def pending(self) -> int:
        with sqlite3.connect(self.root / "memvault.db", timeout=10) as conn:
            query = "SELECT count(*) FROM memory_items WHERE vector_status = 'pending'"
            return int(conn.execute(query).fetchone()[0])

    def rows(self) -> list[tuple[int, str, str, str]]:
        """(id, status, content, vector_status) of every item, read from the SQLite file."""
        with sqlite3.connect(self.root / "memvault.db", timeout=10) as conn:
            query = "SELECT id, status, content, vector_status FROM memory_items ORDER BY id"
            return [(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in conn.execute(query)]


def codeword(rng: random.Random, length: int = 12) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(length))


def note(word: str, rng: random.Random, *, words: int = 130) -> str:
    """``word`` five times, then distinct made-up words: about 950 characters, three
    chunks. (Repeated, the codeword stands out of its chunk's other hashed features;
    repeated real words as filler would weigh on a few buckets and drown it.)"""
    return " ".join([word] * 5 + [codeword(rng, 6) for _ in range(words)])


def headers(user: str, *, admin: bool = False) -> dict[str, str]:
    token = issue_token(SECRET, user, admin=admin, ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def serving(data: Data) -> Iterator[subprocess.Popen[str]]:
    """`memvault serve`, ready; stopped with SIGTERM on exit unless it is already dead.
    Its output goes to a file (a pipe nobody reads could fill up and block it)."""
    log_path = data.root.parent / "serve.log"
    with log_path.open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "memvault.entrypoints.cli", "serve"],
            env=data.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_ready(process, data.base, log_path)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(process: subprocess.Popen[str], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise AssertionError(f"serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"serve did not become ready in time:\n{log.read_text()}")
        time.sleep(0.1)


def memvault(data: Data, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "memvault.entrypoints.cli", *args],
        env=data.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What a command printed, with the console's line wrapping undone."""
    return " ".join((done.stdout + done.stderr).split())


def run_in_container(settings: Settings, work: Callable[[Container], Awaitable[T]]) -> T:
    """Run ``work(container)`` in this process on ``settings``, closing everything after."""

    async def main() -> T:
        infra = build_infrastructure(settings)
        try:
            return await work(infra.loops().current())
        finally:
            await infra.loops().close_current()
            await close_infrastructure(infra)

    return asyncio.run(main())


def plant_crashed_items(data: Data, user: str, contents: Sequence[str]) -> list[int]:
    """Items committed by a process that died before writing their vectors."""
    settings = data.settings.model_copy(update={"vector_store": "memory"})

    async def work(container: Container) -> list[int]:
        use_case = CreateItemsUseCase(container.uow(), container.clock(), CrashBeforeIndexing())
        new = [NewItem(memory_type="fact", content=text) for text in contents]
        items = await use_case(CreateItems(user_id=user, items=new, batch=True))
        return [item.id for item in items if item.id is not None]

    return run_in_container(settings, work)


def found_by_vector(data: Data, user: str, word: str) -> list[int]:
    """Ids the search returns for the codeword minus its last letter (dense path only)."""
    answer = httpx.post(
        f"{data.base}/api/v1/memory/search",
        json={"query": word[:-1], "limit": 20},
        headers=headers(user),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["degraded"] is False
    return [hit["id"] for hit in answer.json()["items"]]


def wait_until_every_item_is_synced(data: Data) -> list[tuple[int, str, str, str]]:
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while True:
        rows = data.rows()
        states = {(status, vector) for _, status, _, vector in rows}
        if states <= {("active", "synced"), ("deleted", "deleted")}:
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"items left unsynced: {sorted(states)}")
        time.sleep(0.2)


def store_chunks(data: Data, users: Sequence[str]) -> dict[str, dict[str, str]]:
    """document id → {chunk id: text} held by the embedded store (server stopped)."""

    async def read() -> dict[str, dict[str, str]]:
        store = QdrantEdgeVectorStore(data.vectors)
        await store.ensure_ready(DIMENSION)
        try:
            found: dict[str, dict[str, str]] = {}
            probe = [1.0] * DIMENSION
            for user in users:
                scope = VectorFilter(user_id=user)
                for hit in await store.search(probe, limit=10_000, filter=scope):
                    found.setdefault(hit.document_id, {})[hit.id] = hit.text
            assert set(found) == await store.document_ids(), "documents of unknown users"
            return found
        finally:
            await store.close()

    return asyncio.run(read())


def chunks_of_active_items(data: Data) -> dict[str, dict[str, str]]:
    wanted: dict[str, dict[str, str]] = {}
    for item_id, status, content, _ in data.rows():
        if status == "active":
            doc, pieces = document_id(item_id), chunk_text(content)
            wanted[doc] = {chunk_id(doc, n, len(pieces)): p for n, p in enumerate(pieces)}
    return wanted


def burst_of_creates(data: Data, user: str, rng: random.Random) -> int:
    """Four clients post batches of long notes while this thread watches the database;
    the server is killed with SIGKILL as soon as a committed item is seen whose vectors
    are not written yet. Returns how many items the kill left ``pending``."""
    batches = [[note(codeword(rng), rng) for _ in range(BATCH)] for _ in range(200)]
    acknowledged = threading.Semaphore(0)
    stop = threading.Event()

    def post(mine: list[list[str]]) -> None:
        with httpx.Client(base_url=data.base, headers=headers(user), timeout=10) as client:
            for batch in mine:
                items = [{"memory_type": "fact", "content": text} for text in batch]
                try:
                    answer = client.post("/api/v1/memory/items/batch", json={"items": items})
                except httpx.TransportError:
                    return
                if stop.is_set():
                    return
                assert answer.status_code == 201, answer.text
                acknowledged.release()

    with serving(data) as process, ThreadPoolExecutor(4) as pool:
        running = [pool.submit(post, batches[n::4]) for n in range(4)]
        assert acknowledged.acquire(timeout=30), "the server acknowledged nothing"
        deadline = time.monotonic() + KILL_WITHIN_S
        while data.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.wait()
        stop.set()
        for future in running:
            future.result()
    return data.pending()


def codeword_of(content: str) -> str:
    return content.split(" ", 1)[0]


@pytest.mark.timeout(2 * STARTUP_TIMEOUT_S + SYNC_TIMEOUT_S + 60)  # its bounds, not 120 s
def test_items_a_crash_left_without_vectors_are_synced_by_the_sweeper_after_restart(
    tmp_path: Path,
) -> None:
    data = Data(tmp_path / "data", free_port())
    rng = random.Random(11)
    user = "crash-user"
    assert burst_of_creates(data, user, rng) > 0, (
        "no item was caught between its commit and its vectors"
    )
    planted = plant_crashed_items(data, user, [note(codeword(rng), rng) for _ in range(5)])
    pending = {item_id for item_id, _, _, vector in data.rows() if vector == "pending"}
    assert set(planted) <= pending

    with serving(data):
        rows = wait_until_every_item_is_synced(data)
        assert {item_id for item_id, *_ in rows} >= set(planted)
        for item_id, _, content, _ in rows:
            assert item_id in found_by_vector(data, user, codeword_of(content))

    assert store_chunks(data, [user]) == chunks_of_active_items(data)


def make_items(data: Data, user: str, contents: Sequence[str], *, deleted: int) -> list[int]:
    """Items created as `serve` would, vectors included; the ``deleted``-th is deleted."""
    migrate(data.settings)

    async def work(container: Container) -> list[int]:
        new = [NewItem(memory_type="fact", content=text) for text in contents]
        items = await container.create_items()(CreateItems(user_id=user, items=new, batch=True))
        ids = [item.id for item in items if item.id is not None]
        await container.delete_item()(SetItemStatus(user_id=user, item_id=ids[deleted]))
        return ids

    return run_in_container(data.settings, work)


def plant_orphans(data: Data, user: str, document_ids: Sequence[str]) -> None:
    async def plant() -> None:
        store = QdrantEdgeVectorStore(data.vectors)
        await store.ensure_ready(DIMENSION)
        try:
            await store.upsert(
                [
                    VectorRecord(
                        id=doc,
                        document_id=doc,
                        chunk_order=0,
                        vector=[0.5] * DIMENSION,
                        text="stale",
                        user_id=user,
                        memory_type="fact",
                    )
                    for doc in document_ids
                ]
            )
        finally:
            await store.close()

    asyncio.run(plant())


@pytest.mark.timeout(2 * STARTUP_TIMEOUT_S + SYNC_TIMEOUT_S + 60)  # its bounds, not 120 s
def test_reindex_rebuilds_a_lost_store_directly_or_through_the_running_server(
    tmp_path: Path,
) -> None:
    data = Data(tmp_path / "data", free_port())
    rng = random.Random(5)
    user = "reindex-user"
    words = [codeword(rng) for _ in range(6)]
    contents = [note(w, rng) if n % 2 else f"{w} is the short one" for n, w in enumerate(words)]
    ids = make_items(data, user, contents, deleted=1)
    shutil.rmtree(data.vectors)
    plant_orphans(data, user, ["memory:999999", document_id(ids[1])])

    direct = memvault(data, "reindex")
    assert direct.returncode == 0, direct.stdout + direct.stderr
    # The deleted item's stale document goes as the item is re-synced; the unknown one
    # is an orphan.
    assert "reindexed 6 items (5 searchable), removed 1 orphaned documents" in said(direct)
    assert store_chunks(data, [user]) == chunks_of_active_items(data)

    with serving(data):
        for n, (item_id, word) in enumerate(zip(ids, words, strict=True)):
            assert (item_id in found_by_vector(data, user, word)) is (n != 1)
        through_server = memvault(data, "reindex")
        assert through_server.returncode == 0, through_server.stdout + through_server.stderr
        assert f"asking the running server at {data.base}" in said(through_server)
        assert "'removed_orphans': 0" in said(through_server)


def test_reindex_with_the_store_held_and_no_server_says_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    data = Data(tmp_path / "data", free_port())
    make_items(data, "held-user", ["likes jazz", "lives in Lyon"], deleted=0)

    async def hold_and_reindex() -> subprocess.CompletedProcess[str]:
        holder = QdrantEdgeVectorStore(data.vectors)
        await holder.ensure_ready(DIMENSION)
        try:
            return await asyncio.to_thread(memvault, data, "reindex")
        finally:
            await holder.close()

    held = asyncio.run(hold_and_reindex())
    assert held.returncode != 0
    assert "held by another memvault process" in said(held)
    assert "Traceback" not in held.stdout + held.stderr
