"""The memory inspector at ``/ui`` in headless Chromium against a real ``memvault serve``.

Each test drives the page as a person would (clicks, typing, the keyboard) and checks the
result through the JSON API, so a page that only looks right fails. Screenshots go to
``.test-artifacts/inspector/`` (git-ignored) for a human to look at.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright for Python (the dev
extra); ``playwright install`` is never used.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from memvault.container import Settings, build_infrastructure, migrate
from memvault.domain.jobs import ExtractionJob, JobStatus
from memvault.domain.outbox import OutboxMessage, OutboxStatus
from memvault.entrypoints.http.auth import issue_token
from tests.clients.live_server import ROOT, SECRET, LiveServer, live_server

pytestmark = pytest.mark.e2e

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
    outbox row (of the first user)."""

    rid: str
    jobs: dict[str, int]
    outbox_id: int

    def user(self, name: str) -> str:
        return f"{name}-{self.rid}"


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
def server(data_dir: Path, dead: DeadWork) -> Iterator[LiveServer]:
    with live_server(data_dir) as running:
        yield running


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert CHROMIUM.exists(), "install Debian's chromium (apt-get install -y chromium)"
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    made.set_default_timeout(WAIT_MS)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def rid() -> str:
    return uuid.uuid4().hex[:8]


# ------------------------------------------------------------------ helpers


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api(server: LiveServer, token: str, method: str, path: str, **kw: Any) -> Any:
    response = httpx.request(method, f"{server.url}{path}", headers=headers(token), **kw)
    assert response.is_success, response.text
    return response.json()


def sign_in(page: Page, server: LiveServer, token: str) -> None:
    page.goto(f"{server.url}/ui")
    page.get_by_label("Bearer token or API key").fill(token)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#memories-status")).to_contain_text("memories")


def card(page: Page, scope: str, item_id: int) -> Any:
    return page.locator(f"{scope} li[data-id='{item_id}']")


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
                await uow.commit()
            assert row.id is not None
            return DeadWork(rid=rid, jobs=jobs, outbox_id=row.id)
        finally:
            await infra.loops().close_current()

    return asyncio.run(run())


# ------------------------------------------------------------------ the user's page


