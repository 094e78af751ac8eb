// The operators' dashboard: calls the /v1 API with the key entered once (kept in localStorage)
// and redraws every few seconds. Data only ever reaches the page through textContent.
"use strict";

const KEY = "relayApiKey";
const REFRESH_MS = 3000;
const STATUSES = ["PROCESSED", "FAILED", "REJECTED", "CANCELLED", "NEEDS_REVIEW", "PROCESSING", "PENDING"];
let timer = null;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell ?? "";
    tr.appendChild(td);
  }
  return tr;
}

function fill(tableId, rows, empty) {
  const body = $(tableId).querySelector("tbody");
  const blank = row([el("span", empty, "muted")]);
  blank.firstChild.colSpan = $(tableId).querySelectorAll("th").length;
  body.replaceChildren(...(rows.length ? rows : [blank]));
}

function when(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "";
}

class AuthError extends Error {}

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + localStorage.getItem(KEY) } });
  if (resp.status === 401) throw new AuthError("key rejected");
  if (resp.status === 404) return null;  // a feature this server does not have
  if (!resp.ok) throw new Error(path + ": HTTP " + resp.status);
  return resp.json();
}

function progress(batch) {
  const counts = batch.runs || {};
  const files = batch.files || STATUSES.reduce((n, s) => n + (counts[s] || 0), 0) + (batch.notSubmitted || 0);
  const bar = el("div", null, "bar");
  const legend = el("div", null, "legend");
  for (const status of STATUSES) {
    const n = counts[status] || 0;
    if (!n) continue;
    const seg = el("span", null, "s-" + status);
    seg.style.width = (100 * n / Math.max(files, 1)) + "%";
    seg.title = status + " " + n;
    bar.appendChild(seg);
    legend.append(el("b", null, "s-" + status), status.toLowerCase().replace("_", " ") + " " + n);
  }
  const wrap = el("div");
  wrap.append(bar, legend);
  return wrap;
}

function drawBatches(data) {
  $("batches-note").textContent = data === null ? "This server has no batch API." : "";
  $("batches").hidden = data === null;
  const batches = data ? (data.batches || []) : [];
  fill("batches", batches.map((b) => row([
    el("span", b.batchId, "id"), b.workflowId, b.state, b.files, progress(b),
  ])), "No batches yet.");
}

function drawQueue(data) {
  const batches = data ? data.batches : [];
  $("queue-count").textContent = batches.length;
  $("queue-note").textContent = data ? "limit " + data.filesPerMinute + " files/min, in send order" : "";
  fill("queue", batches.map((b) => row([
    el("span", b.batchId, "id"), b.producer, b.priority, Math.round(100 * b.share) + "%",
    b.filesLeft, when(b.eta),
  ])), "Nothing is waiting to be sent.");
}

function drawReviews(data) {
  const runs = data ? data.runs : [];
  $("reviews-count").textContent = runs.length;
  fill("reviews", runs.map((r) => row([
    el("span", r.runId, "id"), r.workflowId, r.relayBatchId || r.batchId, when(r.updatedAt),
  ])), "Nothing is waiting for review.");
}

function drawDeploys(data) {
  const deploys = data ? data.deploys : [];
  fill("deploys", deploys.map((d) => {
    const v = d.version || {};
    const version = v.number ? "v" + v.number + (v.name ? " " + v.name : "") : (v.id || v.name || "");
    return row([
      d.rule, (d.trigger.type || "") + " " + (d.trigger.subject || ""), d.provider + " " + d.target,
      el("span", d.status, "outcome o-" + d.status), version, when(d.finishedAt),
    ]);
  }), "No deploys yet.");
}

function pct(value) {
  return typeof value === "number" ? (value * 100).toFixed(1) + "%" : "";
}

function drawEvals(data) {
  const evals = data ? data.evals : [];
  fill("evals", evals.map((e) => {
    const c = e.candidate || {};
    return row([
      el("span", e.id, "id"), (c.workflow || "") + " " + (c.ref || ""),
      el("span", e.state, "outcome o-" + e.state), pct(e.accuracy), pct(e.baselineAccuracy),
      String(e.files), when(e.finishedAt),
    ]);
  }), "No evaluations yet.");
}

// Dead letters: each row can be redriven; the next refresh shows the outcome.
function drawDeadLetters(data) {
  const items = data ? data.deadLetters : [];
  $("dead-letters-count").textContent = items.length;
  fill("dead-letters", items.map((d) => {
    const button = el("button", "Redrive");
    button.type = "button";
    button.addEventListener("click", () => redrive(d.id, button));
    return row([el("span", d.id, "id"), d.kind, d.tries, (d.error || "").slice(0, 80), when(d.lastFailedAt), button]);
  }), "No dead letters.");
}

async function redrive(id, button) {
  button.disabled = true;
  const resp = await fetch("/v1/dead-letters/" + encodeURIComponent(id) + "/redrive", {
    method: "POST", headers: { Authorization: "Bearer " + localStorage.getItem(KEY) },
  });
  button.textContent = resp.ok ? "queued" : "HTTP " + resp.status;
}

async function refresh() {
  try {
    const [queue, batches, reviews, deploys] = await Promise.all([
      api("/v1/queue"), api("/v1/batches?limit=10"), api("/v1/reviews?limit=20"),
      api("/v1/deploys?limit=10"),
    ]);
    drawQueue(queue);
    drawBatches(batches);
    drawReviews(reviews);
    drawDeploys(deploys);
    drawEvals(await api("/v1/evals?limit=10"));
    drawDeadLetters(await api("/v1/dead-letters?limit=20"));
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    if (err instanceof AuthError) return logout("That key was rejected.");
    $("updated").textContent = "refresh failed: " + err.message;
  }
}

function start() {
  $("login").hidden = true;
  $("board").hidden = false;
  $("forget").hidden = false;
  refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

function logout(message) {
  clearInterval(timer);
  localStorage.removeItem(KEY);
  $("board").hidden = true;
  $("forget").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(KEY, $("key").value.trim());
    start();
  });
  $("forget").addEventListener("click", () => logout(""));
  if (localStorage.getItem(KEY)) start(); else logout("");
});
