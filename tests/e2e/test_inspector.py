"""The memory inspector at ``/ui`` in headless Chromium against a real ``memvault serve``.

Each test drives the page as a person would (clicks, typing, the keyboard) and checks the
result through the JSON API, so a page that only looks right fails. Screenshots go to
``.test-artifacts/inspector/`` (git-ignored) for a human to look at.

One server, one browser and one browser context serve the whole module; a person's page
is signed in once (``person``) and shared by the tests that act as that person, each on
data of its own. Every wait is on a condition the page shows, never a fixed sleep.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright for Python (the dev
extra); ``playwright install`` is never used.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from memvault.application.ports.repositories import DeadEvent
from memvault.container import Settings, build_infrastructure, migrate
from memvault.domain.jobs import ExtractionJob, JobStatus
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.entrypoints.http.auth import issue_token
from tests.clients.live_server import ROOT, SECRET, LiveServer, live_server
from tests.clients.switchable_proxy import switchable_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = ROOT / ".test-artifacts" / "inspector"
AXE = Path(__file__).with_name("axe.min.js")
API = "/api/v1/memory"
ADMIN = "/api/v1/admin"
WAIT_MS = 60_000
"""An upper bound for the pipeline to finish a job, not a timing claim."""


# ------------------------------------------------------------------ fixtures


@dataclass(frozen=True)
class DeadWork:
    """What ``seed_dead_work`` left for the operators: a dead job per user, one dead
    outbox row (of the first user), one bus event the consumer could not handle."""

    rid: str
    jobs: dict[str, int]
    outbox_id: int

    def user(self, name: str) -> str:
        return f"{name}-{self.rid}"


@dataclass(frozen=True)
class Person:
    """A page signed in once as ``user``, shared by the tests that act as that user."""

    page: Page
    user: str
    token: str


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("inspector") / "data"


@pytest.fixture(scope="module")
def dead(data_dir: Path) -> DeadWork:
    rid = uuid.uuid4().hex[:8]
    names = ["op-a", "op-b", "op-c", "bob", "narrow-" + "z" * 60]
    users = [f"{name}-{rid}" for name in names]
    # Playwright's sync API may already run a loop on this thread: seed from another one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(seed_dead_work, data_dir, users, rid).result()


@pytest.fixture(scope="module")
def server_starting(data_dir: Path, dead: DeadWork) -> Iterator[Future[LiveServer]]:
    """The server, starting in another thread while the browser starts here."""
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=1) as pool:
        yield pool.submit(stack.enter_context, live_server(data_dir))


@pytest.fixture(scope="module")
def server(server_starting: Future[LiveServer], browser: Browser) -> LiveServer:
    return server_starting.result()


@pytest.fixture(scope="module")
def playwright(server_starting: Future[LiveServer]) -> Iterator[Playwright]:
    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium)"
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as running:
        yield running
    expect.set_options(timeout=5_000)


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


def new_context(browser: Browser, *, width: int, height: int) -> BrowserContext:
    made = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id="UTC", accept_downloads=True
    )
    made.set_default_timeout(WAIT_MS)
    return made


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = new_context(browser, width=1280, height=900)
    yield made
    made.close()


SCRIPT_ERRORS: list[str] = []


def watched(page: Page) -> Page:
    """The page, its uncaught script errors recorded for ``no_script_errors``."""
    page.on("pageerror", lambda error: SCRIPT_ERRORS.append(str(error)))
    return page


@pytest.fixture(autouse=True)
def no_script_errors() -> Iterator[None]:
    SCRIPT_ERRORS.clear()
    yield
    assert not SCRIPT_ERRORS, SCRIPT_ERRORS


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    made = watched(context.new_page())
    yield made
    made.close()


@pytest.fixture(scope="module")
def person(context: BrowserContext, server: LiveServer) -> Iterator[Callable[..., Person]]:
    """``person(name, admin=False)``: that user's page, signed in on first use."""
    rid = uuid.uuid4().hex[:8]
    people: dict[tuple[str, bool], Person] = {}

    def signed_in(name: str, *, admin: bool = False) -> Person:
        if (name, admin) not in people:
            user = f"{name}-{rid}"
            token = server.token(user, admin=admin)
            page = watched(context.new_page())
            sign_in(page, server.url, token)
            people[name, admin] = Person(page=page, user=user, token=token)
        return people[name, admin]

    yield signed_in
    for someone in people.values():
        someone.page.close()


