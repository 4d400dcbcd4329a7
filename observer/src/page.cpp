// page.cpp - the live page served at `/`. One document, inline CSS and JavaScript, no
// library, no CDN, no build step: it polls /actors.json once a second and redraws.
//
// It stays light with 100,000 actors: the server sorts, filters and pages the table (200
// rows a page), sums actors by type, and computes rates and growing mailboxes between its
// snapshots; the page draws what one page of JSON holds, and keeps five minutes of the
// system's counters for the charts.
#include "page.hpp"

namespace troupe::observe {

namespace {

constexpr std::string_view kPage = R"TROUPE_PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>troupe observer</title>
<style>
  :root {
    --bg: #f5f6f8; --panel: #ffffff; --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec;
    --accent: #3559e0; --good: #1f9d62; --warn: #d98a00; --bad: #d2364b; --head: #1d2330;
  }
  * { box-sizing: border-box; }
  [hidden] { display: none !important; }
  body { margin: 0; background: var(--bg); color: var(--ink);
         font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
  header { background: var(--head); color: #fff; padding: 12px 24px; display: flex;
           align-items: baseline; gap: 18px; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; font-weight: 600; letter-spacing: .3px; }
  header h1 span { color: #8fa6ff; }
  header .meta { color: #b9c0d0; font-size: 13px; }
  header .live { margin-left: auto; font-size: 13px; color: #b9c0d0; }
  .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%;
         background: var(--good); margin-right: 6px; vertical-align: 0; }
  .dot.off { background: var(--bad); }
  main { padding: 18px 24px 40px; max-width: 1500px; margin: 0 auto; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 12px; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
  .card .k { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .3px;
             white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .card .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
  .card .d { color: var(--muted); font-size: 12px; font-variant-numeric: tabular-nums;
             white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .card.bad .v { color: var(--bad); }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 14px; margin-top: 14px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  section h2 { font-size: 14px; margin: 0 0 8px; font-weight: 600; }
  section h2 small { color: var(--muted); font-weight: 400; margin-left: 6px; }
  .chart { display: flex; align-items: center; gap: 10px; margin: 6px 0; }
  .chart .label { width: 120px; color: var(--muted); font-size: 12px; }
  .chart .now { width: 80px; text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
  .chart svg { flex: 1; height: 36px; background: #fafbfc; border-radius: 4px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 12px; user-select: none; }
  th.sort { cursor: pointer; }
  th.sort:hover { color: var(--accent); }
  th.on { color: var(--accent); }
  td.n, th.n { text-align: right; }
  td.name { max-width: 280px; overflow: hidden; text-overflow: ellipsis; font-weight: 500; }
  td.type { max-width: 300px; overflow: hidden; text-overflow: ellipsis; color: var(--muted);
            font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
  tr.growing td { background: #fff4e0; }
  tr.growing td.depth { color: var(--warn); font-weight: 700; }
  .pill { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 12px; }
  .pill.idle { background: #eef0f4; color: var(--muted); }
  .pill.scheduled { background: #e3f5ec; color: var(--good); }
  .pill.stopped { background: #fde7ea; color: var(--bad); }
  .tag { color: var(--muted); font-size: 12px; }
  .bar { height: 6px; background: #e8ecfb; border-radius: 3px; min-width: 60px; }
  .bar div { height: 6px; background: var(--accent); border-radius: 3px; }
  .controls { display: flex; gap: 10px; align-items: center; flex-wrap: wrap; margin-bottom: 8px; }
  input, select, button { font: inherit; padding: 5px 9px; border: 1px solid var(--line);
                          border-radius: 6px; background: #fff; color: var(--ink); }
  input[type=search] { width: 260px; }
  button { cursor: pointer; }
  button:disabled { opacity: .4; cursor: default; }
  .empty { color: var(--muted); padding: 8px 0; }
  .tree { max-height: 380px; overflow: auto; }
  .tree ul { list-style: none; margin: 0; padding-left: 18px; }
  .tree > ul { padding-left: 0; }
  .tree li { padding: 2px 0; }
  .tree .toggle { cursor: pointer; display: inline-block; width: 16px; color: var(--accent); }
  .bad { color: var(--bad); }
  .wide { margin-top: 14px; }
  footer { color: var(--muted); font-size: 12px; margin-top: 14px; }
  .span2 { grid-column: span 2; }
  @media (max-width: 900px) { .span2 { grid-column: auto; } }
  .workers { display: grid; grid-template-columns: 74px 1fr 52px; gap: 6px 10px; align-items: center;
             font-variant-numeric: tabular-nums; margin-bottom: 8px; }
  .workers .bar { height: 10px; border-radius: 5px; }
  .workers .bar div { height: 10px; border-radius: 5px; }
  .workers .pct { text-align: right; font-weight: 600; }
  #graph svg { width: 100%; display: block; }
  #graph .node rect { fill: #eef2ff; stroke: #9fb0f0; }
  #graph .node.outside rect { fill: #f1f2f5; stroke: #c3c8d4; stroke-dasharray: 3 2; }
  #graph .node.gone rect { fill: #fde7ea; stroke: #e7a0ab; }
  #graph .node text { font-size: 12px; fill: var(--ink); }
  #graph .edge { fill: none; stroke: var(--accent); stroke-opacity: .55; }
  #graph .edge:hover { stroke-opacity: 1; }
  .legend { color: var(--muted); font-size: 12px; margin-top: 4px; }
  .pill.up { background: #e3f5ec; color: var(--good); }
  .pill.suspected { background: #fff1d6; color: #a86a00; font-weight: 600; }
  .pill.down { background: #fde7ea; color: var(--bad); }
  .clustergrid { display: grid; grid-template-columns: 1fr; gap: 10px; }
  #traffic svg { display: block; max-width: 100%; }
  #traffic .box rect { fill: #eef2ff; stroke: #9fb0f0; }
  #traffic .box.self rect { fill: #1d2330; stroke: #1d2330; }
  #traffic .box.self text { fill: #fff; }
  #traffic .box.suspected rect { fill: #fff1d6; stroke: #e0a93b; }
  #traffic .box.down rect { fill: #fde7ea; stroke: #e7a0ab; stroke-dasharray: 4 3; }
  #traffic text { font-size: 12px; fill: var(--ink); }
  #traffic text.rate { font-size: 11px; fill: var(--muted); font-variant-numeric: tabular-nums; }
  #traffic .sent { fill: none; stroke: var(--accent); stroke-opacity: .7; }
  #traffic .received { fill: none; stroke: var(--good); stroke-opacity: .7; }
  td.spark { width: 150px; padding-top: 3px; padding-bottom: 3px; }
  td.spark svg { width: 150px; height: 24px; display: block; background: #fafbfc; border-radius: 3px; }
  .queue { border-top: 1px solid var(--line); margin-top: 12px; padding-top: 10px; }
  .queue h3 { font-size: 13px; margin: 0 0 8px; font-weight: 600; }
  .queue h3 .tag { font-weight: 400; margin-left: 8px; }
  .queue .cards { grid-template-columns: repeat(auto-fill, minmax(128px, 1fr)); }
  .queue .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 0 18px; margin-top: 6px; }
  @media (max-width: 900px) { .queue .charts { grid-template-columns: 1fr; } }
  .capbar { height: 5px; background: #e8ecfb; border-radius: 3px; margin-top: 4px; }
  .capbar div { height: 5px; border-radius: 3px; background: var(--accent); }
  .warnline { color: var(--bad); font-size: 12px; margin: 0 0 6px; }
</style>
</head>
<body>
<header>
  <h1><span>troupe</span> observer</h1>
  <div class="meta" id="meta">connecting…</div>
  <div class="live"><span class="dot off" id="dot"></span><span id="livetext">waiting for data</span></div>
</header>
<main>
  <div class="cards" id="cards"></div>

  <div class="grid">
    <section>
      <h2>Last five minutes <small>per second</small></h2>
      <div id="charts"></div>
    </section>
    <section>
      <h2>Workers <small>share of time running turns, last second</small></h2>
      <div id="workers"></div>
    </section>
    <section>
      <h2>Busiest actors <small>messages handled per second</small></h2>
      <div id="busiest"></div>
    </section>
  </div>

  <div class="grid">
    <section class="span2">
      <h2>Who sends to whom <small id="graphnote">sampled sends per second</small></h2>
      <div id="graph"></div>
    </section>
    <section>
      <h2>Growing mailboxes <small>deeper at each of the last snapshots</small></h2>
      <div id="growing"></div>
    </section>
  </div>

  <section class="wide" id="clusterbox" hidden>
    <h2>Cluster <small id="clusternote">peer nodes this node has heard from or sent to (troupe-remote), and its cluster queues</small></h2>
    <div class="clustergrid" id="peersbox">
      <div id="traffic"></div>
      <div id="cluster"></div>
    </div>
    <div id="queues"></div>
  </section>

  <div class="grid">
    <section>
      <h2>By type <small id="typesnote"></small></h2>
      <div id="types"></div>
    </section>
    <section>
      <h2>Supervision tree <small>parent → children; click ▸ to open</small></h2>
      <div class="tree" id="tree"></div>
    </section>
  </div>

  <section class="wide">
    <h2>Actors <small id="count"></small></h2>
    <div class="controls">
      <input type="search" id="filter" placeholder="filter by name or type">
      <select id="state">
        <option value="">any state</option>
        <option value="scheduled">scheduled</option>
        <option value="idle">idle</option>
      </select>
      <label class="tag"><input type="checkbox" id="growonly"> growing only</label>
      <span style="margin-left:auto" class="tag" id="pageinfo"></span>
      <button id="prev">‹ prev</button><button id="next">next ›</button>
    </div>
    <table id="actors">
      <thead><tr>
        <th class="sort" data-k="name">name</th>
        <th class="sort" data-k="type">type</th>
        <th class="sort" data-k="state">state</th>
        <th class="sort n" data-k="depth">mailbox</th>
        <th class="sort n" data-k="handled">handled</th>
        <th class="sort n" data-k="rate">per s</th>
        <th class="sort n" data-k="failures">failures</th>
        <th class="sort n" data-k="restarts">restarts</th>
        <th class="sort" data-k="daemon">daemon</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <footer>Served by the process itself. Raw data: <a href="metrics">/metrics</a> (Prometheus),
    <a href="actors.json">/actors.json</a>, <a href="stats.json">/stats.json</a>;
    <a id="tracelink" href="trace?seconds=5">record a 5-second trace</a> (open it in ui.perfetto.dev).</footer>
</main>
<script>
"use strict";
const PAGE = 200, HISTORY = 300;
const token = new URLSearchParams(location.search).get("token");
const view = { sort: "depth", desc: true, offset: 0, q: "", state: "", growing: false };
let history = { t: [], handled: [], dead_letters: [], failures: [], restarts: [], actors: [], busy: [] };
let openNodes = new Set(), treeAt = 0;

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (n) => {
  if (n === undefined || n === null) return "–";
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + " G";
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + " M";
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + " k";
  if (Number.isInteger(n) || Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US");
  return n.toFixed(1);
};
// A share as a percentage: one decimal under 10 %, so a light load does not read as 0.
const pct = (x) => { const p = 100 * x; return p > 0 && p < 10 ? p.toFixed(1) : Math.round(p); };
const ago = (s) => s < 90 ? Math.round(s) + " s" : s < 5400 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";

function url(path, params) {
  const p = new URLSearchParams(params || {});
  if (token) p.set("token", token);
  const q = p.toString();
  return path + (q ? "?" + q : "");
}
async function getJSON(path, params) {
  const r = await fetch(url(path, params), { cache: "no-store" });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

function spark(values, color) {
  const w = 300, h = 36;
  if (values.length < 2) return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none"></svg>`;
  const max = Math.max(1, ...values);
  // The last five minutes, but at least one minute wide, so a young chart fills from the right.
  const span = Math.min(HISTORY, Math.max(60, values.length));
  const step = w / (span - 1), x0 = w - (values.length - 1) * step;
  const pts = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(h - 2 - (v / max) * (h - 6)).toFixed(1)}`);
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none">
    <polygon points="${x0},${h} ${pts.join(" ")} ${w},${h}" fill="${color}" fill-opacity=".12"/>
    <polyline points="${pts.join(" ")}" fill="none" stroke="${color}" stroke-width="1.6" vector-effect="non-scaling-stroke"/></svg>`;
}

function rates(key) {
  const a = history[key], t = history.t, out = [];
  for (let i = 1; i < a.length; i++) out.push(Math.max(0, (a[i] - a[i - 1]) / Math.max(1e-3, t[i] - t[i - 1])));
  return out;
}

// Per second over the last ten seconds of history.
function recent(key) {
  const a = history[key] || [], t = history.t, n = a.length;
  if (n < 2) return null;
  const i = Math.max(0, n - 11);
  return Math.max(0, (a[n - 1] - a[i]) / Math.max(1e-3, t[n - 1] - t[i]));
}

function drawCards(s) {
  const per = (k) => { const r = recent(k); return r === null ? "" : fmt(r) + " /s"; };
  const cards = [
    ["actors", fmt(s.actors), fmt(s.spawned) + " spawned"],
    ["messages", fmt(s.handled), fmt(s.handled_rate) + " /s"],
    ["dead letters", fmt(s.dead_letters), per("dead_letters"), s.dead_letters > 0],
    ["failures", fmt(s.failures), per("failures"), s.failures > 0],
    ["restarts", fmt(s.restarts), per("restarts")],
    ["refusals", fmt(s.refusals), per("refusals")],
    ["busy", s.busy === undefined ? "–" : pct(s.busy) + " %", `${s.workers} worker${s.workers > 1 ? "s" : ""}`],
    ["timers", fmt(s.timers_pending), "pending"],
    ["steals", fmt(s.steals), ""],
    ["sleeps", fmt(s.worker_sleeps), "workers parked"],
  ];
  $("cards").innerHTML = cards.map(([k, v, d, bad]) =>
    `<div class="card${bad ? " bad" : ""}"><div class="k">${k}</div><div class="v">${v}</div><div class="d">${d || "&nbsp;"}</div></div>`).join("");
}

function drawCharts() {
  const rows = [
    ["messages / s", rates("handled"), "#3559e0"],
    ["dead letters / s", rates("dead_letters"), "#d98a00"],
    ["failures / s", rates("failures"), "#d2364b"],
    ["live actors", history.actors.slice(1), "#1f9d62"],
    ["workers busy %", (history.busy || []).slice(1).map((b) => 100 * b), "#7a4fd6"],
  ];
  $("charts").innerHTML = rows.map(([label, v, color]) =>
    `<div class="chart"><div class="label">${label}</div>${spark(v, color)}<div class="now">${fmt(v.length ? v[v.length - 1] : 0)}</div></div>`).join("");
}

function drawWorkers(workers) {
  if (!workers.length) { $("workers").innerHTML = `<div class="empty">no worker pool (deterministic system)</div>`; return; }
  $("workers").innerHTML = `<div class="workers">` + workers.map((w, i) => {
    const p = 100 * w.utilisation;
    const color = p >= 90 ? "var(--bad)" : p >= 60 ? "var(--warn)" : "var(--accent)";
    return `<div class="tag">worker ${i}</div><div class="bar" title="${fmt(w.busy_seconds)} s busy in all"><div style="width:${Math.max(p, 0.5).toFixed(1)}%;background:${color}"></div></div><div class="pct">${pct(w.utilisation)}%</div>`;
  }).join("") + `</div>` + `<div class="chart"><div class="label">mean, 5 min</div>${spark((history.busy || []).slice(1).map((b) => 100 * b), "#7a4fd6")}<div class="now"></div></div>`;
}

// The graph: senders on the left, what they send to in columns to the right (breadth
// first from the actors nobody sends to, or from the busiest sender in a cycle).
function drawGraph(g) {
  const el = $("graph");
  if (!g || !g.sampling && !g.edges.length) { el.innerHTML = `<div class="empty">sampling starts with this page</div>`; return; }
  const edges = g.edges.slice(0, 30);
  if (!edges.length) { el.innerHTML = `<div class="empty">no sends sampled in the last second</div>`; return; }
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const ids = [...new Set(edges.flatMap((e) => [e.from, e.to]))].filter((id) => byId.has(id));
  const out = new Map(ids.map((id) => [id, []])), indeg = new Map(ids.map((id) => [id, 0])), sent = new Map(ids.map((id) => [id, 0]));
  for (const e of edges) {
    if (e.from === e.to) continue;
    out.get(e.from).push(e.to);
    indeg.set(e.to, indeg.get(e.to) + 1);
    sent.set(e.from, sent.get(e.from) + e.rate);
  }
  const layer = new Map();
  const bfs = (roots) => {
    const queue = roots.slice();
    for (const r of roots) layer.set(r, 0);
    while (queue.length) {
      const v = queue.shift();
      for (const w of out.get(v)) if (!layer.has(w)) { layer.set(w, Math.min(layer.get(v) + 1, 5)); queue.push(w); }
    }
  };
  bfs(ids.filter((id) => indeg.get(id) === 0));
  for (;;) {
    const rest = ids.filter((id) => !layer.has(id));
    if (!rest.length) break;
    rest.sort((a, b) => sent.get(b) - sent.get(a));
    bfs([rest[0]]);
  }
  const columns = [];
  for (const id of ids) (columns[layer.get(id)] = columns[layer.get(id)] || []).push(id);
  const W = Math.max(560, el.clientWidth || 800), nodeW = 150, nodeH = 24, gapY = 10;
  const rows = Math.max(...columns.map((c) => (c || []).length));
  const H = Math.max(80, rows * (nodeH + gapY) + 20);
  const colX = (i) => columns.length === 1 ? W / 2 - nodeW / 2 : 8 + i * (W - nodeW - 16) / (columns.length - 1);
  const pos = new Map();
  columns.forEach((col, i) => (col || []).forEach((id, j) => {
    const top = (H - col.length * (nodeH + gapY) + gapY) / 2;
    pos.set(id, { x: colX(i), y: top + j * (nodeH + gapY) });
  }));
  const maxRate = Math.max(...edges.map((e) => e.rate));
  const width = (r) => 1 + 4 * Math.log1p(r) / Math.log1p(maxRate);
  const name = (id) => byId.get(id).name;
  const paths = edges.filter((e) => pos.has(e.from) && pos.has(e.to)).map((e) => {
    const a = pos.get(e.from), b = pos.get(e.to);
    let d;
    if (e.from === e.to) {
      d = `M${a.x + nodeW - 20},${a.y} c 20,-22 44,-10 20,${nodeH / 2}`;
    } else if (b.x > a.x) {
      const x1 = a.x + nodeW, y1 = a.y + nodeH / 2, x2 = b.x - 6, y2 = b.y + nodeH / 2, m = (x1 + x2) / 2;
      d = `M${x1},${y1} C${m},${y1} ${m},${y2} ${x2},${y2}`;
    } else {  // back to an earlier column, or within one: around underneath
      const x1 = a.x + nodeW / 2, y1 = a.y + nodeH, x2 = b.x + nodeW / 2, y2 = b.y + nodeH + 4;
      d = `M${x1},${y1} C${x1},${H} ${x2},${H} ${x2},${y2}`;
    }
    return `<path class="edge" d="${d}" stroke-width="${width(e.rate).toFixed(1)}" marker-end="url(#arrow)"><title>${esc(name(e.from))} → ${esc(name(e.to))}: ~${fmt(e.rate)} /s</title></path>`;
  });
  const nodes = ids.map((id) => {
    const n = byId.get(id), p = pos.get(id), cls = id === 0 ? "outside" : n.alive ? "" : "gone";
    const label = n.name.length > 20 ? n.name.slice(0, 19) + "…" : n.name;
    return `<g class="node ${cls}"><rect x="${p.x}" y="${p.y}" width="${nodeW}" height="${nodeH}" rx="6"/><text x="${p.x + 8}" y="${p.y + 16}">${esc(label)}</text><title>${esc(n.name)} ${esc(n.type)}</title></g>`;
  });
  el.innerHTML = `<svg viewBox="0 0 ${W} ${H}" height="${H}"><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#3559e0"/></marker></defs>${paths.join("")}${nodes.join("")}</svg>` +
    `<div class="legend">${edges.slice(0, 5).map((e) => `${esc(name(e.from))} → ${esc(name(e.to))} <b>${fmt(e.rate)}</b>/s`).join(" · ")}</div>`;
  $("graphnote").textContent = `one send in ${g.every}, in 0.1 s windows; the ${edges.length} busiest pairs, per second`;
}

// Small line charts for a table cell, on one scale (no fill, no axis): [[values, color], ...].
function tinySpark(lines) {
  const w = 150, h = 24, n = Math.max(30, ...lines.map(([v]) => v.length));
  const max = Math.max(1, ...lines.flatMap(([v]) => v)), step = w / (n - 1);
  const drawn = lines.filter(([v]) => v.length >= 2).map(([v, color]) => {
    const x0 = w - (v.length - 1) * step;
    const pts = v.map((y, i) => `${(x0 + i * step).toFixed(1)},${(h - 2 - (y / max) * (h - 5)).toFixed(1)}`).join(" ");
    return `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.4" vector-effect="non-scaling-stroke"/>`;
  });
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none">${drawn.join("")}</svg>`;
}

const stateTitle = (p) => p.state === "suspected"
  ? `not heard from for ${p.heartbeat_age_seconds.toFixed(1)} s, more than ${fmt(p.heartbeat_period_seconds * 2)} s (two heartbeats); declared down after ${fmt(p.down_after_seconds)} s`
  : p.state === "down" ? "declared down: not heard from within down_after" : "heartbeats arriving";

// This node in the middle of its peers: blue lines what it sends, green what it receives,
// as wide as the rate (log scale), the rate written beside.
function drawTraffic(peers) {
  const el = $("traffic");
  const W = Math.min(880, Math.max(360, el.clientWidth || 880)), rowH = 54, H = Math.max(110, peers.length * rowH + 20);
  const selfW = 130, selfH = 36, peerW = 196, peerH = 32;
  const sx = 8, sy = H / 2 - selfH / 2, px = W - peerW - 8;
  const maxRate = Math.max(1, ...peers.flatMap((p) => [p.sent_rate || 0, p.received_rate || 0]));
  const width = (r) => r > 0 ? 1.2 + 5 * Math.log1p(r) / Math.log1p(maxRate) : 0.8;
  const self = peers.length ? peers[0].node : "";
  const parts = peers.map((p, i) => {
    const y = 10 + i * rowH + (rowH - peerH) / 2, cy = y + peerH / 2;
    const x1 = sx + selfW, x2 = px, m = (x1 + x2) / 2;
    const out = `M${x1},${sy + selfH / 2 - 5} C${m},${sy + selfH / 2 - 5} ${m},${cy - 5} ${x2 - 6},${cy - 5}`;
    const back = `M${x2},${cy + 5} C${m},${cy + 5} ${m},${sy + selfH / 2 + 5} ${x1 + 6},${sy + selfH / 2 + 5}`;
    const label = p.peer.length > 19 ? p.peer.slice(0, 18) + "…" : p.peer;
    return `<path class="sent" d="${out}" stroke-width="${width(p.sent_rate).toFixed(1)}" marker-end="url(#tsent)"><title>${esc(p.node)} → ${esc(p.peer)}: ${fmt(p.sent_rate)} frames/s</title></path>
      <path class="received" d="${back}" stroke-width="${width(p.received_rate).toFixed(1)}" marker-end="url(#trecv)"><title>${esc(p.peer)} → ${esc(p.node)}: ${fmt(p.received_rate)} frames/s</title></path>
      <text class="rate" x="${px - 14}" y="${cy - 12}" text-anchor="end">${fmt(p.sent_rate)}/s →</text>
      <text class="rate" x="${px - 14}" y="${cy + 22}" text-anchor="end">← ${fmt(p.received_rate)}/s</text>
      <g class="box ${p.state}"><rect x="${px}" y="${y}" width="${peerW}" height="${peerH}" rx="7"/><text x="${px + 10}" y="${y + 20}">${esc(label)}</text><text class="rate" x="${px + peerW - 8}" y="${y + 20}" text-anchor="end">${p.state}</text><title>${esc(p.peer)}: ${p.state} (${esc(stateTitle(p))})</title></g>`;
  });
  el.innerHTML = `<svg viewBox="0 0 ${W} ${H}" height="${H}"><defs>
      <marker id="tsent" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#3559e0"/></marker>
      <marker id="trecv" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#1f9d62"/></marker></defs>
    ${parts.join("")}
    <g class="box self"><rect x="${sx}" y="${sy}" width="${selfW}" height="${selfH}" rx="8"/><text x="${sx + 12}" y="${sy + 22}">${esc(self.length > 15 ? self.slice(0, 14) + "…" : self)}</text><title>this node: ${esc(self)}</title></g></svg>
    <div class="legend"><span style="color:var(--accent)">━</span> frames sent · <span style="color:var(--good)">━</span> frames received, per second</div>`;
}

function drawQueues(queues) {
  $("queues").innerHTML = queues.map((q) => {
    const cap = q.capacity > 0 ? `<div class="capbar" title="${fmt(q.items)} of ${fmt(q.capacity)}"><div style="width:${Math.min(100, 100 * (q.items || 0) / q.capacity).toFixed(1)}%"></div></div>` : "";
    const cards = [
      ["items (depth)", fmt(q.items), q.capacity > 0 ? `of ${fmt(q.capacity)}` + cap : "unbounded", false],
      ["waiting", fmt(q.waiting), "for a worker"],
      ["leases pending", fmt(q.leases), "held by workers"],
      ["redelivered", fmt(q.redelivered), `now · ${fmt(q.redeliveries)} in all`, q.redelivered > 0],
      ["dead letters", fmt(q.dead_letters), "out of tries", q.dead_letters > 0],
      ["done", fmt(q.done), fmt(q.done_rate) + " /s"],
      ["stored", fmt(q.stored), fmt(q.put_rate) + " /s put"],
    ];
    const warn = q.up === 0 ? `<div class="warnline">JetStream does not answer: the figures are ${fmt(q.reading_age_seconds)} s old</div>` : "";
    const here = `this process: ${fmt(q.puts)} put, ${fmt(q.leased)} leased (${fmt(q.leased_again)} again), ${fmt(q.settled_done)} done, ${fmt(q.settled_retry)} retried, ${fmt(q.settled_dead_letter)} dead-lettered`;
    return `<div class="queue"><h3>queue ${esc(q.queue)}<span class="tag">${here}</span></h3>${warn}
      <div class="cards">${cards.map(([k, v, d, bad]) => `<div class="card${bad ? " bad" : ""}"><div class="k">${k}</div><div class="v">${v}</div><div class="d">${d}</div></div>`).join("")}</div>
      <div class="charts"><div class="chart"><div class="label">items, 2 min</div>${spark(q.history.items, "#3559e0")}<div class="now">${fmt(q.items)}</div></div>
      <div class="chart"><div class="label">done / s</div>${spark(q.history.done_rate, "#1f9d62")}<div class="now">${fmt(q.done_rate)}</div></div></div></div>`;
  }).join("");
}

function drawCluster(c) {
  const peers = (c && c.peers) || [], queues = (c && c.queues) || [];
  $("clusterbox").hidden = !peers.length && !queues.length;
  $("peersbox").hidden = !peers.length;
  if (peers.length) {
    drawTraffic(peers);
    $("cluster").innerHTML = `<table><thead><tr><th>peer</th><th>state</th><th>incarnation</th><th class="n">heard</th><th class="n">sent /s</th><th class="n">received /s</th><th>last 2 min</th><th class="n">sent</th><th class="n">received</th><th class="n">dropped</th><th class="n">dead letters</th><th class="n">queued</th></tr></thead><tbody>` +
      peers.map((p) => `<tr><td class="name" title="seen by ${esc(p.node)}">${esc(p.peer)}</td>
        <td><span class="pill ${p.state}" title="${esc(stateTitle(p))}">${p.state}</span></td>
        <td class="type" title="incarnation ${esc(p.incarnation || "")}">${esc((p.incarnation || "").slice(0, 8))}</td>
        <td class="n${p.state !== "up" ? " bad" : ""}">${p.heartbeat_age_seconds === undefined ? "–" : p.heartbeat_age_seconds.toFixed(1) + " s ago"}</td>
        <td class="n">${fmt(p.sent_rate)}</td><td class="n">${fmt(p.received_rate)}</td>
        <td class="spark">${tinySpark([[p.history.sent, "#3559e0"], [p.history.received, "#1f9d62"]])}</td>
        <td class="n">${fmt(p.sent)}</td><td class="n">${fmt(p.received)}</td>
        <td class="n">${fmt(p.dropped)}</td><td class="n${p.dead_letters ? " bad" : ""}">${fmt(p.dead_letters)}</td>
        <td class="n">${fmt(p.queued)}</td></tr>`).join("") + `</tbody></table>`;
    const t = peers.find((p) => p.heartbeat_period_seconds);
    $("clusternote").textContent = `peer nodes this node has heard from or sent to` +
      (t ? `; heartbeat every ${fmt(t.heartbeat_period_seconds * 1000)} ms, suspected after two missed, down after ${fmt(t.down_after_seconds)} s` : "") +
      (queues.length ? `; ${queues.length} cluster queue${queues.length > 1 ? "s" : ""}` : "");
  } else {
    $("clusternote").textContent = `cluster queues this process uses`;
  }
  drawQueues(queues);
}

function miniTable(rows, cols, empty) {
  if (!rows.length) return `<div class="empty">${empty}</div>`;
  return `<table><tbody>${rows.map((r) => `<tr>${cols.map((c) => c(r)).join("")}</tr>`).join("")}</tbody></table>`;
}

function drawSide(d) {
  const maxRate = Math.max(1, ...d.busiest.map((r) => r.rate));
  $("busiest").innerHTML = miniTable(d.busiest, [
    (r) => `<td class="name" title="${esc(r.type)}">${esc(r.name)}</td>`,
    (r) => `<td style="width:45%"><div class="bar"><div style="width:${(100 * r.rate / maxRate).toFixed(0)}%"></div></div></td>`,
    (r) => `<td class="n">${fmt(r.rate)}</td>`,
  ], "no actor handled a message since the last update");
  $("growing").innerHTML = miniTable(d.growing, [
    (r) => `<td class="name" title="${esc(r.type)}">${esc(r.name)}</td>`,
    (r) => `<td class="n bad">${fmt(r.depth)} queued</td>`,
    (r) => `<td class="n tag">${fmt(r.rate)} /s handled</td>`,
  ], "none: every mailbox is keeping up");
  $("typesnote").textContent = d.types.length ? `${d.types.length} type${d.types.length > 1 ? "s" : ""}` : "";
  $("types").innerHTML = d.types.length ? `<table><thead><tr><th>type</th><th class="n">actors</th><th class="n">queued</th><th class="n">per s</th><th class="n">failures</th></tr></thead><tbody>` +
    d.types.slice(0, 12).map((t) => `<tr><td class="type" title="${esc(t.type)}">${esc(t.type)}</td><td class="n">${fmt(t.count)}</td><td class="n">${fmt(t.depth)}</td><td class="n">${fmt(t.rate)}</td><td class="n${t.failures ? " bad" : ""}">${fmt(t.failures)}</td></tr>`).join("") +
    `</tbody></table>` : `<div class="empty">no actors</div>`;
}

function drawTable(d) {
  const tb = $("actors").tBodies[0];
  tb.innerHTML = d.actors.map((r) => `<tr class="${r.growing ? "growing" : ""}">
    <td class="name" title="${esc(r.name)} (#${r.id})">${esc(r.name)}</td>
    <td class="type" title="${esc(r.type)}">${esc(r.type)}</td>
    <td><span class="pill ${r.state}">${r.state}</span></td>
    <td class="n depth">${fmt(r.depth)}</td>
    <td class="n">${fmt(r.handled)}</td>
    <td class="n">${fmt(r.rate)}</td>
    <td class="n${r.failures ? " bad" : ""}">${fmt(r.failures)}</td>
    <td class="n">${fmt(r.restarts)}</td>
    <td class="tag">${r.daemon ? "daemon" : ""}${r.dedicated ? " thread" : ""}</td></tr>`).join("") ||
    `<tr><td colspan="9" class="empty">no actor matches</td></tr>`;
  const from = d.total ? d.offset + 1 : 0, to = d.offset + d.actors.length;
  $("pageinfo").textContent = `${fmt(from)}–${fmt(to)} of ${fmt(d.total)}`;
  $("count").textContent = `${fmt(d.live)} live` + (d.total !== d.live ? `, ${fmt(d.total)} shown by the filter` : "");
  $("prev").disabled = d.offset === 0;
  $("next").disabled = to >= d.total;
  document.querySelectorAll("th.sort").forEach((th) => {
    const on = th.dataset.k === view.sort;
    th.classList.toggle("on", on);
    th.textContent = th.dataset.k === "depth" ? "mailbox" : th.dataset.k === "rate" ? "per s" : th.dataset.k;
    if (on) th.textContent += view.desc ? " ▾" : " ▴";
  });
}

async function treeLevel(parent) {
  // Supervisors first; at most 30 at a level (the table pages through the rest).
  const d = await getJSON("actors.json", { parent, sort: "children", order: "desc", limit: 30 });
  const items = await Promise.all(d.actors.map(async (r) => {
    const open = openNodes.has(r.id) && r.children > 0;
    const sub = open ? await treeLevel(r.id) : "";
    const toggle = r.children > 0 ? `<span class="toggle" data-id="${r.id}">${open ? "▾" : "▸"}</span>` : `<span class="toggle"></span>`;
    const kids = r.children > 0 ? ` <span class="tag">${fmt(r.children)} child${r.children > 1 ? "ren" : ""}</span>` : "";
    return `<li>${toggle}<b>${esc(r.name)}</b> <span class="tag">${esc(r.type)}</span>${kids}${sub}</li>`;
  }));
  const more = d.total > d.actors.length ? `<li class="tag">… and ${fmt(d.total - d.actors.length)} more</li>` : "";
  return `<ul>${items.join("")}${more}</ul>`;
}
async function drawTree(force) {
  const now = Date.now();
  if (!force && now - treeAt < 5000) return;
  treeAt = now;
  $("tree").innerHTML = (await treeLevel(0)) || `<div class="empty">no actors</div>`;
}

async function tick() {
  try {
    const params = { sort: view.sort, order: view.desc ? "desc" : "asc", offset: view.offset, limit: PAGE };
    if (view.q) params.q = view.q;
    if (view.state) params.state = view.state;
    if (view.growing) params.growing = 1;
    const d = await getJSON("actors.json", params);
    const s = d.stats;
    history = d.history;
    $("meta").textContent = `pid ${s.pid} on ${s.host} · ${s.workers} worker${s.workers > 1 ? "s" : ""} · observed for ${ago(s.uptime_seconds)}`;
    const w = d.workers || [];
    s.busy = w.length ? w.reduce((a, x) => a + x.utilisation, 0) / w.length : undefined;
    drawCards(s);
    drawCharts();
    drawWorkers(w);
    drawGraph(d.graph);
    drawCluster(d.cluster);
    drawSide(d);
    drawTable(d);
    await drawTree(false);
    $("dot").className = "dot";
    $("livetext").textContent = "live · updated " + new Date().toLocaleTimeString();
  } catch (e) {
    $("dot").className = "dot off";
    $("livetext").textContent = "no answer: " + e.message;
  }
}

document.querySelectorAll("th.sort").forEach((th) => th.addEventListener("click", () => {
  const k = th.dataset.k;
  view.desc = view.sort === k ? !view.desc : !["name", "type", "state"].includes(k);
  view.sort = k; view.offset = 0; tick();
}));
let typing;
$("filter").addEventListener("input", (e) => { clearTimeout(typing); typing = setTimeout(() => { view.q = e.target.value.trim(); view.offset = 0; tick(); }, 250); });
$("state").addEventListener("change", (e) => { view.state = e.target.value; view.offset = 0; tick(); });
$("growonly").addEventListener("change", (e) => { view.growing = e.target.checked; view.offset = 0; tick(); });
$("prev").addEventListener("click", () => { view.offset = Math.max(0, view.offset - PAGE); tick(); });
$("next").addEventListener("click", () => { view.offset += PAGE; tick(); });
$("tree").addEventListener("click", (e) => {
  const id = e.target.dataset && e.target.dataset.id;
  if (!id) return;
  const n = Number(id);
  openNodes.has(n) ? openNodes.delete(n) : openNodes.add(n);
  drawTree(true);
});

if (token) $("tracelink").href = url("trace", { seconds: 5 });
tick();
setInterval(tick, 1000);
</script>
</body>
</html>
)TROUPE_PAGE";

}  // namespace

std::string_view page() noexcept { return kPage; }

}  // namespace troupe::observe
