// nta dashboard, part 1 of 2: names, helpers, time, and the timeline drawn as SVG.
// Plain JavaScript, no third-party code, no request beyond this server (app.js: the rest).
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