@pytest.fixture
def rid() -> str:
    return "r" + uuid.uuid4().hex[:8]


# ------------------------------------------------------------------ helpers


def shot(target: Page | Locator, name: str, *, full_page: bool = False) -> None:
    """A screenshot of a section (a locator) or of what the window shows: whole pages
    (``full_page``) are kept for the 375 px check, as they cost seconds to encode."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = str(ARTIFACTS / f"{name}.png")
    if isinstance(target, Page):
        target.screenshot(path=path, full_page=full_page)
    else:
        target.screenshot(path=path)


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api(server: LiveServer, token: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{server.url}{path}", headers=headers(token), **kw)
    assert response.is_success, response.text
    return response.json()


def sign_in(
    page: Page, url: str, token: str, *, act_for: str = "", wait: bool = True, load: bool = True
) -> None:
    """Through the sign-in form; ``load=False`` uses the form the page shows already."""
    if load:
        page.goto(f"{url}/ui")
    page.get_by_label("Bearer token or API key").fill(token)
    page.get_by_label("Act for user").fill(act_for)
    page.get_by_role("button", name="Use token").click()
    if wait:
        expect(page.locator("#app")).to_be_visible()
        expect(page.locator("#memories-status")).to_contain_text("memories")


def card(page: Page, scope: str, item_id: int) -> Locator:
    return page.locator(f"{scope} li[data-id='{item_id}']")


def apply_filter(
    page: Page, *, status: str = "", memory_type: str = "", metadata: str = ""
) -> None:
    page.get_by_label("Filter by status").select_option(status)
    page.get_by_label("Filter by type").select_option(memory_type)
    page.get_by_label("Filter by metadata").fill(metadata)
    page.get_by_role("button", name="Apply filter").click()


def search(page: Page, query: str, *, metadata: str = "") -> None:
    page.get_by_label("Query").fill(query)
    page.get_by_label("Only with metadata").fill(metadata)
    page.get_by_role("button", name="Search", exact=True).click()


def send_chat(page: Page, message: str, *, metadata: str = "") -> None:
    page.get_by_label("Message", exact=True).fill(message)
    page.get_by_label("Metadata for what it teaches").fill(metadata)
    page.get_by_role("button", name="Send message").click()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))"""
    )
    return found


def no_sideways_scroll(page: Page) -> None:
    widths = page.evaluate(
        "({scroll: document.documentElement.scrollWidth, view: window.innerWidth})"
    )
    assert widths["scroll"] <= widths["view"], widths


def ids_on(locator: Locator) -> set[int]:
    return {int(i) for i in locator.evaluate_all("els => els.map(e => e.dataset.id)")}


def wait_for_jobs(server: LiveServer, token: str) -> None:
    """Until none of the user's jobs is still queued or running (bounded by ``WAIT_MS``)."""
    give_up = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < give_up:
        jobs = api(server, token, "GET", f"{API}/jobs")["items"]
        if all(j["status"] in ("success", "dead") for j in jobs):
            return
        time.sleep(0.1)
    pytest.fail("the user's jobs did not finish")


