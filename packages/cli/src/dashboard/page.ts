/**
 * The dashboard page: one static HTML document with its script and style inline, so the user
 * needs no build step and the CSP can allow exactly these two by hash. Every string from the
 * fleet (service names come from Consul and are untrusted) reaches the DOM through textContent or
 * setAttribute, never through innerHTML or a template.
 */

export const PAGE_STYLE = `
body { font: 13px/1.4 system-ui, sans-serif; margin: 16px; color: #222; background: #fafafa; }
h1 { font-size: 18px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 6px; }
#status { color: #555; } #status.error { color: #b00020; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
td.bad { color: #b00020; font-weight: 600; }
svg { background: #fff; border: 1px solid #e3e3e3; }
.node rect { fill: #eef4ff; stroke: #4a6fa5; } .node text { font-size: 12px; }
.edge line { stroke: #888; stroke-width: 1.5; } .edge.bad line { stroke: #b00020; }
.edge text { font-size: 11px; fill: #333; } .empty { color: #777; }
.rollout { background: #fff; border: 1px solid #e3e3e3; padding: 8px 12px; margin: 0 0 10px; }
.rollout h3 { margin: 0 0 4px; font-size: 14px; }
.rollout dl { display: grid; grid-template-columns: repeat(4, auto); gap: 2px 14px; margin: 4px 0; justify-content: start; }
.rollout dt { color: #666; } .rollout dd { margin: 0; font-variant-numeric: tabular-nums; }
.chart polyline { fill: none; stroke-width: 1.5; } .chart .canary { stroke: #d9822b; } .chart .stable { stroke: #4a6fa5; }
.chart text { font-size: 10px; fill: #555; } .chart .legend-canary { fill: #d9822b; } .chart .legend-stable { fill: #4a6fa5; } .chart .axis { stroke: #ccc; }
`;

