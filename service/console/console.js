// The ffgate console: a page over the gateway's JSON API, signed in with an API key that is kept in this
// tab's sessionStorage only. An admin key sees every client's generations, the queue and the budget
// (/v1/admin/*); a client key sees its own generations only. Images on the gateway itself are fetched with
// the key (fetch + blob URLs), so they pass the same authorization as the API; others (Firefly's pre-signed
// URLs) are loaded as they are.
"use strict";

const KEY = "ffgate.console.key";
const $ = (id) => document.getElementById(id);
let admin = false;
let blobs = [];

function key() { return sessionStorage.getItem(KEY); }

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${key()}` } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (_) { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

// An image on this gateway goes through fetch with the key; a URL elsewhere loads as it is.
async function imageSource(url) {
  const target = new URL(url, location.href);
  if (target.origin !== location.origin) return target.href;
  const response = await fetch(target.href, { headers: { Authorization: `Bearer ${key()}` } });
  if (!response.ok) throw new Error(`image: ${response.status}`);
  const blob = URL.createObjectURL(await response.blob());
  blobs.push(blob);
  return blob;
}

function image(url, attrs) {
  const img = el("img", attrs);
  imageSource(url).then((src) => { img.src = src; }, () => { img.alt = "image unavailable"; });
  return img;
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("key").value.trim());
  $("key").value = "";
  await start();
}

function signOut() {
  sessionStorage.removeItem(KEY);
  location.reload();
}

async function start() {
  $("sign-in-error").textContent = "";
  if (!key()) return;
  try {
    await api("/v1/admin/budget");
    admin = true;
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem(KEY);
      $("sign-in-error").textContent = "That key is not valid.";
      return;
    }
    admin = false; // 403: a client key
  }
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").textContent = admin ? "signed in as an admin" : "signed in with a client key";
  $("ops").hidden = !admin;
  $("f-client-label").hidden = !admin;
  if (admin) {
    const clients = await api("/v1/admin/clients");
    for (const c of clients.items) $("f-client").append(el("option", { value: c.id }, `${c.name} (${c.id})`));
    await Promise.all([showBudget(), showQueue()]);
  }
  await showGallery();
}

function windowGauge(name, w) {
  if (w.limit === null) return el("p", {}, `${name}: ${w.used} used, no limit`);
  const bar = el("div");
  bar.style.width = `${Math.min(100, (100 * w.used) / w.limit)}%`; // CSSOM: the CSP allows no inline styles
  return el("div", { class: "budget-window", "data-window": name },
    el("div", {}, `${name}: ${w.used} of ${w.limit} used, ${w.remaining} left`),
    el("div", { class: "gauge", role: "meter", "aria-valuenow": w.used, "aria-valuemax": w.limit }, bar));
}

async function showBudget() {
  const b = await api("/v1/admin/budget");
  const paused = b.pausedUntil ? `paused by a 429 until ${new Date(b.pausedUntil * 1000).toLocaleTimeString()}` : "";
  $("budget-body").replaceChildren(
    el("p", { class: "note" }, `credential ${b.credential}`),
    windowGauge("minute", b.minute), windowGauge("day", b.day),
    el("p", {}, `circuit breaker: ${b.breaker} `, paused));
}

async function showQueue() {
  const q = await api("/v1/admin/queue");
  if (!q.clients.length) { $("queue-body").replaceChildren(el("p", { class: "note" }, "Nothing is waiting.")); return; }
  const rows = [];
  for (const c of q.clients) {
    rows.push(el("tr", { class: "queue-client" }, el("th", {}, c.clientId),
      el("th", {}, `${c.depth} waiting`), el("th", {}, `oldest ${c.oldestWaitSeconds}s`)));
    for (const item of c.head) {
      rows.push(el("tr", { class: "queue-item" }, el("td", {}, item.id),
        el("td", {}, `position ${item.position}`), el("td", {}, `ETA ${item.etaSeconds}s`)));
    }
  }
  $("queue-body").replaceChildren(el("table", {}, el("tbody", {}, ...rows)));
}

async function generations() {
  const status = $("f-status").value, model = $("f-model").value.trim();
  const params = new URLSearchParams({ limit: "100" });
  if (status) params.set("status", status);
  if (admin) {
    if ($("f-client").value) params.set("client", $("f-client").value);
    if (model) params.set("model", model);
    return (await api(`/v1/admin/generations?${params}`)).items;
  }
  const page = await api(`/v1/generations?${params}`);
  return page.items
    .filter((g) => !model || g.request.customModelId === model)
    .map((g) => ({ clientId: null, generation: g }));
}

async function showGallery() {
  for (const blob of blobs) URL.revokeObjectURL(blob);
  blobs = [];
  const items = await generations();
  $("gallery-empty").hidden = items.length > 0;
  const cards = [];
  for (const { clientId, generation: g } of items) {
    const meta = el("div", { class: "meta" }, el("span", { class: `status ${g.status}` }, g.status), " ",
      g.request.prompt || "", clientId ? el("div", { class: "note" }, clientId) : "");
    const pictures = g.outputs.length
      ? g.outputs.map((o, i) => image(o.image.url, { class: "thumb", alt: `output ${i + 1} of ${g.id}`, loading: "lazy" }))
      : [el("div", { class: "placeholder" }, g.status)];
    for (const picture of pictures) {
      cards.push(el("div", { class: "card", "data-id": g.id, onclick: () => showDetail(g) }, picture, meta.cloneNode(true)));
    }
  }
  $("gallery").replaceChildren(...cards);
}

function field(name, value) {
  return [el("dt", {}, name), el("dd", {}, value === undefined || value === null || value === "" ? "—" : value)];
}

async function showDetail(g) {
  const r = g.request;
  const seeds = g.outputs.map((o) => o.seed).filter((s) => s !== null && s !== undefined);
  $("detail-title").textContent = g.id;
  $("detail-fields").replaceChildren(
    ...field("status", g.status), ...field("prompt", r.prompt), ...field("negative prompt", r.negativePrompt),
    ...field("model", r.customModelId), ...field("seeds", (seeds.length ? seeds : r.seeds || []).join(", ")),
    ...field("created", g.createdAt), ...field("updated", g.updatedAt), ...field("completed", g.completedAt),
    ...field("queue", g.queue ? `position ${g.queue.position}, ETA ${g.queue.etaSeconds}s` : ""),
    ...field("Firefly job", g.upstream && g.upstream.jobId),
    ...field("error", g.error ? `${g.error.code}: ${g.error.message}` : ""),
    ...field("metadata", g.metadata ? JSON.stringify(g.metadata) : ""));
  $("detail-images").replaceChildren(
    ...g.outputs.map((o, i) => image(o.image.url, { class: "full", alt: `output ${i + 1} of ${g.id}` })));
  const body = $("detail-deliveries").querySelector("tbody");
  body.replaceChildren();
  try {
    const deliveries = await api(`/v1/generations/${encodeURIComponent(g.id)}/deliveries`);
    for (const d of deliveries.items) {
      body.append(el("tr", {}, el("td", {}, d.event), el("td", {}, d.attempt), el("td", {}, d.statusCode ?? "—"),
        el("td", {}, d.durationMs), el("td", {}, d.error ?? ""), el("td", {}, d.at)));
    }
    if (!deliveries.items.length) body.append(el("tr", {}, el("td", { colspan: "6" }, "none")));
  } catch (error) {
    body.append(el("tr", {}, el("td", { colspan: "6" }, `not available: ${error.message}`)));
  }
  $("detail").hidden = false;
  $("detail").scrollIntoView();
}

$("sign-in").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("filters").addEventListener("submit", (event) => { event.preventDefault(); showGallery(); });
$("detail-close").addEventListener("click", () => { $("detail").hidden = true; });
start();
