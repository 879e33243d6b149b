// memvault inspector: a plain ES module that calls the JSON API with the pasted bearer
// token (docs/inspector.md). Every value from the server is set as text, never as HTML.

const API = "/api/v1/memory";
const ADMIN = "/api/v1/admin";
const TOKEN_KEY = "memvault.token";
const USER_KEY = "memvault.user"; // the user a service or admin key acts for
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
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field; // the request part a 4xx names, e.g. "X-Memvault-User"
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function call(method, path, body) {
  const secret = token();
  if (!secret) throw new ApiError(401, "no token");
  const headers = { Authorization: `Bearer ${secret}` };
  const actingFor = sessionStorage.getItem(USER_KEY);
  if (actingFor) headers["X-Memvault-User"] = actingFor;
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
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      // not JSON: keep the status line
    }
    const detail = problem.detail || problem.title || `HTTP ${response.status}`;
    throw new ApiError(response.status, detail, problem.field);
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
  sessionStorage.removeItem(USER_KEY);
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
    if (error instanceof ApiError && error.field === "X-Memvault-User") await startWithoutUser(error);
    else if (error instanceof ApiError && error.status === 403) signedOut(`This key was refused: ${error.message}.`);
    else fail("memories-status", error);
    return;
  }
  showApp({ forUser: true });
  showSettings(settings);
  await Promise.all([loadMemories(), detectOperator()]);
}

/** A key that acts for no user: an admin key opens the operator view; any other key
 * must name its user at sign-in. */
async function startWithoutUser(error) {
  if (await isOperator()) {
    showApp({ forUser: false });
    await showOperator();
    $("who").textContent = "Signed in with an admin key: operator view only (name a user at sign-in to see their memories)";
    return;
  }
  signedOut(`This key acts for a user: sign in again and fill in "Act for user" (${error.message}).`);
}

function showApp({ forUser }) {
  clearBanner();
  $("signin").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  for (const part of document.querySelectorAll("[data-user-only]")) part.hidden = !forUser;
}

/** Whether the credential reaches the operator endpoints (a 403 means it does not). */
async function isOperator() {
  try {
    await call("GET", `${ADMIN}/jobs?status=dead&limit=1`);
    return true;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 403)) fail("memories-status", error);
    return false;
  }
}

async function detectOperator() {
  if (await isOperator()) await showOperator();
}

async function showOperator() {
  $("operator").hidden = false;
  $("nav-operator").hidden = false;
  $("who").textContent = "Signed in with operator rights";
  $("who").hidden = false;
  await Promise.all([loadHealth(), loadDeadJobs(), loadDeadOutbox(), loadDeadBus(), loadKeys()]);
}

// ------------------------------------------------------------------ metadata and time

/** A value as typed: JSON numbers, true/false and "quoted text" keep their type;
 * anything else is text. */
function metadataValue(text) {
  try {
    const value = JSON.parse(text);
    if (["string", "number", "boolean"].includes(typeof value)) return value;
  } catch {
    // not JSON: plain text
  }
  return text;
}

/** "key=value" pairs, separated by commas or new lines (quote a value holding either),
 * as the metadata object of the API. */