def test_memories_are_grouped_filtered_edited_deleted_restored_and_audited(
    page: Page, server: LiveServer, rid: str
) -> None:
    user = f"ana-{rid}"
    sign_in(page, server, server.token(user))
    for memory_type, content in [
        ("preference", f"prefers window seats {rid}"),
        ("fact", f"lives in Lisbon {rid}"),
    ]:
        page.get_by_label("Memory type").select_option(memory_type)
        page.get_by_label("Content").fill(content)
        page.get_by_role("button", name="Save memory").click()
        expect(page.locator("#editor-status")).to_contain_text("Created memory")
    items = api(server, server.token(user), "GET", f"{API}/items")["items"]
    ids = {i["memory_type"]: i["id"] for i in items}
    pref, fact = ids["preference"], ids["fact"]
    expect(card(page, "[data-type=preference]", pref)).to_contain_text(f"window seats {rid}")
    expect(card(page, "[data-type=fact]", fact)).to_contain_text(f"Lisbon {rid}")

    page.get_by_role("button", name=f"Edit memory {pref}").click()
    page.get_by_label("Content").fill(f"prefers aisle seats {rid}")
    page.get_by_label("Reason for the change").fill("the user corrected it")
    page.get_by_role("button", name="Save memory").click()
    expect(page.locator("#editor-status")).to_have_text(f"Saved memory {pref}.")
    stored = api(server, server.token(user), "GET", f"{API}/items/{pref}")
    assert stored["content"] == f"prefers aisle seats {rid}"

    page.get_by_role("button", name=f"Delete memory {fact}").click()
    expect(page.locator("#memories-status")).to_have_text(f"Deleted memory {fact}.")
    assert api(server, server.token(user), "GET", f"{API}/items/{fact}")["status"] == "deleted"
    page.get_by_label("Filter by status").select_option("deleted")
    page.get_by_role("button", name="Apply filter").click()
    expect(card(page, "#memory-groups", fact)).to_contain_text("deleted")
    expect(card(page, "#memory-groups", pref)).to_have_count(0)
    page.get_by_role("button", name=f"Restore memory {fact}").click()
    expect(page.locator("#memories-status")).to_have_text(f"Restored memory {fact}.")
    assert api(server, server.token(user), "GET", f"{API}/items/{fact}")["status"] == "active"

    page.get_by_label("Filter by status").select_option("")
    page.get_by_label("Filter by type").select_option("fact")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.locator("#memory-groups [data-type=preference]")).to_have_count(0)
    expect(card(page, "[data-type=fact]", fact)).to_be_visible()
    page.get_by_label("Filter by type").select_option("")
    page.get_by_role("button", name="Apply filter").click()
    shot(page, "memories-grouped")

    page.get_by_role("button", name=f"History memory {pref}").click()
    history = page.locator("#history-list > li")
    expect(history).to_have_count(2)
    update = history.nth(1)
    expect(update).to_contain_text("update")
    expect(update).to_contain_text(f"user {user}")
    expect(update).to_contain_text("Why: the user corrected it")
    expect(update).to_contain_text("Changed: ")
    expect(update.locator("figure").nth(0)).to_contain_text(f"window seats {rid}")
    expect(update.locator("figure").nth(1)).to_contain_text(f"aisle seats {rid}")
    expect(update.locator("time")).to_have_attribute("datetime", re.compile(r"\d{4}-"))
    shot(page, "memory-history")


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
                return {id: e.id, outline: s.outlineStyle, width: parseFloat(s.outlineWidth)} }"""
            )
            if focused["id"] or page.evaluate("document.activeElement !== document.body"):
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
    tab_to("memory-save")
    page.keyboard.press("Enter")
    expect(page.locator("#editor-status")).to_contain_text("Created memory")
    (item,) = api(server, server.token(user), "GET", f"{API}/items")["items"]
    assert item["content"] == f"typed with the keyboard {rid}"
    tab_to("search-query")
    page.keyboard.type("keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#search-results li")).to_have_count(1)
    shot(page, "keyboard-focus")


def test_search_shows_the_api_ranking_and_each_score(
    page: Page, server: LiveServer, rid: str
) -> None:
    token = server.token(f"sol-{rid}")
    for content in [
        f"green tea every morning {rid}",
        f"green tea and green apples {rid}",
        f"black coffee at night {rid}",
    ]:
        api(server, token, "POST", f"{API}/items", json={"memory_type": "fact", "content": content})
    sign_in(page, server, token)
    page.get_by_label("Query").fill("green tea")
    page.get_by_role("button", name="Search", exact=True).click()
    expected = api(server, token, "POST", f"{API}/search", json={"query": "green tea", "limit": 20})
    assert expected["items"], "the API found nothing to compare with"
    hits = page.locator("#search-results > li")
    expect(hits).to_have_count(len(expected["items"]))
    for n, hit in enumerate(expected["items"]):
        expect(hits.nth(n)).to_have_attribute("data-id", str(hit["id"]))
        expect(hits.nth(n).locator(".score")).to_have_text(f" · score {hit['score']:.4f}")
    expect(page.locator("#search-status")).to_contain_text(f"{len(expected['items'])} hits")
    shot(page, "search-scores")


def test_a_chat_message_is_followed_through_its_job_to_its_memories(
    page: Page, server: LiveServer, rid: str
) -> None:
    token = server.token(f"max-{rid}")
    sign_in(page, server, token)
    page.get_by_label("Message", exact=True).fill("Remember that I prefer green tea")
    page.get_by_role("button", name="Send message").click()
    states = page.locator("#chat-states > li")
    expect(states.last).to_have_text("success", timeout=WAIT_MS)
    seen = states.all_inner_texts()
    assert seen[0] == "queued", seen
    (job,) = api(server, token, "GET", f"{API}/jobs")["items"]
    assert job["status"] == "success", job
    assert job["memory_ids"], job
    produced = page.locator("#chat-memories > li")
    expect(produced).to_have_count(len(job["memory_ids"]))
    assert {int(i) for i in produced.evaluate_all("els => els.map(e => e.dataset.id)")} == set(
        job["memory_ids"]
    )
    expect(page.locator("#chat-status")).to_contain_text(f"Job {job['id']}: success")
    shot(page, "chat-job")


def test_settings_are_edited_and_memories_exported(
    page: Page, server: LiveServer, rid: str
) -> None:
    token = server.token(f"eva-{rid}")
    kept = api(server, token, "POST", f"{API}/items", json={"memory_type": "fact", "content": rid})
    gone = api(server, token, "POST", f"{API}/items", json={"memory_type": "fact", "content": "x"})
    api(server, token, "DELETE", f"{API}/items/{gone['id']}")
    sign_in(page, server, token)
    expect(page.get_by_label("Implicit memories")).to_be_checked()
    page.get_by_label("Implicit memories").uncheck()
    page.get_by_label("Sensitive memories").check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator("#settings-status")).to_have_text("Settings saved.")
    settings = api(server, token, "GET", f"{API}/settings")
    assert settings["implicit_memory_enabled"] is False
    assert settings["sensitive_memory_enabled"] is True
    assert settings["memory_enabled"] is True

    with page.expect_download() as download:
        page.get_by_role("button", name="Export memories").click()
    saved = download.value
    assert saved.suggested_filename == "memvault-export.json"
    exported = json.loads(Path(saved.path()).read_text())
    assert {m["id"] for m in exported} == {kept["id"], gone["id"]}
    expect(page.locator("#export-status")).to_contain_text("Exported 2 memories")
    shot(page, "settings-export")


# ------------------------------------------------------------------ operators


def test_operators_retry_dead_work_see_health_and_manage_keys(
    page: Page, server: LiveServer, dead: DeadWork, rid: str
) -> None:
    users = [dead.user("op-a"), dead.user("op-b"), dead.user("op-c")]
    job_ids = [dead.jobs[user] for user in users]
    outbox_id = dead.outbox_id
    admin = server.token(f"admin-{rid}", admin=True)
    sign_in(page, server, admin)
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
    shot(page, "operator-dead-work")

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

    page.get_by_label("Key name").fill(f"ui-key-{rid}")
    page.get_by_label("Scope").fill(f"user:keyed-{rid}")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_label("New key")
    expect(secret).to_have_value(re.compile(r"^mv_"))
    key = secret.input_value()
    assert httpx.get(f"{server.url}{API}/settings", headers=headers(key)).status_code == 200
    listed = page.locator("#key-list > li", has_text=f"ui-key-{rid}")
    expect(listed).to_contain_text(f"user:keyed-{rid}")
    assert key not in page.locator("#key-list").inner_text(), "the list shows a secret"
    shot(page, "operator-keys")
    page.get_by_role("button", name=f"Revoke key ui-key-{rid}").click()
    expect(page.locator("#keys-status")).to_have_text(f"Revoked key ui-key-{rid}.")
    expect(page.locator("#key-secret")).to_be_hidden()
    expect(listed).to_contain_text("revoked")
    refused = httpx.get(f"{server.url}{API}/settings", headers=headers(key))
    assert refused.status_code == 401


# ------------------------------------------------------------------ two users


def test_a_users_page_shows_nothing_of_another_user(
    context: BrowserContext, server: LiveServer, dead: DeadWork, rid: str
) -> None:
    alice, bob = f"alice-{rid}", dead.user("bob")
    shared = f"shared words {rid}"
    for user in (alice, bob):
        token = server.token(user)
        for memory_type in ("preference", "fact"):
            body = {"memory_type": memory_type, "content": f"{shared} secret-of-{user}"}
            api(server, token, "POST", f"{API}/items", json=body)
        body = {
            "conversation_id": f"c-{rid}",
            "messages": [{"role": "user", "content": f"Remember that I prefer tea {user}"}],
        }
        api(server, token, "POST", f"{API}/messages", json=body)
    for user in (alice, bob):
        wait_for_jobs(server, server.token(user))
    every = "?statuses=active,archived,deleted&limit=100"
    bob_ids = {
        i["id"] for i in api(server, server.token(bob), "GET", f"{API}/items{every}")["items"]
    }
    alice_count = len(api(server, server.token(alice), "GET", f"{API}/items{every}")["items"])

    page = context.new_page()
    bodies: list[str] = []
    page.on(
        "response",
        lambda r: bodies.append(r.text()) if "/api/" in r.url and r.ok else None,
    )
    sign_in(page, server, server.token(alice))
    page.get_by_label("Filter by status").select_option("")
    page.get_by_role("button", name="Apply filter").click()
    expect(page.locator("#memory-groups li[data-id]")).to_have_count(alice_count)
    page.get_by_label("Query").fill(shared)
    page.get_by_role("button", name="Search", exact=True).click()
    hits = api(server, server.token(alice), "POST", f"{API}/search", json={"query": shared})
    expect(page.locator("#search-results > li")).to_have_count(len(hits["items"]))
    page.get_by_label("Message", exact=True).fill("Remember that I prefer coffee")
    page.get_by_role("button", name="Send message").click()
    expect(page.locator("#chat-states > li").last).to_have_text("success")
    expect(page.locator("#operator")).to_be_hidden()
    shown = page.locator("body").inner_text()
    assert f"secret-of-{alice}" in shown
    assert bob not in shown
    shown_ids = {
        int(i) for i in page.locator("[data-id]").evaluate_all("els => els.map(e => e.dataset.id)")
    }
    assert not shown_ids & bob_ids
    assert bodies, "the page made no API calls"
    assert not [b for b in bodies if bob in b], "an API answer to alice's page named bob"
    shot(page, "two-users-alice")

    admin_page = context.new_page()
    sign_in(admin_page, server, server.token(f"root-{rid}", admin=True))
    admin_page.get_by_label("Filter by status").select_option("")
    admin_page.get_by_role("button", name="Apply filter").click()
    expect(admin_page.locator("#memories-status")).to_have_text("0 memories.")
    # Operators may see every user's dead work, attributed to its user: that is their job.
    expect(admin_page.locator("#dead-jobs-list")).to_contain_text(f"of user {bob}")
    assert f"secret-of-{bob}" not in admin_page.locator("body").inner_text()
    shot(admin_page, "two-users-operator")


# ------------------------------------------------------------------ failures and a11y


def test_a_missing_or_expired_token_or_a_stopped_server_gives_a_clear_message(
    page: Page, server: LiveServer, rid: str, tmp_path: Path
) -> None:
    page.goto(f"{server.url}/ui")
    expect(page.get_by_role("alert")).to_contain_text("No token")
    expect(page.get_by_label("Bearer token or API key")).to_be_visible()
    shot(page, "no-token")

    expired = issue_token(SECRET, f"old-{rid}", ttl=timedelta(seconds=-60))
    page.get_by_label("Bearer token or API key").fill(expired)
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_role("alert")).to_contain_text("expired or is not valid")
    expect(page.locator("#app")).to_be_hidden()
    shot(page, "expired-token")

    with live_server(tmp_path / "doomed") as doomed:
        sign_in(page, doomed, doomed.token(f"late-{rid}"))
    page.get_by_role("button", name="Apply filter").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("cannot be reached")
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    shot(page, "server-down")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
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


def test_accessibility_and_a_375_px_screen(
    browser: Browser, server: LiveServer, dead: DeadWork, rid: str
) -> None:
    # axe is injected as an inline script, which the page's CSP rightly refuses.
    context = browser.new_context(viewport={"width": 375, "height": 800}, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/ui")
        expect(page.get_by_role("alert")).to_contain_text("No token")
        assert axe_violations(page) == []
        no_sideways_scroll(page)
        token = server.token(f"narrow-{rid}", admin=True)
        long = "a-very-long-word-without-spaces-" * 6 + rid
        item = api(
            server, token, "POST", f"{API}/items", json={"memory_type": "fact", "content": long}
        )
        api(server, token, "PATCH", f"{API}/items/{item['id']}", json={"content": long + " x"})
        sign_in(page, server, token)
        expect(page.locator("#operator")).to_be_visible()
        expect(page.locator("#dead-jobs-list li[data-id]").first).to_be_visible()
        page.get_by_role("button", name=f"History memory {item['id']}").click()
        expect(page.locator("#history-list > li")).to_have_count(2)
        page.get_by_label("Query").fill("long word")
        page.get_by_role("button", name="Search", exact=True).click()
        expect(page.locator("#search-status")).to_contain_text("hits")
        no_sideways_scroll(page)
        assert axe_violations(page) == []
        shot(page, "narrow-375")
    finally:
        context.close()
