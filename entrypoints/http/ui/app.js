// memvault inspector: a plain ES module that calls the JSON API with the pasted bearer
// token (docs/inspector.md). Every value from the server is set as text, never as HTML.

const API = "/api/v1/memory";
const ADMIN = "/api/v1/admin";
const TOKEN_KEY = "memvault.token";
const TYPES = ["preference", "constraint", "fact"];
const FINAL_JOB_STATES = new Set(["success", "dead"]);
const POLL_MS = 250;
const POLL_LIMIT = 240; // about a minute of polling before the page says it gave up

const $ = (id) => document.getElementById(id);

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A button whose visible text is short and whose accessible name says what it acts on. */
function actionButton(label, target, onclick) {
  return h("button", { type: "button", onclick }, label, h("span", { class: "vh" }, ` ${target}`));
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function call(method, path, body) {
  const secret = token();
  if (!secret) throw new ApiError(401, "no token");
  const headers = { Authorization: `Bearer ${secret}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(response.status, detail);
  }
  return response;
}

async function json(method, path, body) {
  return (await call(method, path, body)).json();
}

// ------------------------------------------------------------------ messages

function banner(text, { retry = false } = {}) {
  $("banner-text").textContent = text;
  $("banner-retry").hidden = !retry;
  $("banner").hidden = false;
}

function clearBanner() {
  $("banner").hidden = true;
  $("banner-text").textContent = "";
}

function say(id, text) {
  $(id).textContent = text;
}

/** Turn an error into a message: a token or connection problem goes to the banner (and
 * back to sign-in), anything else to the section's own status line. */
function fail(statusId, error) {
  if (error instanceof ApiError && error.status === 401) {
    signedOut(
      token()
        ? "Your token was refused: it has expired or is not valid. Paste a new token to continue."
        : "No token: paste a bearer token or API key to sign in.",
    );
  } else if (error instanceof ApiError && error.status === 0) {
    banner("The memvault server cannot be reached. Check that it is running, then try again.", {
      retry: true,
    });
  } else {
    say(statusId, `Failed: ${error.message}`);
  }
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("operator").hidden = true;
  $("nav-operator").hidden = true;
  $("sign-out").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  banner(message);
}

// ------------------------------------------------------------------ start

async function start() {
  if (!token()) {
    signedOut("No token: paste a bearer token or API key to sign in.");
    return;
  }
  let settings;
  try {
    settings = await json("GET", `${API}/settings`);
  } catch (error) {
    fail("memories-status", error);
    return;
  }
  clearBanner();
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  showSettings(settings);
  await Promise.all([loadMemories(), detectOperator()]);
}

async function detectOperator() {
  try {
    await call("GET", `${ADMIN}/jobs?status=dead&limit=1`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return; // not an operator
    fail("memories-status", error);
    return;
  }
  $("operator").hidden = false;
  $("nav-operator").hidden = false;
  $("who").textContent = "Signed in with operator rights";
  $("who").hidden = false;
  await Promise.all([loadHealth(), loadDeadJobs(), loadDeadOutbox(), loadDeadBus(), loadKeys()]);
}

// ------------------------------------------------------------------ memories

let shown = new Map(); // id -> item, for the editor

function memoryCard(item, { score } = {}) {
  const title = item.title && item.title !== item.content ? item.title : "";
  return h(
    "li",
    { class: "card", "data-id": item.id },
    h("p", { class: "content" }, item.content),
    h(
      "p",
      { class: "meta" },
      `#${item.id} · ${item.memory_type} · ${item.status}`,
      title ? ` · ${title}` : "",
      score !== undefined ? h("span", { class: "score" }, ` · score ${score.toFixed(4)}`) : "",
    ),
  );
}

function memoryActions(item) {
  const target = `memory ${item.id}`;
  const buttons = [];
  if (item.status !== "deleted") {
    buttons.push(actionButton("Edit", target, () => editMemory(item)));
    buttons.push(actionButton("Delete", target, () => setStatus(item, "delete")));
  } else {
    buttons.push(actionButton("Restore", target, () => setStatus(item, "restore")));
  }
  buttons.push(actionButton("History", target, () => openHistory(item)));
  return h("div", { class: "row actions" }, buttons);
}

