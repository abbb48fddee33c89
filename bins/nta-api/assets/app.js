// nta dashboard, part 2 of 2: the API and its token, the lists, uploads, jobs, live
// capture, and start-up (chart.js, loaded first: names, helpers, the timeline).
"use strict";

// ---- the API, with the token asked once and kept for the browser session ----
function token() { return sessionStorage.getItem("nta-token"); }
async function askToken() {
  const d = $("#token-dialog");
  $("#token-input").value = "";
  d.showModal();
  await new Promise((ok) => d.addEventListener("close", ok, { once: true }));
  const t = $("#token-input").value.trim();
  if (t) sessionStorage.setItem("nta-token", t);
  $("#token-btn").hidden = false;
  return t;
}
async function api(path, opts = {}, retried = false) {
  const headers = Object.assign({}, opts.headers || {});
  if (token()) headers.authorization = "Bearer " + token();
  const r = await fetch(path, Object.assign({}, opts, { headers }));
  if (r.status === 401 && !retried) {
    if (await askToken()) return api(path, opts, true);
  }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((body && body.error && body.error.message) || ("HTTP " + r.status));
  return body;
}

// ---- status ----
async function loadStatus() {
  const s = await api("/api/status");
  const chips = $("#status");
  chips.replaceChildren(
    el("span", {}, s.mode),
    el("span", {}, `${s.metrics_windows} windows`),
    el("span", {}, `${s.anomalies} anomalies`),
    el("span", {}, `${s.models} models`),
    el("span", {}, s.records.backend + (s.records.sensors ? ` · ${s.records.sensors.length} sensors` : "")));
  $("#live").hidden = !String(s.mode).startsWith("live");
  return s;
}

async function fetchAnomalies(q) {
  const fields = "id,window_start_ns,window_end_ns,severity,score,score_threshold,detector,kind,sensor";
  const first = await api(`/api/anomalies?order=time&limit=1000&fields=${fields}${q}`);
  let items = first.items;
  const pages = [];
  for (let off = 1000; off < Math.min(first.total, MAX_MARKERS); off += 1000) {
    pages.push(api(`/api/anomalies?order=time&limit=1000&offset=${off}&fields=${fields}${q}`));
  }
  for (const p of await Promise.all(pages)) items = items.concat(p.items);
  return items;
}

async function loadTimeline() {
  const q = rangeQuery();
  const [series, anomalies, summary] = await Promise.all([
    api(`/api/series?metric=${state.metric}${q}`),
    fetchAnomalies(q),
    api(`/api/anomalies/summary?order=time&limit=1000${q}`),
  ]);
  drawChart(series, anomalies, summary.incidents);
}

// ---- incidents and their anomalies ----
const hosts = (list) => (list || []).slice(0, 3).map((h) => h.ip).join(", ") + ((list || []).length > 3 ? ` +${list.length - 3}` : "");
const sevBadge = (s) => el("span", { class: `sev ${s}` }, s);

async function loadIncidents() {
  const s = await api(`/api/anomalies/summary?limit=200${rangeQuery()}`);
  state.incidents = s.incidents;
  $("#incidents-count").textContent = `${s.incidents_total} incidents, ${s.summary.total} anomalies`;
  const body = $("#incidents tbody");
  body.replaceChildren(...s.incidents.map((inc) => {
    const tr = el("tr", { "data-id": inc.id, "data-severity": inc.severity },
      el("td", {}, sevBadge(inc.severity)),
      el("td", { class: "kind" }, inc.kind.replace(/_/g, " ")),
      el("td", { class: "ips" }, hosts(inc.attackers)),
      el("td", { class: "ips" }, hosts(inc.victims)),
      el("td", { title: `${fmtTime(nsToMs(inc.start_ns), true)} – ${fmtTime(nsToMs(inc.end_ns), true)} ${zone()}` },
        fmtTime(nsToMs(inc.start_ns), true).slice(5) + "–" + fmtTime(nsToMs(inc.end_ns), false)),
      el("td", {}, inc.windows));
    tr.addEventListener("click", () => { body.querySelectorAll("tr").forEach((r) => r.classList.remove("sel")); tr.classList.add("sel"); showIncident(inc).catch(showError); });
    return tr;
  }));
}