def seed_dead_work(data_dir: Path, users: list[str], rid: str) -> DeadWork:
    """Dead jobs (one per user) and a dead outbox row, written into the data dir before
    the server starts (SQLite has one writer process at a time): the states an operator
    must see, without waiting out real retries."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=None)
    migrate(settings)
    infra = build_infrastructure(settings)
    now = datetime.now(UTC)

    async def run() -> DeadWork:
        container = infra.loops().current()
        try:
            async with container.uow()() as uow:
                jobs = {}
                for user in users:
                    job = ExtractionJob(
                        user_id=user,
                        conversation_id=f"c-{rid}",
                        source_message_id=f"m-{user}",
                        idempotency_key=f"memory_extract_dead_{user}",
                        payload_json="{}",
                        max_retry=3,
                        status=JobStatus.DEAD,
                        retry_count=3,
                        last_error=f"ExtractionError: model timed out for {user}",
                        created_at=now,
                        updated_at=now,
                    )
                    job_id = await uow.jobs.add_unless_exists(job)
                    assert job_id is not None
                    jobs[user] = job_id
                row = await uow.outbox.add(
                    OutboxMessage(
                        event_type="memory.extract.requested",
                        topic="memory.extract",
                        message_key=f"dead-{rid}",
                        payload="{}",
                        user_id=users[0],
                        status=OutboxStatus.DEAD,
                        retry_count=5,
                        last_error=f"broker refused the event {rid}",
                        created_at=now,
                        updated_at=now,
                        next_retry_at=now,
                    )
                )
                await uow.events.add_dead(
                    DeadEvent(
                        topic="memory.extract",
                        event_id=f"ev-{rid}",
                        event_type="memory.extract.requested",
                        raw_payload="{not json",
                        reason=f"payload is not JSON {rid}",
                        created_at=now,
                    )
                )
                await uow.commit()
            assert row.id is not None
            return DeadWork(rid=rid, jobs=jobs, outbox_id=row.id)
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


# ------------------------------------------------------------------ the user's page


def save_memory(page: Page, **fields: str) -> None:
    """Fill the editor's named fields (``memory_type``, ``content``, ``metadata``,
    ``occurred``, ``reason``) and save."""
    if "memory_type" in fields:
        page.get_by_label("Memory type").select_option(fields["memory_type"])
    labels = {
        "content": "Content",
        "metadata": "Metadata (key=value, one per line",
        "occurred": "When it was said",
        "reason": "Reason for the change",
    }
    for name, label in labels.items():
        if name in fields:
            page.get_by_label(label).fill(fields[name])
    page.get_by_role("button", name="Save memory").click()


def test_memories_with_metadata_and_time_are_grouped_filtered_edited_and_audited(
    person: Callable[..., Person], server: LiveServer, rid: str
) -> None:
    ana = person("ana")
    page = ana.page
    save_memory(
        page,
        memory_type="preference",
        content=f"prefers window seats {rid}",
        metadata=f"project=apollo-{rid}\nn=1",
        occurred="2024-05-06T07:08",
    )
    expect(page.locator("#editor-status")).to_contain_text("Created memory")
    save_memory(page, memory_type="fact", content=f"lives in Lisbon {rid}", metadata="")
    expect(page.locator("#editor-status")).to_contain_text("Created memory")
    mine = [
        i
        for i in api(server, ana.token, "GET", f"{API}/items?limit=100")["items"]
        if rid in i["content"]
    ]
    ids = {i["memory_type"]: i["id"] for i in mine}
    pref, fact = ids["preference"], ids["fact"]
    stored = api(server, ana.token, "GET", f"{API}/items/{pref}")
    assert stored["metadata"] == {"project": f"apollo-{rid}", "n": 1}
    assert stored["occurred_at"].startswith("2024-05-06T07:08"), stored
    pref_card = card(page, "[data-type=preference]", pref)
    # The API keeps the pairs in key order.
    expect(pref_card.locator(".tags li")).to_have_text(["n=1", f"project=apollo-{rid}"])
    expect(pref_card.locator("time")).to_have_text("2024-05-06 07:08 UTC")
    expect(card(page, "[data-type=fact]", fact)).to_contain_text(f"Lisbon {rid}")

    page.get_by_role("button", name=f"Edit memory {pref}").click()
    expect(page.get_by_label("Metadata (key=value, one per line")).to_have_value(
        f"n=1\nproject=apollo-{rid}"
    )
    expect(page.get_by_label("When it was said")).to_be_disabled()
    save_memory(
        page,
        content=f"prefers aisle seats {rid}",
        metadata=f'project=apollo-{rid}\nn="1"\nnote="a, b"',
        reason="the user corrected it",
    )
    expect(page.locator("#editor-status")).to_have_text(f"Saved memory {pref}.")
    stored = api(server, ana.token, "GET", f"{API}/items/{pref}")
    assert stored["content"] == f"prefers aisle seats {rid}"
    assert stored["metadata"] == {"project": f"apollo-{rid}", "n": "1", "note": "a, b"}
    expect(pref_card.locator(".tags li")).to_have_text(
        ['n="1"', 'note="a, b"', f"project=apollo-{rid}"]
    )

    # The metadata filter is the API's: JSON equality, so the text "1" is not the number 1.
    listed = page.locator("#memory-groups li[data-id]")
    apply_filter(page, metadata=f"project=apollo-{rid}, n=1")
    expect(page.locator("#memories-status")).to_have_text("0 memories.")
    apply_filter(page, metadata=f'project=apollo-{rid}, n="1"')
    expect(listed).to_have_count(1)
    expect(pref_card).to_be_visible()
    shot(page.locator("#memories"), "memories-metadata-filter")
    apply_filter(page, metadata="no pair here")
    expect(page.locator("#memories-status")).to_contain_text('"no pair here" is not key=value')

    apply_filter(page, status="active")
    page.get_by_role("button", name=f"Delete memory {fact}").click()
    expect(page.locator("#memories-status")).to_have_text(f"Deleted memory {fact}.")
    assert api(server, ana.token, "GET", f"{API}/items/{fact}")["status"] == "deleted"
    apply_filter(page, status="deleted")
    expect(card(page, "#memory-groups", fact)).to_contain_text("deleted")
    expect(card(page, "#memory-groups", pref)).to_have_count(0)
    page.get_by_role("button", name=f"Restore memory {fact}").click()
    expect(page.locator("#memories-status")).to_have_text(f"Restored memory {fact}.")
    assert api(server, ana.token, "GET", f"{API}/items/{fact}")["status"] == "active"
    apply_filter(page, memory_type="fact")
    expect(page.locator("#memory-groups [data-type=preference]")).to_have_count(0)
    expect(card(page, "[data-type=fact]", fact)).to_be_visible()
    apply_filter(page)
    expect(pref_card).to_be_visible()
    shot(page.locator("#memories"), "memories-grouped")

    page.get_by_role("button", name=f"History memory {pref}").click()
    history = page.locator("#history-list > li")
    expect(history).to_have_count(2)
    update = history.nth(1)
    expect(update).to_contain_text("update")
    expect(update).to_contain_text(f"user {ana.user}")
    expect(update).to_contain_text("Why: the user corrected it")
    expect(update).to_contain_text(re.compile(r"Changed: .*content.*metadata|metadata.*content"))
    expect(update.locator("figure").nth(0)).to_contain_text(f"window seats {rid}")
    expect(update.locator("figure").nth(1)).to_contain_text(f"aisle seats {rid}")
    expect(update.locator("time")).to_have_attribute("datetime", re.compile(r"\d{4}-"))
    shot(page.locator("#history"), "memory-history")
    page.get_by_role("button", name="Close history").click()


def test_search_shows_the_api_ranking_each_score_and_filters_by_metadata(
    person: Callable[..., Person], server: LiveServer, rid: str
) -> None:
    ana = person("ana")
    page = ana.page
    for content, metadata in [
        (f"green tea every morning {rid}", {"topic": rid}),
        (f"green tea and green apples {rid}", {}),
        (f"black coffee at night {rid}", {"topic": rid}),
    ]:
        body = {"memory_type": "fact", "content": content, "metadata": metadata}
        api(server, ana.token, "POST", f"{API}/items", json=body)
    for metadata in ("", f"topic={rid}"):
        search(page, f"green tea {rid}", metadata=metadata)
        body: dict[str, Any] = {"query": f"green tea {rid}", "limit": 20}
        if metadata:
            body["metadata"] = {"topic": rid}
        expected = api(server, ana.token, "POST", f"{API}/search", json=body)["items"]
        assert expected, "the API found nothing to compare with"
        hits = page.locator("#search-results > li")
        expect(page.locator("#search-status")).to_have_text(f"{len(expected)} hits.")
        expect(hits).to_have_count(len(expected))
        for n, hit in enumerate(expected):
            expect(hits.nth(n)).to_have_attribute("data-id", str(hit["id"]))
            expect(hits.nth(n).locator(".score")).to_have_text(f" · score {hit['score']:.4f}")
    expect(hits.locator(".tags li")).to_have_text([f"topic={rid}"] * len(expected))
    shot(page.locator("#search"), "search-scores")


def test_a_chat_message_shows_its_job_states_each_facts_outcome_then_settings_and_export(
    page: Page, server: LiveServer, rid: str
) -> None:
    user = f"max-{rid}"
    token = server.token(user)
    sign_in(page, server.url, token)
    send_chat(page, "I love sushi", metadata=f"source=chat-{rid}")
    states = page.locator("#chat-states > li")
    expect(states.last).to_have_text("success")
    assert states.all_inner_texts()[0] == "queued", states.all_inner_texts()
    (job,) = api(server, token, "GET", f"{API}/jobs")["items"]
    (memory_id,) = job["memory_ids"]
    expect(page.locator("#chat-status")).to_have_text(
        f"Job {job['id']}: success, 1 memories produced."
    )
    expect(page.locator("#chat-outcomes > li")).to_have_text(
        [f"preference “Likes: sushi”: added (memory {memory_id})"]
    )
    produced = card(page, "#chat-memories", memory_id)
    expect(produced.locator(".tags li")).to_have_text([f"source=chat-{rid}"])
    expect(produced.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    item = api(server, token, "GET", f"{API}/items/{memory_id}")
    assert item["metadata"] == {"source": f"chat-{rid}"}, item
    shot(page.locator("#chat"), "chat-job-added")

    outcomes = page.locator("#chat-outcomes > li")
    for message, outcome in [
        ("Sushi is my favourite food", "duplicate"),
        ("I am allergic to peanuts", "skipped: sensitive"),
        ("my bank card password is 4512", "skipped: secret"),
    ]:
        send_chat(page, message)
        expect(outcomes).to_have_attribute("data-outcome", outcome)
        expect(page.locator("#chat-status")).to_contain_text("success, 0 memories produced.")
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    assert "4512" not in page.locator("body").inner_text()
    shot(page.locator("#chat"), "chat-job-secret")

    expect(page.get_by_label("Implicit memories")).to_be_checked()
    page.get_by_label("Implicit memories").uncheck()
    page.get_by_label("Sensitive memories").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-status")).to_have_text("Settings saved.")
    settings = api(server, token, "GET", f"{API}/settings")
    assert settings["implicit_memory_enabled"] is False
    assert settings["sensitive_memory_enabled"] is True
    assert settings["memory_enabled"] is True
    send_chat(page, "I love jazz")
    expect(outcomes).to_have_attribute("data-outcome", "skipped: implicit memory off")
    jobs = api(server, token, "GET", f"{API}/jobs")["items"]
    every_outcome = ["added", "duplicate", "skipped: sensitive", "skipped: secret"]
    every_outcome.append("skipped: implicit memory off")
    assert sorted(o["outcome"] for j in jobs for o in j["outcomes"]) == sorted(every_outcome)
    shot(page.locator("#chat"), "chat-job-implicit-off")

    api(server, token, "DELETE", f"{API}/items/{memory_id}")
    kept = api(server, token, "POST", f"{API}/items", json={"memory_type": "fact", "content": rid})
    with page.expect_download() as download:
        page.get_by_role("button", name="Export memories").click()
    saved = download.value
    assert saved.suggested_filename == "memvault-export.json"
    exported = json.loads(Path(saved.path()).read_text())
    assert {m["id"] for m in exported} == {kept["id"], memory_id}
    expect(page.locator("#export-status")).to_contain_text("Exported 2 memories")
    shot(page.locator("#settings"), "settings")
    shot(page.locator("#export"), "export")


def test_the_page_works_with_the_keyboard_alone_and_shows_where_focus_is(
    page: Page, server: LiveServer, rid: str
) -> None:
    user = f"kim-{rid}"
    page.goto(f"{server.url}/ui")

    def tab_to(element_id: str) -> None:
        for _ in range(80):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => { const e = document.activeElement, s = getComputedStyle(e);
                return {id: e.id, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
                        body: e === document.body} }"""
            )
            if not focused["body"]:
                assert focused["outline"] != "none", focused
                assert focused["width"] >= 2, focused
            if focused["id"] == element_id:
                return
        pytest.fail(f"Tab never reached #{element_id}")

    tab_to("token")
    page.keyboard.type(server.token(user))
    page.keyboard.press("Enter")
    expect(page.locator("#app")).to_be_visible()
    tab_to("memory-content")
    page.keyboard.type(f"typed with the keyboard {rid}")
    tab_to("memory-metadata")
    page.keyboard.type("source=keyboard")
    tab_to("memory-save")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-status")).to_contain_text("Created memory")
    (item,) = api(server, server.token(user), "GET", f"{API}/items")["items"]
    assert item["content"] == f"typed with the keyboard {rid}"
    assert item["metadata"] == {"source": "keyboard"}
    tab_to("search-query")
    page.keyboard.type("keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#search-results li[data-id]")).to_have_count(1)
    shot(page, "keyboard-focus")