async function loadMemories() {
  const status = $("filter-status").value;
  const type = $("filter-type").value;
  const query = new URLSearchParams({ limit: "100" });
  query.set("statuses", status || "active,archived,deleted");
  if (type) query.set("memory_types", type);
  let page;
  try {
    page = await json("GET", `${API}/items?${query}`);
  } catch (error) {
    fail("memories-status", error);
    return;
  }
  shown = new Map(page.items.map((item) => [item.id, item]));
  const groups = $("memory-groups");
  groups.replaceChildren();
  for (const memoryType of TYPES) {
    const items = page.items.filter((item) => item.memory_type === memoryType);
    if (type && memoryType !== type) continue;
    const list = h("ul", { class: "cards" });
    for (const item of items) {
      const card = memoryCard(item);
      card.append(memoryActions(item));
      list.append(card);
    }
    groups.append(
      h(
        "section",
        { class: "group", "data-type": memoryType, "aria-label": `${memoryType} memories` },
        h("h3", {}, `${memoryType[0].toUpperCase()}${memoryType.slice(1)} (${items.length})`),
        items.length ? list : h("p", { class: "hint" }, "None."),
      ),
    );
  }
  const more = page.next_cursor ? " (first 100 shown)" : "";
  say("memories-status", `${page.items.length} memories${more}.`);
}

function editMemory(item) {
  $("edit-id").value = String(item.id);
  $("memory-type").value = item.memory_type;
  $("memory-title").value = item.title && item.title !== item.content ? item.title : "";
  $("memory-content").value = item.content;
  $("memory-reason").value = "";
  $("editor-h").textContent = `Edit memory ${item.id}`;
  $("memory-cancel").hidden = false;
  say("editor-status", "");
  $("memory-content").focus();
}

function resetEditor() {
  $("memory-form").reset();
  $("edit-id").value = "";
  $("editor-h").textContent = "New memory";
  $("memory-cancel").hidden = true;
}

async function saveMemory(event) {
  event.preventDefault();
  const id = $("edit-id").value;
  const body = { memory_type: $("memory-type").value, content: $("memory-content").value };
  const title = $("memory-title").value.trim();
  const reason = $("memory-reason").value.trim();
  if (title) body.title = title;
  if (reason) body.reason = reason;
  try {
    const item = id
      ? await json("PATCH", `${API}/items/${id}`, body)
      : await json("POST", `${API}/items`, body);
    resetEditor();
    say("editor-status", `${id ? "Saved" : "Created"} memory ${item.id}.`);
    await loadMemories();
  } catch (error) {
    fail("editor-status", error);
  }
}

async function setStatus(item, action) {
  try {
    if (action === "delete") await json("DELETE", `${API}/items/${item.id}`);
    else await json("POST", `${API}/items/${item.id}/restore`);
    say("memories-status", `${action === "delete" ? "Deleted" : "Restored"} memory ${item.id}.`);
    await loadMemories();
    say("memories-status", `${action === "delete" ? "Deleted" : "Restored"} memory ${item.id}.`);
    $("memories-h").focus();
  } catch (error) {
    fail("memories-status", error);
  }
}

function pretty(value) {
  return value === null || value === undefined ? "(nothing)" : JSON.stringify(value, null, 2);
}

function changedFields(before, after) {
  const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
  return [...keys].filter(
    (key) => JSON.stringify((before || {})[key]) !== JSON.stringify((after || {})[key]),
  );
}

async function openHistory(item) {
  let history;
  try {
    history = await json("GET", `${API}/items/${item.id}/history`);
  } catch (error) {
    fail("memories-status", error);
    return;
  }
  $("history-h").textContent = `History of memory ${item.id}`;
  const list = $("history-list");
  list.replaceChildren();
  for (const entry of history.items) {
    const who = entry.operator_id ? `${entry.operator_type} ${entry.operator_id}` : entry.operator_type;
    const changed = changedFields(entry.before, entry.after);
    list.append(
      h(
        "li",
        { class: "card" },
        h("p", { class: "meta" }, h("strong", {}, entry.operation), ` by ${who}, `, h("time", { datetime: entry.created_at }, entry.created_at)),
        h("p", {}, `Why: ${entry.reason || "(no reason given)"}`),
        changed.length ? h("p", {}, `Changed: ${changed.join(", ")}`) : "",
        h(
          "div",
          { class: "sidebyside" },
          h("figure", {}, h("figcaption", {}, "Before"), h("pre", { tabindex: "0" }, pretty(entry.before))),
          h("figure", {}, h("figcaption", {}, "After"), h("pre", { tabindex: "0" }, pretty(entry.after))),
        ),
      ),
    );
  }
  $("history").hidden = false;
  $("history").focus();
}

