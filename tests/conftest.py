"""Fixtures shared by every test folder."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from _pytest.nodeid import coerce_node_id  # pytest 9: a node's id is structured
from sqlalchemy.ext.asyncio import AsyncEngine

from memvault.adapters.sqlalchemy.engine import create_engine
from tests.databases import DIALECTS, fresh_database

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.milvus", "tests.fixtures.redis"]

T = TypeVar("T")


@pytest.hookimpl(trylast=True)  # after schemathesis and xdist made their items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules marked ``slow`` run first (each keeps its own order): under xdist
    (``make test``) a module runs whole on one worker, in this order, so a long drill
    starts early instead of ending the run alone while the other worker idles.

    xdist tells items apart by node id alone: schemathesis gives every operation's item
    its function's id (xdist would run the first only), so each takes its own name."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    counts = Counter(item.nodeid for item in items)
    for item in items:
        nodeid = item.nodeid
        if counts[nodeid] > 1:
            nodeid = f"{nodeid.rpartition('::')[0]}::{item.name}"
        if nodeid != item.nodeid:
            item._id = coerce_node_id(nodeid)  # type: ignore[attr-defined]


ONE_WORKER = {
    "tests/contract/test_vector_store_contract.py": "milvus-server",
    "tests/integration/test_vector_sync.py": "milvus-server",
}
"""Modules that must share one xdist worker, by what only one process per machine may
run: a Milvus 2.3.5 server (its embedded etcd's peer port is fixed, 2380). (xdist's own
``xdist_group`` mark does not reach the scheduler under pytest 9.)"""


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # pytest-xdist may be missing
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` (what ``make test`` runs), by module: each worker takes whole
    modules, as with ``loadfile`` (module-scoped servers and stacks start once), and the
    modules of one :data:`ONE_WORKER` group run on the same worker. Combine it with
    ``--no-loadscope-reorder`` to keep the order above (slow modules first)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByModuleOrGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return ONE_WORKER.get(module, module)

    return ByModuleOrGroup(config, log)


def off_loop(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a worker thread: alembic and the admin helpers start their own loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per dialect, made lazily the first time a test asks."""
    made: dict[str, str] = {}
    stack: list[object] = []
    tmp = tmp_path_factory.mktemp("db")

    class Lazy(dict[str, str]):
        def __missing__(self, dialect: str) -> str:
            manager = fresh_database(dialect, tmp)
            url = off_loop(manager.__enter__)
            stack.append(manager)
            self[dialect] = url
            return url

    lazy = Lazy(made)
    yield lazy
    for manager in reversed(stack):
        off_loop(lambda m=manager: m.__exit__(None, None, None))  # type: ignore[attr-defined]


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def engine(database_urls: dict[str, str], dialect: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_urls[dialect], pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
def user_id() -> str:
    """A user nobody else uses: tests isolate by unique ids, not by truncation."""
    return f"user-{uuid.uuid4().hex[:12]}"
