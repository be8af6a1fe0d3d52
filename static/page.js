// The page at /: snippets, pool health, a token check and a chat box, all through this gateway's own API.
// Secrets stay in this page's memory: nothing is written to localStorage, cookies or the URL.
"use strict";

const origin = window.location.origin;
const base = origin + "/v1";
const $ = (id) => document.getElementById(id);
const state = { serverTokens: false };

function keyValue() {
  return $("key").value.trim();
}

// What "Your key" holds on this server: the person's own tokens, or one of the server's API keys.
function keyKind() {
  return state.serverTokens ? "one of this server's API keys" : "your token(s), comma separated";
}

// What the page says where the API would say "send Authorization: Bearer ...".
function fillInYourKey() {
  return `Fill in "Your key" above first (${keyKind()}), then try again.`;
}

function authHeaders() {
  const key = keyValue();
  return key ? { Authorization: "Bearer " + key } : {};
}

// Errors arrive in OpenAI's shape; say their message, or the HTTP status when the body is not JSON.
async function errorText(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || JSON.stringify(body);
  } catch (_) {
    return "HTTP " + response.status;
  }
}

function snippets() {
  const key = "YOUR_KEY";
  return {
    python: `from openai import OpenAI

client = OpenAI(base_url="${base}", api_key="${key}")
stream = client.chat.completions.create(
    model="deepseek-chat", stream=True,
    messages=[{"role": "user", "content": "Hello"}])
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)`,
    curl: `curl ${base}/chat/completions \\
  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\
  -d '{"model": "deepseek-chat", "stream": true, "messages": [{"role": "user", "content": "Hello"}]}'`,
    claude: `# Claude Code speaks Anthropic Messages (POST /v1/messages)
export ANTHROPIC_BASE_URL="${origin}"
export ANTHROPIC_AUTH_TOKEN="${key}"
export ANTHROPIC_MODEL="deepseek-chat"
claude`,
    codex: `# ~/.codex/config.toml (Codex speaks OpenAI Responses: POST /v1/responses)
model = "deepseek-chat"
model_provider = "freeseek"

[model_providers.freeseek]
name = "freeseek"
base_url = "${base}"
env_key = "FREESEEK_API_KEY"
wire_api = "responses"

# then: export FREESEEK_API_KEY="${key}" && codex`,
    webui: `# Open WebUI: Admin settings > Connections > OpenAI API > add
#   URL: ${base}
#   Key: ${key}
# or when starting its container:
docker run -d -p 3000:8080 \\
  -e OPENAI_API_BASE_URL="${base}" -e OPENAI_API_KEY="${key}" \\
  ghcr.io/open-webui/open-webui:main`,
  };
}

function showTab(name) {
  document.querySelectorAll("[data-tab]").forEach((tab) => tab.setAttribute("aria-selected", tab.dataset.tab === name));
  document.querySelectorAll("[data-snippet]").forEach((pre) => { pre.hidden = pre.dataset.snippet !== name; });
}

// navigator.clipboard exists only in secure contexts (https, localhost); elsewhere select the text instead.
function copyText(element) {
  const text = element.textContent;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text);
    return;
  }
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function loadServerMode() {
  try {
    const health = await (await fetch("/healthz")).json();
    state.serverTokens = Boolean(health.server_tokens);
  } catch (_) {
    return;
  }
  const kind = keyKind();
  document.querySelectorAll(".key-kind").forEach((span) => { span.textContent = kind; });
  $("server-mode").textContent = state.serverTokens
    ? "This gateway holds its own tokens: clients send one of its API keys."
    : "Zero configuration: each request brings its own tokens.";
  $("pool-note").textContent = state.serverTokens
    ? "The server's tokens by short hash (give an API key above); never a secret."
    : "This server holds no tokens: the view shows the health of the tokens you give above.";
}

async function loadModels() {
  try {
    const models = await (await fetch("/v1/models")).json();
    const select = $("model");
    select.replaceChildren(...models.data.map((m) => new Option(m.id, m.id)));
  } catch (_) { /* keep the default model */ }
}

function timeText(seconds) {
  return new Date(seconds * 1000).toLocaleString();
}

// Only an account that can answer now is green; a resting one (muted, cooling down) amber; a dead one red.
function tone(state) {
  if (!state || state === "ok") return "ok";
  return ["dead", "banned"].includes(state) ? "bad" : "rest";
}

// A field the page does not know yet (the pool and the check grow), shown as "name value": numbers in the
// range of unix times read as times, since that is what this API's numeric time fields are.
function extraText(name, value) {
  if (value === null || value === undefined || value === "" || value === false) return "";
  const shown = typeof value === "number" && value > 1e9 && value < 1e11 ? timeText(value)
    : typeof value === "object" ? JSON.stringify(value) : String(value);
  return `${name.replace(/_/g, " ")} ${shown}`;
}

function extrasText(record, known) {
  return Object.entries(record).filter(([name]) => !known.includes(name))
    .map(([name, value]) => extraText(name, value)).filter(Boolean).join("; ");
}

const POOL_FIELDS = ["token", "provider", "state", "in_flight", "limit", "until", "last_status", "last_error", "care"];