# ------------------------------------------------------------------ operators


def test_operators_retry_dead_work_and_see_the_pipelines_health(
    person: Callable[..., Person], dead: DeadWork
) -> None:
    users = [dead.user("op-a"), dead.user("op-b"), dead.user("op-c")]
    job_ids = [dead.jobs[user] for user in users]
    outbox_id = dead.outbox_id
    page = person("root", admin=True).page
    expect(page.locator("#operator")).to_be_visible()
    expect(page.locator("#ready-status")).to_have_text("Ready: every dependency answers.")
    expect(page.locator("#job-counts dt")).to_contain_text(["Jobs pending", "Jobs dead"])
    dead_count = page.locator("#job-counts dt:text('Jobs dead') + dd")
    expect(dead_count).to_have_text(re.compile(r"^\d+\+?$"))
    assert int(dead_count.inner_text().rstrip("+")) >= len(job_ids)
    for job_id, user in zip(job_ids, users, strict=True):
        row = card(page, "#dead-jobs-list", job_id)
        expect(row).to_contain_text(f"of user {user}")
        expect(row).to_contain_text(f"Reason: ExtractionError: model timed out for {user}")
    outbox = card(page, "#dead-outbox-list", outbox_id)
    expect(outbox).to_contain_text(f"Reason: broker refused the event {dead.rid}")
    expect(page.locator("#dead-bus-list")).to_contain_text(
        f"Reason: payload is not JSON {dead.rid}"
    )
    shot(page.locator("#operator"), "operator-dead-work")

    page.get_by_role("button", name=f"Retry job {job_ids[0]}").click()
    expect(page.locator("#dead-jobs-status")).to_contain_text(
        f"Retried 1 of 1 jobs: {job_ids[0]} →"
    )
    page.get_by_label(f"Job {job_ids[1]} of user").check()
    page.get_by_label(f"Job {job_ids[2]} of user").check()
    page.get_by_role("button", name="Retry selected jobs").click()
    expect(page.locator("#dead-jobs-status")).to_contain_text("Retried 2 of 2 jobs")
    for job_id in job_ids:
        expect(page.locator("#dead-jobs-status")).not_to_contain_text(f"{job_id} failed")
    expect(page.locator("#dead-jobs-status")).to_contain_text(f"{job_ids[2]} → pending")
    page.get_by_role("button", name="Select all dead events").click()
    page.get_by_role("button", name="Retry selected events").click()
    expect(page.locator("#dead-outbox-status")).to_contain_text(f"{outbox_id} → pending")
    shot(page.locator("#operator"), "operator-retried")


