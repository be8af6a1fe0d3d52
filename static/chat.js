// The page's chat box: streams through this gateway's /v1/chat/completions, answers rendered as Markdown.
// Only turns that were answered join the conversation: a failed prompt is never sent again with the next one.
"use strict";

const chat = { history: [], controller: null, generation: 0 };

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

// Render the answer at most once a frame, its finished blocks once: a long answer arrives in many deltas.
function answerPainter(answer) {
  let text = "";
  let pending = false;
  const render = markdown.painter(answer);
  const paint = () => { pending = false; render(text); };
  return {
    set(value) {
      text = value;
      if (!pending) { pending = true; requestAnimationFrame(paint); }
    },
    flush: paint,
  };
}

function chatNotice(text) {
  $("chat-status").textContent = text;
}

// A turn that failed stays on screen, dimmed, and out of the conversation; its prompt goes back in the box.
function markFailed(prompt, reply, text, note) {
  prompt.classList.add("failed");
  reply.classList.add("failed");
  note.textContent += " Not kept in the conversation; the prompt is back in the box to send again.";
  const input = $("chat-input");
  if (!input.value.trim()) input.value = text;
}

async function sendChat(event) {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text || chat.controller) return;
  if (!keyValue()) {
    chatNotice(fillInYourKey());
    $("key").focus();
    return;
  }
  chatNotice("");
  input.value = "";
  const turn = { role: "user", content: text };
  const generation = chat.generation;
  const prompt = addMessage("user", text);
  const box = addMessage("assistant");
  const reasoning = box.querySelector(".reasoning");
  const painter = answerPainter(box.querySelector(".answer"));
  chat.controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  let content = "";
  let kept = false;
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", signal: chat.controller.signal,
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ model: $("model").value, stream: true, messages: [...chat.history, turn] }) });
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
        painter.set(content);
      }
    }
    kept = true;
    box.dataset.done = "true";
  } catch (error) {
    const stopped = error.name === "AbortError";
    const note = document.createElement("p");
    note.className = "error";
    note.textContent = stopped ? "Stopped." : error.message;
    box.append(note);
    box.dataset.done = "error";
    // An answer the person stopped is theirs to continue from; a failed or empty one is not.
    kept = stopped && Boolean(content);
    if (!kept) markFailed(prompt, box, text, note);
  } finally {
    painter.flush();
    if (kept && generation === chat.generation) chat.history.push(turn, { role: "assistant", content });
    chat.controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

function newChat() {
  chat.generation++;
  chat.history = [];
  if (chat.controller) chat.controller.abort();
  $("messages").replaceChildren();
  chatNotice("");
}

function initChat() {
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("chat-form").requestSubmit(); }
  });
  $("stop").addEventListener("click", () => chat.controller && chat.controller.abort());
  $("clear").addEventListener("click", newChat);
}
