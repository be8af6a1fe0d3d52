// The "web chat drift" panel: what the web chat sent that this worker's web provider does not know.
// Self-contained (its own section in index.html, no shared state with page.js), read from /metrics/web-drift.
"use strict";

(() => {
  const when = (seconds) => new Date(seconds * 1000).toLocaleString();

  async function showDrift() {
    const status = document.getElementById("drift-status");
    const table = document.getElementById("drift-table");
    let body;
    try {
      const response = await fetch("/metrics/web-drift");
      if (!response.ok) throw new Error("HTTP " + response.status);
      body = await response.json();
    } catch (error) {
      status.textContent = "Could not read the drift watch: " + error.message;
      return;
    }
    const rows = body.shapes.map((shape) => {
      const tr = document.createElement("tr");
      [shape.kind, shape.name, String(shape.count), when(shape.first_seen), when(shape.last_seen)].forEach((text) => {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      });
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.hidden = rows.length === 0;
    status.textContent = rows.length
      ? `${body.unknown_total} time(s) the web chat sent something this worker does not know: it may have changed.`
      : "Nothing unknown seen by this worker: the web chat speaks as expected.";
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("drift-button").addEventListener("click", showDrift);
    showDrift();
  });
})();
