// The page at /: snippets, pool health, a token check and a chat box, all through this gateway's own API.
// Secrets stay in this page's memory: nothing is written to localStorage, cookies or the URL.
"use strict";

const origin = window.location.origin;
const base = origin + "/v1";
const $ = (id) => document.getElementById(id);
const state = { history: [], controller: null, serverTokens: false };

function keyValue() {
  return $("key").value.trim();
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
  const kind = state.serverTokens ? "one of this server's API keys" : "your token(s), comma separated";
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

function untilText(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

// A web account's pace: budget left this hour and day, next allowed start, last mute and ban.
function careText(care) {
  if (!care) return "";
  const left = (n, of, window, name) => (of ? `${n} of ${of} left this ${window}` : `no ${name} budget`);
  const parts = [left(care.hour_left, care.hourly_budget, "hour", "hourly"),
    left(care.day_left, care.daily_budget, "day", "daily")];
  parts.push(care.next_start ? `next start ${untilText(care.next_start)}` : "may start now");
  if (care.reduced_until) parts.push(`budgets reduced until ${untilText(care.reduced_until)}`);
  if (care.last_mute) parts.push(`last mute ${untilText(care.last_mute.at)}` + (care.last_mute.until ? ` until ${untilText(care.last_mute.until)}` : ""));
  if (care.last_ban) parts.push(`last ban ${untilText(care.last_ban.at)}`);
  return parts.join("; ");
}

async function showPool() {
  const status = $("pool-status");
  const table = $("pool-table");
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
      untilText(t.until), [t.last_error, t.last_status && "HTTP " + t.last_status].filter(Boolean).join(", "),
      careText(t.care)];
    cells.forEach((text) => { const td = document.createElement("td"); td.textContent = text; tr.append(td); });
    tr.dataset.state = t.state;
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  status.textContent = rows.length ? `${rows.length} token(s).` : "No tokens to show.";
}

async function checkToken(event) {
  event.preventDefault();
  const result = $("check-result");
  const token = $("check-token").value.trim();
  if (!token) { result.textContent = "Paste a token first."; return; }
  result.textContent = "Checking...";
  result.dataset.live = "";
  const response = await fetch("/token/check", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ token }) });
  if (!response.ok) { result.textContent = await errorText(response); return; }
  const report = await response.json();
  const parts = [report.live ? "Live" : "Not live", `provider ${report.provider}`];
  if (report.state) parts.push(`state ${report.state}`);
  if (report.muted_until) parts.push(`muted until ${report.muted_until}`);
  result.textContent = parts.join(", ") + ".";
  result.dataset.live = String(report.live);
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  if (role === "assistant") {
    const details = document.createElement("details");
    details.className = "reasoning";
    details.hidden = true;
    const summary = document.createElement("summary");
    summary.textContent = "Reasoning";
    details.append(summary, document.createElement("pre"));
    const answer = document.createElement("div");
    answer.className = "answer";
    div.append(details, answer);
  } else {
    div.textContent = text;
  }
  $("messages").append(div);
  return div;
}

// Read an SSE body: split on newlines ourselves, one JSON object per `data:` line, comments skipped.
async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    const lines = buffer.split("\n");
    buffer = lines.pop();
    for (const raw of lines) {
      const line = raw.replace(/\r$/, "");
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || state.controller) return;
  input.value = "";
  state.history.push({ role: "user", content: text });
  addMessage("user", text);
  const box = addMessage("assistant");
  const reasoning = box.querySelector(".reasoning");
  const answer = box.querySelector(".answer");
  state.controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  let content = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", signal: state.controller.signal,
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ model: $("model").value, stream: true, messages: state.history }) });
    if (!response.ok) throw new Error(await errorText(response));
    for await (const chunk of sseEvents(response)) {
      if (chunk.error) throw new Error(chunk.error.message);
      const delta = (chunk.choices && chunk.choices[0] && chunk.choices[0].delta) || {};
      if (delta.reasoning_content) {
        reasoning.hidden = false;
        reasoning.querySelector("pre").textContent += delta.reasoning_content;
      }
      if (delta.content) {
        content += delta.content;
        answer.textContent = content;
      }
    }
    box.dataset.done = "true";
  } catch (error) {
    const note = document.createElement("p");
    note.className = "error";
    note.textContent = error.name === "AbortError" ? "Stopped." : error.message;
    box.append(note);
    box.dataset.done = "error";
  } finally {
    if (content) state.history.push({ role: "assistant", content });
    state.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
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
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); }
  });
  $("stop").addEventListener("click", () => state.controller && state.controller.abort());
  $("clear").addEventListener("click", () => { state.history = []; $("messages").replaceChildren(); });
  loadServerMode();
  loadModels();
}

document.addEventListener("DOMContentLoaded", init);