// ------------------------------------------------------------------ search

async function runSearch(event) {
  event.preventDefault();
  let result;
  try {
    result = await json("POST", `${API}/search`, { query: $("search-query").value, limit: 20 });
  } catch (error) {
    fail("search-status", error);
    return;
  }
  const list = $("search-results");
  list.replaceChildren(...result.items.map((hit) => memoryCard(hit, { score: hit.score })));
  const degraded = result.degraded ? " (ranking degraded: keyword matches only)" : "";
  say("search-status", `${result.items.length} hits${degraded}.`);
}

// ------------------------------------------------------------------ chat ingestion

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function sendMessage(event) {
  event.preventDefault();
  const states = $("chat-states");
  const produced = $("chat-memories");
  states.replaceChildren();
  produced.replaceChildren();
  const body = {
    conversation_id: $("chat-conversation").value,
    messages: [
      {
        role: "user",
        content: $("chat-message").value,
        message_id: `ui-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`,
      },
    ],
  };
  let answer;
  try {
    answer = await json("POST", `${API}/messages`, body);
  } catch (error) {
    fail("chat-status", error);
    return;
  }
  const [message] = answer.messages;
  if (message.extraction !== "queued" || !message.job_key) {
    say("chat-status", "Stored, but not queued for extraction (memory is switched off).");
    return;
  }
  states.append(h("li", {}, "queued"));
  say("chat-status", "Queued for extraction.");
  let last = "queued";
  for (let n = 0; n < POLL_LIMIT; n += 1) {
    let page;
    try {
      page = await json("GET", `${API}/jobs?job_key=${encodeURIComponent(message.job_key)}`);
    } catch (error) {
      fail("chat-status", error);
      return;
    }
    const job = page.items[0];
    if (job && job.status !== last) {
      last = job.status;
      states.append(h("li", {}, job.status));
      say("chat-status", `Job ${job.id}: ${job.status}.`);
    }
    if (job && FINAL_JOB_STATES.has(job.status)) {
      await showProduced(job);
      return;
    }
    await sleep(POLL_MS);
  }
  say("chat-status", "The job has not finished yet; look again under Memories later.");
}

async function showProduced(job) {
  const produced = $("chat-memories");
  if (job.status === "dead") {
    say("chat-status", `Job ${job.id} failed: ${job.last_error || "no reason recorded"}.`);
    return;
  }
  for (const id of job.memory_ids) {
    try {
      produced.append(memoryCard(await json("GET", `${API}/items/${id}`)));
    } catch (error) {
      fail("chat-status", error);
      return;
    }
  }
  say("chat-status", `Job ${job.id}: ${job.status}, ${job.memory_ids.length} memories produced.`);
  await loadMemories();
}

// ------------------------------------------------------------------ settings and export

function showSettings(settings) {
  $("set-memory").checked = settings.memory_enabled;
  $("set-implicit").checked = settings.implicit_memory_enabled;
  $("set-sensitive").checked = settings.sensitive_memory_enabled;
}

async function saveSettings(event) {
  event.preventDefault();
  try {
    const settings = await json("PUT", `${API}/settings`, {
      memory_enabled: $("set-memory").checked,
      implicit_memory_enabled: $("set-implicit").checked,
      sensitive_memory_enabled: $("set-sensitive").checked,
    });
    showSettings(settings);
    say("settings-status", "Settings saved.");
  } catch (error) {
    fail("settings-status", error);
  }
}

