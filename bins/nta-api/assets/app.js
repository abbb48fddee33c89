// nta dashboard: plain JavaScript and SVG, no third-party code, no request beyond this server.
"use strict";

const METRICS = ["packets_per_s", "bits_per_s", "packets", "bytes", "mean_pkt_size", "ipv4_packets", "ipv6_packets",
  "arp_packets", "arp_replies", "other_packets", "undecoded_packets", "tcp_packets", "udp_packets", "icmp_packets",
  "fragments", "truncated_packets", "malformed_packets", "unique_src_ips", "unique_dst_ips", "unique_src_ports",
  "unique_dst_ports", "src_ip_entropy", "dst_ip_entropy", "dst_port_entropy", "tcp_syn", "tcp_synack", "tcp_rst",
  "tcp_fin", "dns_queries", "dns_responses", "dns_nxdomain", "dns_txt_queries", "dns_qname_len_mean",
  "dns_qname_len_max", "dns_label_entropy_mean", "tls_client_hellos", "unique_sni", "http_requests",
  "icmp_unreachable", "icmp_echo_requests", "new_flows", "active_flows", "ended_flows", "half_open_flows",
  "evicted_flows", "initiator_bytes", "max_src_new_flows", "max_pair_connections"];
const SEVERITIES = ["low", "medium", "high", "critical"];
const COLORS = { low: "#8fb3e8", medium: "#f2b632", high: "#e8702a", critical: "#c81e1e" };
const MAX_MARKERS = 20000;

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "style") Object.assign(e.style, v); else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};
const svg = (tag, attrs = {}) => {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

const state = { metric: "packets_per_s", range: null, zoom: null, utc: false, incidents: [], selected: null, extent: null };

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

// ---- time ----
const nsToMs = (ns) => Number(ns) / 1e6;
function fmtTime(ms, withDate) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  const [Y, M, D, h, m, s] = state.utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  const t = `${p(h)}:${p(m)}` + (s ? `:${p(s)}` : "");
  return withDate ? `${Y}-${p(M)}-${p(D)} ${t}` : t;
}
const zone = () => (state.utc ? "UTC" : "local time");
function iso(ms) { return new Date(ms).toISOString(); }
function rangeQuery() {
  const r = state.zoom || state.range;
  return r ? `&since=${encodeURIComponent(iso(r[0]))}&until=${encodeURIComponent(iso(r[1]))}` : "";
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

// ---- the timeline ----
function niceStep(span, target) {
  const raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800].map((s) => s * 1000);
function timeTicks(a, b, n) {
  const step = TIME_STEPS.find((s) => (b - a) / s <= n) || TIME_STEPS[TIME_STEPS.length - 1];
  const offset = state.utc ? 0 : new Date(a).getTimezoneOffset() * 60000;
  const out = [];
  for (let t = Math.ceil((a - offset) / step) * step + offset; t <= b; t += step) out.push(t);
  return out;
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

function drawChart(series, anomalies, incidents) {
  const box = $("#chart");
  const W = Math.max(box.clientWidth, 400), H = 362, left = 58, right = 12, top = 30, mainH = 200, gap = 30, scoreH = 70;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, height: H, role: "img", "aria-label": `timeline of ${state.metric}` });
  const t0 = nsToMs(series.since_ns), t1 = Math.max(nsToMs(series.until_ns), t0 + 1);
  const x = (ms) => left + ((ms - t0) / (t1 - t0)) * (W - left - right);
  const values = series.series[0].values;
  const maxV = Math.max(1e-9, ...values.filter((v) => v !== null));
  const yStep = niceStep(maxV, 4), yMax = Math.ceil(maxV / yStep) * yStep;
  const y = (v) => top + mainH - (v / yMax) * mainH;
  const sTop = top + mainH + gap, ys = (v) => sTop + scoreH - v * scoreH;
  const wide = t1 - t0 > 86400000;
  // Grid and axes.
  const axis = svg("g", { class: "axis" });
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    axis.append(svg("line", { class: "grid-line", x1: left, x2: W - right, y1: y(v), y2: y(v) }));
    const t = svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end" });
    t.textContent = v >= 1e6 ? (v / 1e6).toFixed(1) + "M" : v >= 1e3 ? (v / 1e3).toFixed(1) + "k" : +v.toFixed(2);
    axis.append(t);
  }
  for (const t of timeTicks(t0, t1, Math.floor((W - left) / 90))) {
    axis.append(svg("line", { class: "grid-line", x1: x(t), x2: x(t), y1: top, y2: sTop + scoreH }));
    const anchor = x(t) > W - right - 24 ? "end" : x(t) < left + 24 ? "start" : "middle";
    const lab = svg("text", { x: x(t), y: sTop + scoreH + 14, "text-anchor": anchor });
    lab.textContent = fmtTime(t, wide);
    axis.append(lab);
  }
  const zl = svg("text", { x: W - right, y: H - 4, "text-anchor": "end" });
  const [d0, d1] = [fmtTime(t0, true).slice(0, 10), fmtTime(t1 - 1, true).slice(0, 10)];
  zl.textContent = `${d0 === d1 ? d0 : d0 + " … " + d1}, ${zone()} · step ${(series.step_ns / 1e9).toLocaleString()} s (${series.series[0].aggregate})`;
  axis.append(zl);
  const sl = svg("text", { x: left - 6, y: sTop + 4, "text-anchor": "end" });
  sl.textContent = "score";
  axis.append(sl);
  root.append(axis);
  // Incidents as bands, named by kind.
  let labelEnd = -Infinity;
  for (const inc of incidents) {
    const a = x(Math.max(nsToMs(inc.start_ns), t0)), b = x(Math.min(nsToMs(inc.end_ns), t1));
    if (b < left || a > W - right) continue;
    const band = svg("rect", { class: "band", x: a, y: top, width: Math.max(b - a, 2), height: mainH, fill: COLORS[inc.severity] });
    band.append(svg("title"));
    band.firstChild.textContent = inc.headline;
    root.append(band);
    // Named above the chart, where the label does not cover the line (skipped where it
    // would overlap the previous one).
    if (inc.kind !== "unknown") {
      const name = inc.kind.replace(/_/g, " ");
      const lx = Math.max(a, labelEnd + 4);
      if (lx - a < 60) {
        const t = svg("text", { class: "band-label", x: lx, y: top - 14, fill: COLORS[inc.severity] });
        t.textContent = name;
        root.append(t);
        labelEnd = lx + name.length * 6.2;
      }
    }
  }
  // The metric.
  let d = "", pen = false;
  values.forEach((v, i) => {
    if (v === null) { pen = false; return; }
    const px = x(nsToMs(series.t_ns[i]) + series.step_ns / 2e6), py = y(v);
    d += (pen ? "L" : "M") + px.toFixed(1) + " " + py.toFixed(1);
    pen = true;
  });
  root.append(svg("path", { class: "series", d }));
  // Anomalies: a mark per window above the line, and in the score panel their model score
  // against the threshold; baseline-only anomalies (no model score) as triangles on the floor.
  root.append(svg("rect", { x: left, y: sTop, width: W - left - right, height: scoreH, fill: "#fafbfc", stroke: "#eef0f3" }));
  const thresholds = anomalies.map((a) => a.score_threshold).filter((v) => v !== null && v !== undefined);
  const thr = thresholds.length ? thresholds.sort((a, b) => a - b)[Math.floor(thresholds.length / 2)] : 0.5;
  root.append(svg("line", { class: "threshold", x1: left, x2: W - right, y1: ys(thr), y2: ys(thr) }));
  const marks = svg("g", { class: "marks" });
  for (const a of anomalies) {
    const ms = nsToMs(a.window_start_ns);
    if (ms < t0 || ms > t1) continue;
    const px = x(ms), c = COLORS[a.severity];
    marks.append(svg("rect", { x: px - 1, y: top - 9, width: 3, height: 7, fill: c }));
    if (a.score !== null && a.score !== undefined) {
      marks.append(svg("circle", { cx: px, cy: ys(Math.min(1, a.score)), r: 2.6, fill: c }));
    } else {
      marks.append(svg("path", { d: `M${px - 3.5} ${sTop + scoreH - 1}L${px + 3.5} ${sTop + scoreH - 1}L${px} ${sTop + scoreH - 8}Z`, fill: c }));
    }
  }
  root.append(marks);
  // Zoom by dragging (the handlers live on the container, see init).
  const sel = svg("rect", { class: "sel", y: top, height: mainH + gap + scoreH, width: 0, x: 0 });
  root.append(sel);
  state.geom = { W, left, right, t0, t1, sel, root };
  box.replaceChildren(root);
  box.dataset.points = String(values.filter((v) => v !== null).length);
  box.dataset.anomalies = String(anomalies.length);
  const legend = $("#legend");
  legend.replaceChildren(
    ...SEVERITIES.map((s) => el("span", {}, el("i", { style: { background: COLORS[s] } }), s)),
    el("span", {}, el("i", { class: "tri", style: { background: "#888" } }), "baseline only (no model score)"),
    el("span", {}, "- - - model threshold " + thr.toFixed(2)),
    el("span", {}, "bands: incidents, named by kind"));
}