def create_key(page: Page, name: str, scope: str, *, days: str = "") -> str:
    page.get_by_label("Key name").fill(name)
    page.get_by_label("Scope").fill(scope)
    page.get_by_label("Expires after").fill(days)
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#keys-status")).to_have_text(f"Created key {name}.")
    secret = page.get_by_label("New key")
    expect(secret).to_have_value(re.compile(r"^mv_"))
    return secret.input_value()


def test_operators_create_list_and_revoke_api_keys_that_sign_in_to_the_page(
    person: Callable[..., Person], server: LiveServer, page: Page, rid: str
) -> None:
    root = person("root", admin=True).page
    key = create_key(root, f"ui-key-{rid}", f"user:keyed-{rid}", days="30")
    listed = root.locator("#key-list > li", has_text=f"ui-key-{rid}")
    expect(listed).to_contain_text(f"user:keyed-{rid}")
    expect(listed).to_contain_text(re.compile(r"expires \d{4}-\d\d-\d\d .*never used"))
    (made,) = [
        k
        for k in api(server, root_token(root), "GET", f"{ADMIN}/keys")["items"]
        if k["name"] == f"ui-key-{rid}"
    ]
    assert made["expires_at"] is not None
    assert made["scope"] == f"user:keyed-{rid}"
    assert key not in root.locator("#key-list").inner_text(), "the list shows a secret"
    shot(root.locator("#keys"), "operator-keys")

    # A service key acts for the user named at sign-in; changes are audited under its name.
    service = create_key(root, f"svc-{rid}", "service")
    expect(root.locator("#key-secret-value")).to_have_value(service)
    sign_in(page, server.url, service, act_for=f"carol-{rid}")
    save_memory(page, memory_type="fact", content=f"set through a key {rid}")
    expect(page.locator("#editor-status")).to_contain_text("Created memory")
    (item,) = api(server, server.token(f"carol-{rid}"), "GET", f"{API}/items")["items"]
    page.get_by_role("button", name=f"History memory {item['id']}").click()
    expect(page.locator("#history-list > li")).to_contain_text(f"by service svc-{rid}")
    # Without a user the service key cannot act; the admin key opens the operator view.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("alert")).to_contain_text("Signed out")
    sign_in(page, server.url, service, wait=False, load=False)
    expect(page.get_by_role("alert")).to_contain_text('fill in "Act for user"')
    admin_key = create_key(root, f"ops-{rid}", "admin")
    sign_in(page, server.url, admin_key, wait=False, load=False)
    expect(page.locator("#operator")).to_be_visible()
    expect(page.locator("#who")).to_contain_text("operator view only")
    expect(page.locator("#memories")).to_be_hidden()
    expect(card(page, "#key-list", made["id"])).to_contain_text(f"ui-key-{rid}")
    shot(page, "admin-key-operator-view")

    root.get_by_role("button", name=f"Revoke key ui-key-{rid}").click()
    expect(root.locator("#keys-status")).to_have_text(f"Revoked key ui-key-{rid}.")
    expect(root.locator("#key-secret")).to_be_hidden()
    expect(listed).to_contain_text("revoked")
    refused = httpx.get(f"{server.url}{API}/settings", headers=headers(key))
    assert refused.status_code == 401
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server.url, key, wait=False, load=False)
    expect(page.get_by_role("alert")).to_contain_text("expired or is not valid")