async function exportMemories() {
  let text;
  try {
    text = await (await call("GET", `${API}/export?format=json`)).text();
  } catch (error) {
    fail("export-status", error);
    return;
  }
  const count = JSON.parse(text).length;
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = h("a", { href: url, download: "memvault-export.json", hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  say("export-status", `Exported ${count} memories to memvault-export.json.`);
}

// ------------------------------------------------------------------ operators

const JOB_STATES = ["pending", "processing", "failed", "dead", "success"];

async function countOf(path) {
  const page = await json("GET", path);
  return page.next_cursor ? `${page.items.length}+` : String(page.items.length);
}

async function loadHealth() {
  try {
    const ready = await fetch("/readyz");
    const body = await ready.json();
    say("ready-status", ready.ok ? "Ready: every dependency answers." : `Not ready: ${body.detail}`);
  } catch {
    say("ready-status", "Not ready: the server cannot be reached.");
  }
  const counts = $("job-counts");
  try {
    const rows = await Promise.all([
      ...JOB_STATES.map(async (s) => [`Jobs ${s}`, await countOf(`${ADMIN}/jobs?status=${s}&limit=100`)]),
      ["Outbox backlog (pending)", await countOf(`${ADMIN}/outbox?status=pending&limit=100`)],
      ["Outbox dead", await countOf(`${ADMIN}/outbox?status=dead&limit=100`)],
    ]);
    counts.replaceChildren(...rows.flatMap(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
  } catch (error) {
    fail("ready-status", error);
  }
}

function selectable(kind, id, label, ...details) {
  const box = `${kind}-select-${id}`;
  return h(
    "li",
    { class: "card", "data-id": id },
    h("div", { class: "check" }, h("input", { type: "checkbox", id: box, value: id }), h("label", { for: box }, label)),
    ...details,
  );
}

async function retryMany(kind, ids, path, statusId, reload) {
  let done = 0;
  const outcomes = [];
  for (const id of ids) {
    try {
      const row = await json("POST", path(id), { reason: "retried from the inspector" });
      done += 1;
      outcomes.push(`${id} → ${row.status}`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || error.status === 0)) {
        fail(statusId, error);
        return;
      }
      outcomes.push(`${id} failed: ${error.message}`);
    }
  }
  await reload();
  say(statusId, `Retried ${done} of ${ids.length} ${kind}: ${outcomes.join("; ")}.`);
}

function checkedIds(listId) {
  return [...$(listId).querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
}

function selectAll(listId) {
  for (const box of $(listId).querySelectorAll("input[type=checkbox]")) box.checked = true;
}

const retryJobPath = (id) => `${ADMIN}/jobs/${id}/retry`;
const retryOutboxPath = (id) => `${ADMIN}/outbox/${id}/retry`;

async function loadDeadJobs() {
  try {
    const page = await json("GET", `${ADMIN}/jobs?status=dead&limit=100`);
    const list = $("dead-jobs-list");
    list.replaceChildren(
      ...page.items.map((job) =>
        selectable(
          "job",
          job.id,
          `Job ${job.id} of user ${job.user_id}`,
          h("p", { class: "meta" }, `${job.attempts}/${job.max_attempts} attempts · updated ${job.updated_at}`),
          h("p", { class: "reason" }, `Reason: ${job.last_error || "(none recorded)"}`),
          h("div", { class: "row actions" }, actionButton("Retry", `job ${job.id}`, () => retryMany("jobs", [job.id], retryJobPath, "dead-jobs-status", refreshOperator))),
        ),
      ),
    );
    if (!page.items.length) list.append(h("li", { class: "hint" }, "No dead jobs."));
  } catch (error) {
    fail("dead-jobs-status", error);
  }
}

async function loadDeadOutbox() {
  try {
    const page = await json("GET", `${ADMIN}/outbox?status=dead&limit=100`);
    const list = $("dead-outbox-list");
    list.replaceChildren(
      ...page.items.map((row) =>
        selectable(
          "outbox",
          row.id,
          `Event ${row.id}: ${row.event_type} of user ${row.user_id ?? "(none)"}`,
          h("p", { class: "meta" }, `${row.retry_count}/${row.max_retry} attempts · topic ${row.topic}`),
          h("p", { class: "reason" }, `Reason: ${row.last_error || "(none recorded)"}`),
          h("div", { class: "row actions" }, actionButton("Retry", `event ${row.id}`, () => retryMany("events", [row.id], retryOutboxPath, "dead-outbox-status", refreshOperator))),
        ),
      ),
    );
    if (!page.items.length) list.append(h("li", { class: "hint" }, "No dead outbox events."));
  } catch (error) {
    fail("dead-outbox-status", error);
  }
}

async function loadDeadBus() {
  try {
    const page = await json("GET", `${ADMIN}/dead-events?limit=100`);
    const list = $("dead-bus-list");
    list.replaceChildren(
      ...page.items.map((event) =>
        h(
          "li",
          { class: "card" },
          h("p", { class: "meta" }, `#${event.id} · ${event.event_type || "unknown type"} · topic ${event.topic} · ${event.created_at}`),
          h("p", { class: "reason" }, `Reason: ${event.reason}`),
        ),
      ),
    );
    if (!page.items.length) list.append(h("li", { class: "hint" }, "None."));
  } catch (error) {
    fail("dead-jobs-status", error);
  }
}

async function refreshOperator() {
  await Promise.all([loadHealth(), loadDeadJobs(), loadDeadOutbox(), loadDeadBus()]);
}

async function loadKeys() {
  try {
    const page = await json("GET", `${ADMIN}/keys`);
    $("key-list").replaceChildren(
      ...page.items.map((key) =>
        h(
          "li",
          { class: "card", "data-id": key.id },
          h("p", {}, h("strong", {}, key.name), ` · ${key.scope} · ${key.prefix}…`),
          h("p", { class: "meta" }, key.revoked_at ? `revoked ${key.revoked_at}` : `created ${key.created_at}`),
          key.revoked_at
            ? ""
            : h("div", { class: "row actions" }, actionButton("Revoke", `key ${key.name}`, () => revokeKey(key))),
        ),
      ),
    );
  } catch (error) {
    fail("keys-status", error);
  }
}

async function createKey(event) {
  event.preventDefault();
  try {
    const key = await json("POST", `${ADMIN}/keys`, {
      name: $("key-name").value,
      scope: $("key-scope").value,
    });
    $("key-secret-value").value = key.key;
    $("key-secret").hidden = false;
    $("key-form").reset();
    say("keys-status", `Created key ${key.name}.`);
    await loadKeys();
    $("key-secret-value").focus();
    $("key-secret-value").select();
  } catch (error) {
    fail("keys-status", error);
  }
}

async function revokeKey(key) {
  try {
    await json("POST", `${ADMIN}/keys/${key.id}/revoke`);
    $("key-secret").hidden = true; // the secret is shown once: gone with the next change
    $("key-secret-value").value = "";
    say("keys-status", `Revoked key ${key.name}.`);
    await loadKeys();
  } catch (error) {
    fail("keys-status", error);
  }
}

// ------------------------------------------------------------------ wiring

function wire() {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    start();
  });
  $("sign-out").addEventListener("click", () => {
    signedOut("Signed out. Paste a token to sign in again.");
    $("token").focus();
  });
  $("banner-retry").addEventListener("click", () => start());
  $("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    loadMemories();
  });
  $("memory-form").addEventListener("submit", saveMemory);
  $("memory-cancel").addEventListener("click", resetEditor);
  $("history-close").addEventListener("click", () => {
    $("history").hidden = true;
    $("memories-h").focus();
  });
  $("search-form").addEventListener("submit", runSearch);
  $("chat-form").addEventListener("submit", sendMessage);
  $("settings-form").addEventListener("submit", saveSettings);
  $("export-button").addEventListener("click", exportMemories);
  $("health-refresh").addEventListener("click", loadHealth);
  $("dead-jobs-all").addEventListener("click", () => selectAll("dead-jobs-list"));
  $("dead-outbox-all").addEventListener("click", () => selectAll("dead-outbox-list"));
  $("dead-jobs-retry").addEventListener("click", () =>
    retryMany("jobs", checkedIds("dead-jobs-list"), retryJobPath, "dead-jobs-status", refreshOperator),
  );
  $("dead-outbox-retry").addEventListener("click", () =>
    retryMany("events", checkedIds("dead-outbox-list"), retryOutboxPath, "dead-outbox-status", refreshOperator),
  );
  $("key-form").addEventListener("submit", createKey);
  for (const heading of document.querySelectorAll("h2")) heading.setAttribute("tabindex", "-1");
}

wire();
start();
