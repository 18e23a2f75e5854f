// The console's few behaviours: the import upload, the job progress poll, the review keys.
// Plain JavaScript beside the vendored htmx; nothing is loaded from elsewhere.
"use strict";

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

function randomKey() {  // an Idempotency-Key; crypto.randomUUID needs a secure context
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function problemText(body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((e) => e.msg).join("; ");
  return "";
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

// -- import -------------------------------------------------------------------------------------
function setUpImport(form) {
  const input = form.querySelector('input[type="file"]');
  const zone = form.querySelector(".dropzone");
  const status = document.getElementById("import-status");
  const error = document.getElementById("import-error");
  const text = JSON.parse(document.getElementById("import-text").textContent);
  let key = randomKey();  // one key per chosen file: a double submit makes one job
  const showName = () => { if (input.files.length) zone.textContent = input.files[0].name; };
  input.addEventListener("change", () => { key = randomKey(); showName(); });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      key = randomKey();
      showName();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    status.textContent = text.uploading;
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), headers: {"Idempotency-Key": key},
      });
      const body = await response.json().catch(() => ({}));
      if (response.status === 202) {
        window.location.assign("/ui/jobs/" + body.job_id);
        return;
      }
      error.textContent = text.refused + " (" + response.status + "): " + problemText(body);
      error.hidden = false;
      status.textContent = "";
    } catch (err) {
      error.textContent = text.refused + ": " + err;
      error.hidden = false;
    }
    button.disabled = false;
  });
}

// -- job progress -------------------------------------------------------------------------------
const ENDED = ["succeeded", "failed", "cancelled"];

function setUpProgress(section) {
  const id = section.dataset.job;
  const text = JSON.parse(section.dataset.text);
  const bar = document.getElementById("job-bar");
  const rows = document.getElementById("job-rows");
  const state = document.getElementById("job-state");
  const error = document.getElementById("job-error");
  let first = null;
  if (ENDED.includes(section.dataset.state)) return;
  const poll = async () => {
    let job;
    try {
      job = await (await fetch("/ui/jobs/" + id + "/status")).json();
    } catch (err) {
      setTimeout(poll, 2000);
      return;
    }
    const p = job.progress;
    state.textContent = text.states[job.state] || job.state;
    state.className = "state state-" + job.state;
    if (p.rows_total) {
      bar.max = p.rows_total;
      bar.value = job.state === "succeeded" ? p.rows_total : (p.rows_done || 0);
      const now = Date.now() / 1000;
      if (first === null) first = {t: now, rows: p.rows_done || 0};
      let line = fill(text.rows, {done: bar.value, total: p.rows_total});
      const elapsed = now - first.t;
      if (elapsed > 0.5 && bar.value > first.rows) {
        line += " · " + fill(text.rate, {rate: Math.round((bar.value - first.rows) / elapsed)});
      }
      rows.textContent = line;
    } else if (job.state === "succeeded") {
      bar.max = 1; bar.value = 1;
    }
    if (!ENDED.includes(job.state)) {
      setTimeout(poll, 500);
      return;
    }
    section.dataset.state = job.state;
    if (job.state === "succeeded" && job.kind === "batch") {
      htmx.ajax("GET", "/ui/jobs/" + id + "/results", {target: "#results", swap: "innerHTML"});
    } else if (job.state === "failed") {
      error.textContent = fill(text.failed, {error: job.error || ""});
      error.hidden = false;
    } else if (job.state === "cancelled") {
      error.textContent = text.cancelled;
      error.hidden = false;
    }
  };
  poll();
}

// -- review -------------------------------------------------------------------------------------
function setUpReview() {
  const queue = document.getElementById("queue");
  if (!queue || !document.getElementById("decided-count")) return;
  const undoButton = document.getElementById("undo");
  const decidedCount = document.getElementById("decided-count");
  const leftCount = document.getElementById("left-count");
  const undoStack = [];  // the items decided in this sitting, last on top
  let decidedNow = 0;

  queue.addEventListener("htmx:afterSwap", () => {
    const state = document.getElementById("queue-state");
    if (!state) return;
    leftCount.textContent = state.dataset.left;
    const decided = state.dataset.decided ? state.dataset.decided.split(",") : [];
    decided.forEach((id) => undoStack.push(id));
    decidedNow += decided.length;
    decidedCount.textContent = decidedNow;
    undoButton.disabled = undoStack.length === 0;
  });

  const undo = () => {
    const id = undoStack.pop();
    if (id === undefined) return;
    decidedNow = Math.max(0, decidedNow - 1);
    decidedCount.textContent = decidedNow;
    undoButton.disabled = undoStack.length === 0;
    htmx.ajax("POST", "/ui/review/" + id + "/undo", {
      target: "#queue", swap: "innerHTML", headers: {"X-CSRF-Token": csrfToken()},
      values: {job_id: queue.dataset.job || ""},
    });
  };
  undoButton.addEventListener("click", undo);

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag)) return;  // typing in a box
    if (e.key === "Enter" && ["button", "a", "summary"].includes(tag)) return;  // its own action
    const current = queue.querySelector(".review-item.current");
    let target = null;
    if (/^[1-9]$/.test(e.key) && current) {
      target = current.querySelector('button[data-key="' + e.key + '"]');
    } else if (e.key === "Enter" && current) {
      target = current.querySelector('button[data-action="accept"]');
    } else if (e.key === "s" && current) {
      target = current.querySelector('button[data-action="skip"]');
    } else if (e.key === "u") {
      e.preventDefault();
      undo();
      return;
    }
    if (target) {
      e.preventDefault();
      target.click();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("import-form");
  if (form) setUpImport(form);
  const progress = document.getElementById("progress");
  if (progress) setUpProgress(progress);
  setUpReview();
});