async function showIncident(inc) {
  $("#detail-title").textContent = "Incident";
  const q = `&since=${encodeURIComponent(iso(nsToMs(inc.start_ns)))}&until=${encodeURIComponent(iso(nsToMs(inc.end_ns)))}`;
  const page = await api(`/api/anomalies?order=time&limit=1000${q}`);
  const ids = new Set(inc.anomalies);
  const list = page.items.filter((a) => ids.has(a.id));
  const table = el("table", { class: "list small", id: "incident-anomalies" },
    el("thead", {}, el("tr", {}, el("th", {}, "Window"), el("th", {}, "Severity"), el("th", {}, "Detector"), el("th", {}, "Score"), el("th", {}, "Detail"))),
    el("tbody", {}, ...list.map((a) => {
      const tr = el("tr", { "data-id": a.id }, el("td", {}, fmtTime(nsToMs(a.window_start_ns), false)), el("td", {}, sevBadge(a.severity)),
        el("td", {}, a.detector), el("td", {}, a.score === null ? "—" : a.score.toFixed(3)), el("td", {}, a.detail || a.summary));
      tr.addEventListener("click", () => showAnomaly(a).catch(showError));
      return tr;
    })));
  $("#detail").replaceChildren(
    el("p", { class: "headline" }, sevBadge(inc.severity), " ", el("strong", {}, inc.headline || inc.summary)),
    el("p", { class: "muted" }, `${inc.windows} window(s), ${fmtTime(nsToMs(inc.start_ns), true)} – ${fmtTime(nsToMs(inc.end_ns), true)} ${zone()}; detector ${inc.detector}; top metrics ${inc.top_metrics.join(", ")}` + (inc.sensor ? `; sensor ${inc.sensor}` : "")),
    table,
    el("div", { id: "anomaly-detail" }, el("p", { class: "muted" }, "Click an anomaly for its explanation.")));
  if (list.length) await showAnomaly(list[list.length > 1 ? list.findIndex((a) => a.severity === inc.severity) : 0] || list[0]);
}

const fmt = (v, d = 3) => (v === null || v === undefined ? "—" : typeof v === "number" ? (Math.abs(v) >= 1000 ? Math.round(v).toLocaleString() : +v.toFixed(d)) : v);

async function showAnomaly(a) {
  const explain = el("table", { class: "list small explain", id: "explanation" },
    el("thead", {}, el("tr", {}, ...["Metric", "Value", "Baseline median", "z", "Share of model"].map((h) => el("th", {}, h)), el("th", {}, "Reason"))),
    el("tbody", {}, ...a.explanation.map((c) => el("tr", {}, el("td", {}, c.metric), el("td", { class: "num" }, fmt(c.value)),
      el("td", { class: "num" }, fmt(c.baseline_median)), el("td", { class: "num" }, fmt(c.z, 2)),
      el("td", { class: "num" }, c.model_share === null ? "—" : (c.model_share * 100).toFixed(1) + "%"), el("td", {}, c.reason)))));
  const parts = [
    el("h3", {}, `Anomaly ${a.id} — ${fmtTime(nsToMs(a.window_start_ns), true)} ${zone()}`),
    el("p", {}, a.summary),
    explain,
    el("h3", {}, "Hosts"),
    el("p", { class: "ips" }, "attackers: " + (hosts(a.attackers) || "—") + " · victims: " + (hosts(a.victims) || "—")),
    el("p", { class: "ips" }, "top sources: " + a.top_sources.map((t) => `${t.ip} (${t.bytes.toLocaleString()} B)`).join(", ")),
    el("p", { class: "ips" }, "top destination ports: " + a.top_dst_ports.map((t) => `${t.port} (${t.packets})`).join(", ")),
  ];
  try {
    const flows = await api(`/api/flows?anomaly=${a.id}&limit=10`);
    parts.push(el("h3", {}, `Flows (${flows.total})`), el("table", { class: "list small" },
      el("tbody", {}, ...flows.items.map((f) => el("tr", {}, el("td", { class: "ips" }, `${f.src_ip}:${f.src_port} → ${f.dst_ip}:${f.dst_port}`),
        el("td", {}, f.conn_state), el("td", {}, `${f.src_packets + f.dst_packets} pkts`), el("td", { class: "ips" }, f.community_id))))));
  } catch (e) { parts.push(el("p", { class: "muted" }, "flows: " + e.message)); }
  $("#anomaly-detail").replaceChildren(...parts);
}