def root_token(page: Page) -> str:
    token: str = page.evaluate("sessionStorage.getItem('memvault.token')")
    return token


# ------------------------------------------------------------------ two users


def test_a_users_page_shows_nothing_of_another_user(
    page: Page, person: Callable[..., Person], server: LiveServer, dead: DeadWork, rid: str
) -> None:
    alice, bob = f"alice-{rid}", dead.user("bob")
    shared = f"shared words {rid}"
    for user in (alice, bob):
        token = server.token(user)
        for memory_type in ("preference", "fact"):
            body = {
                "memory_type": memory_type,
                "content": f"{shared} secret-of-{user}",
                "metadata": {"team": rid},
            }
            api(server, token, "POST", f"{API}/items", json=body)
        body = {
            "conversation_id": f"c-{rid}",
            "messages": [{"role": "user", "content": f"Remember that I prefer tea {user}"}],
            "metadata": {"team": rid},
        }
        api(server, token, "POST", f"{API}/messages", json=body)

    bodies: list[str] = []
    page.on("response", lambda r: bodies.append(r.text()) if "/api/" in r.url and r.ok else None)
    sign_in(page, server.url, server.token(alice))
    page.get_by_label("Message", exact=True).fill("Remember that I prefer coffee")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator("#chat-states > li").last).to_have_text("success")
    for user in (alice, bob):
        wait_for_jobs(server, server.token(user))
    every = "?statuses=active,archived,deleted&limit=100"
    bob_ids = {
        i["id"] for i in api(server, server.token(bob), "GET", f"{API}/items{every}")["items"]
    }
    alice_items = api(server, server.token(alice), "GET", f"{API}/items{every}")["items"]
    apply_filter(page)
    expect(page.locator("#memory-groups li[data-id]")).to_have_count(len(alice_items))
    apply_filter(page, metadata=f"team={rid}")
    teamed = [i for i in alice_items if i["metadata"].get("team") == rid]
    expect(page.locator("#memory-groups li[data-id]")).to_have_count(len(teamed))
    search(page, shared, metadata=f"team={rid}")
    hits = api(
        server,
        server.token(alice),
        "POST",
        f"{API}/search",
        json={"query": shared, "metadata": {"team": rid}},
    )
    expect(page.locator("#search-results > li")).to_have_count(len(hits["items"]))
    expect(page.locator("#operator")).to_be_hidden()
    shown = page.locator("body").inner_text()
    assert f"secret-of-{alice}" in shown
    assert bob not in shown
    assert not ids_on(page.locator("[data-id]")) & bob_ids
    assert bodies, "the page made no API calls"
    assert not [b for b in bodies if bob in b], "an API answer to alice's page named bob"
    shot(page.locator("#memories"), "two-users-alice")
    shot(page.locator("#search"), "two-users-alice-search")

    root = person("root", admin=True).page
    apply_filter(root)
    expect(root.locator("#memories-status")).to_have_text("0 memories.")
    # Operators may see every user's dead work, attributed to its user: that is their job.
    expect(root.locator("#dead-jobs-list")).to_contain_text(f"of user {bob}")
    assert f"secret-of-{bob}" not in root.locator("body").inner_text()
    shot(root.locator("#dead-jobs"), "two-users-operator")