// A web account's pace: budget left this hour and day, next allowed start, last mute and ban.
function careText(care) {
  if (!care) return "";
  const left = (n, of, window, name) => (of ? `${n} of ${of} left this ${window}` : `no ${name} budget`);
  const parts = [left(care.hour_left, care.hourly_budget, "hour", "hourly"),
    left(care.day_left, care.daily_budget, "day", "daily")];
  parts.push(care.next_start ? `next start ${timeText(care.next_start)}` : "may start now");
  if (care.reduced_until) parts.push(`budgets reduced until ${timeText(care.reduced_until)}`);
  if (care.last_mute) parts.push(`last mute ${timeText(care.last_mute.at)}` + (care.last_mute.until ? ` until ${timeText(care.last_mute.until)}` : ""));
  if (care.last_ban) parts.push(`last ban ${timeText(care.last_ban.at)}`);
  return parts.join("; ");
}

async function showPool() {
  const status = $("pool-status");
  const table = $("pool-table");
  if (!keyValue()) {
    table.hidden = true;
    status.textContent = fillInYourKey();
    $("key").focus();
    return;
  }
  status.textContent = "Loading...";
  const response = await fetch("/pool", { headers: authHeaders() });
  if (!response.ok) {
    table.hidden = true;
    status.textContent = await errorText(response);
    return;
  }
  const body = await response.json();
  const rows = body.tokens.map((t) => {
    const tr = document.createElement("tr");
    const cells = [t.token, t.provider, t.state, t.limit ? `${t.in_flight} / ${t.limit}` : String(t.in_flight),
      t.until ? timeText(t.until) : "",
      [t.last_error, t.last_status && "HTTP " + t.last_status].filter(Boolean).join(", "),
      careText(t.care), extrasText(t, POOL_FIELDS)];
    cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; tr.append(td); });
    tr.dataset.state = t.state;
    tr.className = "tone-" + tone(t.state);
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.classList.toggle("no-details", rows.every((tr) => !tr.lastChild.textContent));
  table.hidden = rows.length === 0;
  status.textContent = rows.length ? `${rows.length} token(s).` : "No tokens to show.";
}

const CHECK_FIELDS = ["live", "provider", "state", "muted_until", "detail"];

// One sentence for a check's report: its state first (and until when it rests), then the provider.
function checkText(report, state) {
  const label = { ok: "Live", muted: "Muted", banned: "Banned", dead: "Not live" }[state]
    || (report.live ? `Live but ${state}` : `Not live (${state})`);
  const parts = [report.muted_until ? `${label} until ${report.muted_until}` : label, `provider ${report.provider}`];
  const extras = extrasText(report, CHECK_FIELDS);
  if (extras) parts.push(extras);
  let text = parts.join(", ") + ".";
  if (state === "muted") {
    text += report.muted_until ? " The token is valid, but DeepSeek lets the account chat again only then."
      : " The token is valid, but DeepSeek does not let the account chat for now.";
  }
  if (report.detail) text += " " + report.detail;
  return text;
}

// A live token checked here joins "Your key" (on a server where each person brings their own tokens), so
// nobody types it twice; with an empty field, the check asks about the token in "Your key".
function adoptToken(token) {
  const key = $("key");
  const held = key.value.split(",").map((t) => t.trim()).filter(Boolean);
  if (held.includes(token)) return "";
  key.value = [...held, token].join(",");
  return held.length ? " Added to Your key." : " Now in Your key.";
}

async function checkToken(event) {
  event.preventDefault();
  const result = $("check-result");
  const typed = $("check-token").value.trim();
  const token = typed || (state.serverTokens ? "" : keyValue());
  result.dataset.tone = "";
  result.dataset.state = "";
  if (!token) {
    result.textContent = state.serverTokens ? "Paste a token first." : "Paste a token first, or fill in Your key.";
    return;
  }
  result.textContent = "Checking...";
  const response = await fetch("/token/check", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  if (!response.ok) {
    result.textContent = await errorText(response);
    result.dataset.tone = response.status === 429 ? "rest" : "bad";  // rate-limited: resting, not dead
    return;
  }
  const report = await response.json();
  const checked = report.state || (report.live ? "ok" : "dead");
  let text = checkText(report, checked);
  if (typed && report.live && !state.serverTokens) text += adoptToken(typed);
  result.textContent = text;
  result.dataset.state = checked;
  result.dataset.tone = tone(checked);
}

function init() {
  $("base-url").textContent = base;
  const texts = snippets();
  Object.entries(texts).forEach(([name, text]) => { $("snippet-" + name).textContent = text; });
  document.querySelectorAll("[data-tab]").forEach((tab) => tab.addEventListener("click", () => showTab(tab.dataset.tab)));
  document.querySelectorAll("[data-copy]").forEach((button) =>
    button.addEventListener("click", () => copyText($(button.dataset.copy))));
  $("copy-snippet").addEventListener("click", () =>
    copyText(document.querySelector("[data-snippet]:not([hidden]) code")));
  $("pool-button").addEventListener("click", () => showPool().catch((e) => { $("pool-status").textContent = e.message; }));
  $("check-form").addEventListener("submit", (e) => checkToken(e).catch((err) => { $("check-result").textContent = err.message; }));
  initChat();
  loadServerMode();
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