// ---- captures, models, jobs ----
function setProgress(v, text) {
  const p = $("#progress");
  p.hidden = false;
  p.value = Math.max(0, Math.min(100, v));
  $("#upload-state").textContent = text;
}

function upload(file) {
  return new Promise((ok, fail) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    if (token()) xhr.setRequestHeader("authorization", "Bearer " + token());
    xhr.upload.onprogress = (e) => e.lengthComputable && setProgress((e.loaded / e.total) * 30, `uploading ${Math.round(e.loaded / 1e3)} kB`);
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || "{}");
      if (xhr.status === 201) ok(body); else fail(new Error((body.error && body.error.message) || "upload failed: " + xhr.status));
    };
    xhr.onerror = () => fail(new Error("upload failed"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

async function follow(jobId, from, to, what) {
  // Queued: `from`; reading the capture: along its bytes; modelling and detecting (the bytes
  // all read): near `to`; done: `to`.
  const span = to - from;
  for (;;) {
    const j = await api(`/api/jobs/${jobId}`);
    const frac = j.bytes_total > 0 ? j.bytes_done / j.bytes_total : 0;
    let v = from, phase = j.state;
    if (j.state === "running") {
      v = frac >= 1 ? to - span * 0.1 : from + span * (0.05 + 0.75 * frac);
      phase = frac >= 1 ? "modelling and detecting" : `reading the capture ${Math.round(frac * 100)}%`;
    }
    if (j.state === "done") v = to;
    setProgress(v, `${what}: ${phase}`);
    if (j.state === "done") return j;
    if (j.state === "failed" || j.state === "cancelled") throw new Error(`${what} ${j.state}: ${j.error || ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function analyse(ev) {
  ev.preventDefault();
  const file = $("#upload-file").files[0];
  if (!file) return;
  $("#upload-btn").disabled = true;
  try {
    setProgress(0, "uploading");
    const up = await upload(file);
    setProgress(30, `uploaded ${up.packets.toLocaleString()} packets; analysing`);
    const started = await api("/api/control/start", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ upload_id: up.id }) });
    setProgress(32, "analysis started");
    await follow(started.job || started.id, 30, 100, "analysis");
    setProgress(100, `done: ${file.name} analysed`);
    $("#upload-state").dataset.done = "1";
    await refreshAll();
  } catch (e) {
    $("#upload-state").textContent = e.message;
    $("#upload-state").classList.add("error");
  } finally {
    $("#upload-btn").disabled = false;
  }
}

async function loadModels() {
  const models = await api("/api/models");
  $("#models tbody").replaceChildren(...models.map((m) => el("tr", {}, el("td", {}, m.name), el("td", {}, m.rows ?? "—"),
    el("td", {}, m.n_estimators ?? "—"), el("td", {}, m.created_at ? fmtTime(Date.parse(m.created_at), true) : (m.error || "")))));
}

async function loadBaselines() {
  const list = await api("/api/baselines");
  $("#baselines tbody").replaceChildren(...list.map((b) => el("tr", {}, el("td", {}, b.name),
    el("td", {}, b.window_ns ? `${b.window_ns / 1e9} s` : "—"), el("td", {}, b.windows ?? "—"),
    el("td", {}, b.created_at ? fmtTime(Date.parse(b.created_at), true) : (b.error || "")))));
}

async function train(ev) {
  ev.preventDefault();
  const name = $("#train-name").value.trim();
  try {
    const r = await api("/api/train", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
    const id = r.job || r.id;
    await follow(id, 0, 100, "training");
    await loadModels();
  } catch (e) { showError(e); }
}

async function loadJobs() {
  const jobs = await api("/api/jobs");
  const list = Array.isArray(jobs) ? jobs : jobs.jobs || [];
  $("#jobs tbody").replaceChildren(...list.slice(-12).reverse().map((j) => el("tr", {}, el("td", { class: "ips" }, j.id.slice(0, 8)),
    el("td", {}, j.kind), el("td", {}, j.state), el("td", {}, j.bytes_total ? Math.round((100 * j.bytes_done) / j.bytes_total) + "%" : ""))));
}

// ---- live ----
async function loadLive() {
  const s = await api("/api/control/state");
  const l = s.live;
  if (!l) return;
  $("#live").hidden = false;
  const kv = [["interface", l.interface], ["state", l.ended ? "ended" : l.learning ? "learning normal" : "detecting"],
    ["packets/s", fmt(l.packets_per_s, 1)], ["packets", fmt(l.packets)], ["kernel drops", fmt(l.kernel_dropped)],
    ["interface drops", fmt(l.interface_dropped)], ["windows", fmt(l.windows)], ["anomalies", fmt(l.anomalies)]];
  $("#live-state").replaceChildren(...kv.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

async function events() {
  // Server-Sent Events through fetch (EventSource cannot send the token).
  const headers = token() ? { authorization: "Bearer " + token() } : {};
  const r = await fetch("/api/events", { headers });
  if (!r.ok || !r.body) return;
  const reader = r.body.getReader(), dec = new TextDecoder();
  let buf = "", refresh = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
      const kind = (chunk.match(/^event: (.*)$/m) || [])[1], data = (chunk.match(/^data: (.*)$/m) || [])[1];
      if (!kind || !data) continue;
      const ev = JSON.parse(data);
      if (kind === "window" || kind === "anomalies") {
        const feed = $("#live-feed");
        feed.prepend(el("li", {}, kind === "window" ? `${ev.window_start}: ${ev.packets} packets` : `${ev.new} new anomalies (${ev.job})`));
        while (feed.children.length > 50) feed.lastChild.remove();
        clearTimeout(refresh);
        refresh = setTimeout(() => refreshAll().catch(showError), 1000);
      }
    }
  }
}

function showError(e) {
  const p = $("#upload-state");
  p.textContent = String(e.message || e);
  p.classList.add("error");
}

async function refreshAll() {
  await loadStatus();
  await Promise.all([loadTimeline(), loadIncidents(), loadModels(), loadBaselines(), loadJobs()]);
}

function init() {
  const sel = $("#metric");
  sel.replaceChildren(...METRICS.map((m) => el("option", { value: m }, m.replace(/_/g, " "))));
  sel.value = state.metric;
  sel.addEventListener("change", () => { state.metric = sel.value; refreshTimeline(); });
  $("#utc").addEventListener("change", (e) => { state.utc = e.target.checked; refreshAll().catch(showError); });
  $("#ranges").addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (!b) return;
    document.querySelectorAll("#ranges button").forEach((x) => x.classList.toggle("on", x === b));
    state.zoom = null;
    $("#zoom-out").hidden = true;
    const r = b.dataset.range;
    // Ranges end at the newest window (capture time, not the browser's clock).
    state.range = r === "all" || !state.extent ? null : [state.extent[1] - Number(r) * 1000, state.extent[1]];
    refreshTimeline();
    loadIncidents().catch(showError);
  });
  $("#zoom-out").addEventListener("click", () => { state.zoom = null; $("#zoom-out").hidden = true; refreshTimeline(); });
  $("#upload-form").addEventListener("submit", analyse);
  $("#train-form").addEventListener("submit", train);
  $("#token-btn").addEventListener("click", () => askToken().then(() => refreshAll()).catch(showError));
  dragZoom($("#chart"));
  // Drawn again when the chart's width changes (not on every resize event).
  let width = $("#chart").clientWidth;
  window.addEventListener("resize", () => {
    clearTimeout(init.t);
    init.t = setTimeout(() => { if ($("#chart").clientWidth !== width) { width = $("#chart").clientWidth; refreshTimeline(); } }, 200);
  });
  api("/api/series?metric=packets").then((s) => { state.extent = [nsToMs(s.since_ns), nsToMs(s.until_ns)]; }).catch(() => {});
  refreshAll().then(() => { document.body.dataset.ready = "1"; }).catch(showError);
  setInterval(() => { loadJobs().catch(() => {}); loadLive().catch(() => {}); }, 2000);
  events().catch(() => {});
}

init();