export const PAGE_SCRIPT = `
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
const KEEP = 60;
const history = new Map();
let lastAt = -1;

function el(tag, attrs, text) {
  const e = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
  if (text !== undefined) e.textContent = String(text);
  return e;
}
const short = (s) => { s = String(s); return s.length > 40 ? s.slice(0, 39) + '\\u2026' : s; };
const num = (x) => typeof x === 'number' && isFinite(x);
const ms = (x) => (num(x) ? (x < 10 ? x.toFixed(1) : String(Math.round(x))) + ' ms' : '-');
const pct = (x, d) => (num(x) ? (x * 100).toFixed(d) + ' %' : '-');

// The worst rule state first, with how many keys are in it (summed over the version's instances).
function rules(r) {
  if (!r) return '-';
  if (r.REJECTED > 0) return r.REJECTED + ' REJECTED';
  if (r.STALE > 0) return r.STALE + ' STALE';
  return r.SYNCED > 0 ? 'SYNCED' : '-';
}

function renderTable(rows) {
  const body = document.getElementById('services-body');
  body.replaceChildren();
  for (const r of rows) {
    const tr = el('tr', { 'data-service': r.service, 'data-version': r.version });
    const cells = [
      ['service', short(r.service)], ['version', short(r.version || '-')], ['rps', num(r.rps) ? r.rps.toFixed(1) : '-'],
      ['success', r.requests > 0 ? pct(r.successRate, 2) : '-'], ['p50', ms(r.p50)], ['p95', ms(r.p95)],
      ['p99', ms(r.p99)], ['requests', num(r.requests) ? String(Math.round(r.requests)) : '-'],
      ['instances', r.answered + ' / ' + r.instances], ['rules', rules(r.rules)],
      ['ejected', String(r.ejected)], ['breakers', String(r.openBreakers)],
    ];
    for (const [name, text] of cells) {
      const td = el('td', { 'data-col': name }, text);
      const bad = (name === 'success' && r.requests > 0 && r.successRate < 0.99) || (name === 'instances' && r.answered < r.instances) ||
        (name === 'rules' && (r.rules.REJECTED > 0 || r.rules.STALE > 0)) || (name === 'ejected' && r.ejected > 0) || (name === 'breakers' && r.openBreakers > 0);
      if (bad) td.className = 'bad';
      tr.append(td);
    }
    body.append(tr);
  }
  document.getElementById('services-empty').hidden = rows.length > 0;
}

// Columns by depth (callers left of callees), rows by name: the same fleet draws the same graph.
function layout(names, edges) {
  const depth = new Map(names.map((n) => [n, 0]));
  for (let i = 0; i < names.length; i++) {
    let moved = false;
    for (const e of edges) {
      if (e.caller === e.service) continue;
      const d = depth.get(e.caller) + 1;
      if (d > depth.get(e.service) && d < names.length) { depth.set(e.service, d); moved = true; }
    }
    if (!moved) break;
  }
  const columns = new Map();
  for (const n of [...names].sort()) {
    const d = depth.get(n);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(n);
  }
  const pos = new Map();
  let height = 0;
  for (const [d, list] of columns) list.forEach((n, i) => { pos.set(n, { x: 20 + d * 260, y: 30 + i * 70 }); height = Math.max(height, 30 + i * 70); });
  return { pos, width: 20 + (Math.max(0, ...columns.keys()) + 1) * 260, height: height + 60 };
}

function renderGraph(view) {
  const svg = document.getElementById('graph');
  svg.replaceChildren();
  const names = [...new Set([...view.edges.flatMap((e) => [e.caller, e.service]), ...view.rows.map((r) => r.service)])].slice(0, 200);
  const known = new Set(names);
  const edges = view.edges.filter((e) => known.has(e.caller) && known.has(e.service));
  const { pos, width, height } = layout(names, edges);
  svg.setAttribute('width', String(Math.max(width, 300)));
  svg.setAttribute('height', String(Math.max(height, 80)));
  const defs = el('svg:defs');
  const marker = el('svg:marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto' });
  marker.append(el('svg:path', { d: 'M0,0 L10,5 L0,10 z', fill: '#888' }));
  defs.append(marker);
  svg.append(defs);
  const W = 170, H = 28;
  for (const e of edges) {
    const a = pos.get(e.caller), b = pos.get(e.service);
    const g = el('svg:g', { class: 'edge' + (e.errorShare > 0.01 ? ' bad' : ''), 'data-caller': e.caller, 'data-service': e.service });
    const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
    g.append(el('svg:line', { x1, y1, x2: x2 === x1 ? x2 + 1 : x2, y2, 'marker-end': 'url(#arrow)' }));
    g.append(el('svg:text', { x: (x1 + x2) / 2 - 40, y: (y1 + y2) / 2 - 6, 'data-rps': e.rps, 'data-error-share': e.errorShare },
      (num(e.rps) ? e.rps.toFixed(1) : '-') + ' rps \\u00b7 ' + pct(e.errorShare, 1) + ' err'));
    svg.append(g);
  }
  for (const n of names) {
    const p = pos.get(n);
    const g = el('svg:g', { class: 'node', 'data-service': n });
    g.append(el('svg:rect', { x: p.x, y: p.y, width: W, height: H, rx: 4 }));
    g.append(el('svg:text', { x: p.x + 8, y: p.y + 18 }, short(n).slice(0, 24)));
    g.append(el('svg:title', {}, n));
    svg.append(g);
  }
  document.getElementById('graph-empty').hidden = names.length > 0;
}

function chart(points, pick, label, unit) {
  const w = 260, h = 80, svg = el('svg:svg', { class: 'chart', width: w, height: h + 16, 'data-chart': label });
  svg.append(el('svg:text', { x: 2, y: 10 }, label));
  svg.append(el('svg:text', { x: 70, y: 10, class: 'legend-canary' }, 'canary'));
  svg.append(el('svg:text', { x: 115, y: 10, class: 'legend-stable' }, 'stable'));
  const values = points.flatMap((p) => [pick(p, 'canary'), pick(p, 'stable')]).filter(num);
  const max = Math.max(1e-9, ...values);
  svg.append(el('svg:text', { x: w - 70, y: 10 }, 'max ' + (unit === '%' ? (max * 100).toFixed(1) + ' %' : ms(max))));
  svg.append(el('svg:line', { class: 'axis', x1: 0, y1: h + 14, x2: w, y2: h + 14 }));
  for (const which of ['canary', 'stable']) {
    const xy = [];
    points.forEach((p, i) => {
      const v = pick(p, which);
      // The newest reading at the right edge; older ones move left as readings arrive.
      if (num(v)) xy.push((w - 2 - (points.length - 1 - i) * ((w - 4) / (KEEP - 1))).toFixed(1) + ',' + (h + 14 - (v / max) * h).toFixed(1));
    });
    svg.append(el('svg:polyline', { class: which, points: xy.join(' '), 'data-points': xy.length }));
  }
  return svg;
}

function renderRollouts(view) {
  const box = document.getElementById('rollouts');
  box.replaceChildren();
  const live = new Set(view.rollouts.map((r) => r.service));
  for (const k of [...history.keys()]) if (!live.has(k)) history.delete(k);
  for (const r of view.rollouts) {
    const list = history.get(r.service) || [];
    if (view.at !== lastAt) {
      const err = (f) => (f && f.requests > 0 ? f.errors / f.requests : null);
      list.push({ weight: r.weight, canary: { err: err(r.canaryFigures), p99: r.canaryFigures && r.canaryFigures.p99 },
        stable: { err: err(r.stableFigures), p99: r.stableFigures && r.stableFigures.p99 } });
      while (list.length > KEEP) list.shift();
      history.set(r.service, list);
    }
    const s = el('section', { class: 'rollout', 'data-service': r.service, 'data-status': r.status });
    s.append(el('h3', {}, short(r.service) + ': ' + short(r.canary) + ' vs ' + short(r.stable) + ' (' + r.status + ')'));
    const dl = el('dl');
    const c = r.canaryFigures, st = r.stableFigures;
    const rate = (f) => (f && f.requests > 0 ? pct(f.errors / f.requests, 2) : '-');
    for (const [k, v, field] of [
      ['weight', r.weight + ' %', 'weight'], ['step', r.step + ' / ' + r.steps + ' (' + r.plan.join(', ') + ')', 'step'],
      ['canary errors', rate(c), 'canary-errors'], ['stable errors', rate(st), 'stable-errors'],
      ['canary p99', ms(c && c.p99), 'canary-p99'], ['stable p99', ms(st && st.p99), 'stable-p99'],
      ['reason', r.reason || '-', 'reason'],
    ]) { dl.append(el('dt', {}, k)); dl.append(el('dd', { 'data-field': field }, v)); }
    s.append(dl);
    s.append(chart(list, (p, w) => p[w].err, 'error rate', '%'));
    s.append(chart(list, (p, w) => p[w].p99, 'p99', 'ms'));
    box.append(s);
  }
  document.getElementById('rollouts-empty').hidden = view.rollouts.length > 0;
}

function render(view) {
  const status = document.getElementById('status');
  status.className = view.error ? 'error' : '';
  status.setAttribute('data-at', String(view.at));
  status.textContent = (view.at ? 'read ' + new Date(view.at).toLocaleTimeString() + ', window ' + (view.windowMs / 1000).toFixed(1) + ' s, ' +
    view.instances.total + ' instances (' + view.instances.failed + ' did not answer)' : 'waiting for the first reading') +
    (view.error ? '; last reading failed: ' + view.error : '');
  renderTable(view.rows);
  renderGraph(view);
  renderRollouts(view);
  lastAt = view.at;
}

async function poll() {
  let wait = 2000;
  try {
    const res = await fetch('/api/fleet', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const view = await res.json();
    wait = Math.min(60000, Math.max(500, Number(view.intervalMs) || 2000));
    render(view);
  } catch (e) {
    const status = document.getElementById('status');
    status.className = 'error';
    status.textContent = 'dashboard server unreachable: ' + String(e && e.message || e);
  }
  setTimeout(poll, wait);
}

// Each reading as the server makes it; on any trouble with the stream, polling instead.
function subscribe() {
  if (typeof EventSource !== 'function') return poll();
  const events = new EventSource('/api/events');
  events.onmessage = (m) => {
    try { render(JSON.parse(m.data)); } catch (e) { /* a bad event is skipped */ }
  };
  events.onerror = () => { events.close(); poll(); };
}
subscribe();
`;

export function renderPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshless dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${PAGE_STYLE}</style></head>
<body>
<h1>meshless dashboard</h1>
<div id="status">loading</div>
<h2>Services by version</h2>
<table id="services"><thead><tr><th>SERVICE</th><th>VERSION</th><th>RPS</th><th>SUCCESS</th><th>P50</th><th>P95</th><th>P99</th><th>REQUESTS</th><th>ANSWERED</th><th>RULES</th><th>EJECTED</th><th>BREAKERS</th></tr></thead>
<tbody id="services-body"></tbody></table>
<p id="services-empty" class="empty">no traffic seen yet</p>
<h2>Service graph</h2>
<svg id="graph" width="300" height="80" role="img" aria-label="service graph"></svg>
<p id="graph-empty" class="empty">no calls seen yet</p>
<h2>Rollouts</h2>
<div id="rollouts"></div>
<p id="rollouts-empty" class="empty">no rollout state in KV</p>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