# ------------------------------------------------------------------ failures and a11y


def test_a_missing_or_expired_token_or_a_stopped_server_gives_a_clear_message(
    page: Page, server: LiveServer, rid: str
) -> None:
    page.goto(f"{server.url}/ui")
    expect(page.get_by_role("alert")).to_contain_text("No token")
    expect(page.get_by_label("Bearer token or API key")).to_be_visible()
    shot(page, "no-token")

    expired = issue_token(SECRET, f"old-{rid}", ttl=timedelta(seconds=-60))
    sign_in(page, server.url, expired, wait=False, load=False)
    expect(page.get_by_role("alert")).to_contain_text("expired or is not valid")
    expect(page.locator("#app")).to_be_hidden()
    shot(page, "expired-token")

    port = int(server.url.rsplit(":", 1)[1])
    with switchable_proxy(port) as proxy:
        sign_in(page, proxy.url, server.token(f"late-{rid}"))
        proxy.switch_off()
        page.get_by_role("button", name="Apply filter").click()
        expect(page.get_by_role("alert")).to_contain_text("cannot be reached")
        expect(page.get_by_role("button", name="Try again")).to_be_visible()
        expect(page.locator("#main")).not_to_be_empty()
        shot(page, "server-down")
        proxy.switch_on()
        page.get_by_role("button", name="Try again").click()
        expect(page.get_by_role("alert")).to_be_hidden()
        expect(page.locator("#memories-status")).to_have_text("0 memories.")