function dragZoom(box) {
  let from = null;
  const px = (ev) => { const g = state.geom, r = g.root.getBoundingClientRect(); return ((ev.clientX - r.left) / r.width) * g.W; };
  box.addEventListener("mousedown", (ev) => {
    if (!state.geom) return;
    ev.preventDefault();
    from = px(ev);
    state.geom.sel.setAttribute("x", from);
    state.geom.sel.setAttribute("width", 0);
  });
  box.addEventListener("mousemove", (ev) => {
    if (from === null || !state.geom) return;
    const to = px(ev);
    state.geom.sel.setAttribute("x", Math.min(from, to));
    state.geom.sel.setAttribute("width", Math.abs(to - from));
  });
  window.addEventListener("mouseup", (ev) => {
    if (from === null || !state.geom) return;
    const g = state.geom, to = px(ev), a = Math.min(from, to), b = Math.max(from, to);
    from = null;
    if (b - a < 6) { g.sel.setAttribute("width", 0); return; }
    const inv = (p) => g.t0 + ((p - g.left) / (g.W - g.left - g.right)) * (g.t1 - g.t0);
    state.zoom = [Math.max(inv(a), g.t0), Math.min(inv(b), g.t1)];
    $("#zoom-out").hidden = false;
    refreshTimeline();
  });
}

function refreshTimeline() {
  loadTimeline().catch(showError);
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