function parseMetadata(text) {
  const metadata = {};
  for (const raw of text.match(/(?:[^,\n"]|"(?:[^"\\]|\\.)*")+/g) || []) {
    const pair = raw.trim();
    if (!pair) continue;
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`metadata "${pair}" is not key=value`);
    metadata[pair.slice(0, at).trim()] = metadataValue(pair.slice(at + 1).trim());
  }
  return metadata;
}

/** The pairs as ``parseMetadata`` reads them back (text that would read as another
 * type, or that holds a separator, is quoted). */
function metadataPairs(metadata) {
  return Object.entries(metadata || {}).map(([key, value]) => {
    const plain = typeof value !== "string" || (metadataValue(value) === value && !/[,\n"]|^\s|\s$/.test(value));
    return `${key}=${plain ? String(value) : JSON.stringify(value)}`;
  });
}

/** A time from the API as "YYYY-MM-DD HH:MM UTC", in a <time> element. */
function when(iso) {
  if (!iso) return "";
  const utc = new Date(iso).toISOString();
  return h("time", { datetime: utc }, `${utc.slice(0, 16).replace("T", " ")} UTC`);
}

// ------------------------------------------------------------------ memories

let shown = new Map(); // id -> item, for the editor

function memoryCard(item, { score } = {}) {
  const title = item.title && item.title !== item.content ? item.title : "";
  const pairs = metadataPairs(item.metadata);
  return h(
    "li",
    { class: "card", "data-id": item.id },
    h("p", { class: "content" }, item.content),
    h(
      "p",
      { class: "meta" },
      `#${item.id} · ${item.memory_type} · ${item.status}`,
      title ? ` · ${title}` : "",
      item.occurred_at ? [" · said ", when(item.occurred_at)] : "",
      score !== undefined ? h("span", { class: "score" }, ` · score ${score.toFixed(4)}`) : "",
    ),
    pairs.length
      ? h("ul", { class: "tags", "aria-label": `metadata of memory ${item.id}` }, pairs.map((pair) => h("li", {}, pair)))
      : "",
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
    const metadata = parseMetadata($("filter-metadata").value);
    if (Object.keys(metadata).length) query.set("metadata", JSON.stringify(metadata));
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
  $("memory-metadata").value = metadataPairs(item.metadata).join("\n");
  $("memory-occurred").value = "";
  $("memory-occurred").disabled = true; // the API sets it on create only
  $("memory-reason").value = "";
  $("editor-h").textContent = `Edit memory ${item.id}`;
  $("memory-cancel").hidden = false;
  say("editor-status", "");
  $("memory-content").focus();
}

function resetEditor() {
  $("memory-form").reset();
  $("edit-id").value = "";
  $("memory-occurred").disabled = false;
  $("editor-h").textContent = "New memory";
  $("memory-cancel").hidden = true;
}

/** The create or patch body from the editor: a patch always sends the metadata (it
 * replaces the stored object, so an emptied field clears it). */
function editorBody(editing) {
  const body = { memory_type: $("memory-type").value, content: $("memory-content").value };
  const title = $("memory-title").value.trim();
  const reason = $("memory-reason").value.trim();
  const metadata = parseMetadata($("memory-metadata").value);
  const occurred = $("memory-occurred").value;
  if (title) body.title = title;
  if (reason) body.reason = reason;
  if (editing || Object.keys(metadata).length) body.metadata = metadata;
  if (!editing && occurred) body.occurred_at = new Date(occurred).toISOString();
  return body;
}

async function saveMemory(event) {
  event.preventDefault();
  const id = $("edit-id").value;
  say("editor-status", "Saving…");
  try {
    const body = editorBody(Boolean(id));
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
  say("search-status", "Searching…");
  let result;
  try {
    const body = { query: $("search-query").value, limit: 20 };
    const metadata = parseMetadata($("search-metadata").value);
    if (Object.keys(metadata).length) body.metadata = metadata;
    result = await json("POST", `${API}/search`, body);
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
  states.replaceChildren();
  $("chat-memories").replaceChildren();
  $("chat-outcomes").replaceChildren();
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
    const metadata = parseMetadata($("chat-metadata").value);
    if (Object.keys(metadata).length) body.metadata = metadata;
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
  $("chat-message").value = ""; // sent: the box is ready for the next message
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

/** One line per candidate fact: what the job did with it and why (``added``,
 * ``duplicate``, ``skipped: sensitive``, ...), and the memory it wrote. */
function showOutcomes(job) {
  const lines = job.outcomes.map((o) =>
    h(
      "li",
      { "data-outcome": o.outcome },
      `${o.memory_type}${o.title ? ` “${o.title}”` : ""}: `,
      h("strong", {}, o.outcome),
      o.memory_id ? ` (memory ${o.memory_id})` : "",
    ),
  );
  if (!lines.length) lines.push(h("li", { class: "hint" }, "No fact worth remembering was found in this message."));
  $("chat-outcomes").replaceChildren(...lines);
}

async function showProduced(job) {
  const produced = $("chat-memories");
  showOutcomes(job);
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
  if (!job.memory_ids.length) produced.append(h("li", { class: "hint" }, "None."));
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
    const counted = async (name, path) => [name, await countOf(path)];
    const rows = await Promise.all([
      ...JOB_STATES.map((s) => counted(`Jobs ${s}`, `${ADMIN}/jobs?status=${s}&limit=100`)),
      counted("Outbox backlog (pending)", `${ADMIN}/outbox?status=pending&limit=100`),
      counted("Outbox dead", `${ADMIN}/outbox?status=dead&limit=100`),
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
          h("div", { class: "row actions" }, actionButton("Retry", `job ${job.id}`, () => retryMany("jobs", [job.id], retryJobPath, "dead-jobs-status", afterJobRetry))),
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
          h("div", { class: "row actions" }, actionButton("Retry", `event ${row.id}`, () => retryMany("events", [row.id], retryOutboxPath, "dead-outbox-status", afterOutboxRetry))),
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

// After a retry: the list it changed and the counts.
const afterJobRetry = () => Promise.all([loadHealth(), loadDeadJobs()]);
const afterOutboxRetry = () => Promise.all([loadHealth(), loadDeadOutbox()]);

async function loadKeys() {
  try {
    const page = await json("GET", `${ADMIN}/keys`);
    $("key-list").replaceChildren(
      ...page.items.map((key) =>
        h(
          "li",
          { class: "card", "data-id": key.id },
          h("p", {}, h("strong", {}, key.name), ` · ${key.scope} · ${key.prefix}…`),
          h("p", { class: "meta" }, ...keyDates(key)),
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

function keyDates(key) {
  const dates = [key.revoked_at ? ["revoked ", when(key.revoked_at)] : ["created ", when(key.created_at)]];
  dates.push(key.expires_at ? [" · expires ", when(key.expires_at)] : " · never expires");
  dates.push(key.last_used_at ? [" · last used ", when(key.last_used_at)] : " · never used");
  return dates.flat();
}

async function createKey(event) {
  event.preventDefault();
  try {
    const body = { name: $("key-name").value, scope: $("key-scope").value };
    const days = $("key-expires").value;
    if (days) body.expires_in_seconds = Number(days) * 86_400;
    const key = await json("POST", `${ADMIN}/keys`, body);
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
    const actingFor = $("act-user").value.trim();
    if (actingFor) sessionStorage.setItem(USER_KEY, actingFor);
    else sessionStorage.removeItem(USER_KEY);
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
    retryMany("jobs", checkedIds("dead-jobs-list"), retryJobPath, "dead-jobs-status", afterJobRetry),
  );
  $("dead-outbox-retry").addEventListener("click", () =>
    retryMany("events", checkedIds("dead-outbox-list"), retryOutboxPath, "dead-outbox-status", afterOutboxRetry),
  );
  $("key-form").addEventListener("submit", createKey);
  for (const heading of document.querySelectorAll("h2")) heading.setAttribute("tabindex", "-1");
}

wire();
start();