def test_accessibility_and_a_375_px_screen(
    browser: Browser, server: LiveServer, dead: DeadWork, rid: str
) -> None:
    context = new_context(browser, width=375, height=800)
    # Injected through the DevTools protocol, so the page's CSP stays on and is tested.
    context.add_init_script(path=str(AXE))
    try:
        page = watched(context.new_page())
        page.goto(f"{server.url}/ui")
        expect(page.get_by_role("alert")).to_contain_text("No token")
        assert axe_violations(page) == []
        no_sideways_scroll(page)
        token = server.token(dead.user("narrow-" + "z" * 60), admin=True)
        long = "a-very-long-word-without-spaces-" * 6 + rid
        body = {"memory_type": "fact", "content": long, "metadata": {"long_value": long}}
        item = api(server, token, "POST", f"{API}/items", json=body)
        api(server, token, "PATCH", f"{API}/items/{item['id']}", json={"content": long + " x"})
        sign_in(page, server.url, token)
        expect(page.locator("#operator")).to_be_visible()
        expect(page.locator("#dead-jobs-list li[data-id]").first).to_be_visible()
        page.get_by_role("button", name=f"History memory {item['id']}").click()
        expect(page.locator("#history-list > li")).to_have_count(2)
        search(page, "long word")
        expect(page.locator("#search-status")).to_contain_text("hits")
        send_chat(page, "I love long walks")
        expect(page.locator("#chat-outcomes > li")).to_have_attribute("data-outcome", "added")
        create_key(page, f"narrow-key-{rid}", "service")
        no_sideways_scroll(page)
        assert axe_violations(page) == []
        shot(page, "narrow-375", full_page=True)
    finally:
        context.close()
