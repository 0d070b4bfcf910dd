// The machine benchmarks of one host (canopy-agent --bench; docs/AGENT.md,
// "Benchmarks"): a table of each figure against the host's own baseline,
// the figures of a benchmark that fell past the threshold highlighted, a
// failed benchmark's error in its place. For the host page to call:
//
//   import {renderBench} from './bench.js';
//   await renderBench(document.querySelector('#bench'), 'web1');
//
// `api` defaults to ./api.js (request, query); a page may pass its own
// (a test, a page that counts requests). Reads GET
// /get?key=host,<h>,bench,** once (a host with no such subtree answers an
// empty list, not a 404); call again to refresh. Returns the subtree it
// drew, as nested objects (null when the host runs no benchmark).

import * as defaultApi from './api.js';

// Figures where less is better (latencies); the rest are throughputs.
const LOWER_IS_BETTER = new Set(['fsync_ms', 'p99_ms', 'rtt_ms']);
// Leaves that are not figures to compare.
const NOT_FIGURES = new Set(['time', 'seconds', 'ok', 'error', 'fall_percent',
  'baseline', 'recent', 'threads', 'transactions']);
const UNITS = {
  single_mops: 'M ops/s, one core', multi_mops: 'M ops/s, all cores',
  tps: 'transactions/s', p99_ms: 'ms, p99 of a transaction',
  fsync_ms: 'ms, write + fdatasync', write_mbps: 'MB/s', read_mbps: 'MB/s',
  rtt_ms: 'ms', download_mbps: 'MB/s', upload_mbps: 'MB/s',
};

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'style') e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function fmt(v) {
  if (typeof v !== 'number' || !isFinite(v)) return '–';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(2);
}

// How far `recent` is worse than `baseline`, in percent (negative: better).
function fallOf(name, recent, baseline) {
  if (!(baseline > 0) || typeof recent !== 'number') return null;
  const f = LOWER_IS_BETTER.has(name) ? (recent - baseline) / baseline : (baseline - recent) / baseline;
  return f * 100;
}

export async function renderBench(container, hostName, api = defaultApi) {
  container.replaceChildren();
  const prefix = `host,${hostName},bench,`;
  let answer;
  try {
    answer = await api.request('/get' + api.query({key: prefix + '**'}));
  } catch (e) {
    container.append(el('p', {class: 'msg error'}, `benchmarks: ${e.message}`));
    return null;
  }
  // {"items": [{"host,h,bench,cpu,ok": 1}, ...]} as nested objects.
  const tree = {};
  for (const item of (answer && answer.items) || []) {
    for (const [key, value] of Object.entries(item)) {
      if (!key.startsWith(prefix)) continue;
      const path = key.slice(prefix.length).split(',');
      let node = tree;
      for (const seg of path.slice(0, -1)) {
        if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
        node = node[seg];
      }
      node[path[path.length - 1]] = value;
    }
  }
  if (Object.keys(tree).length === 0) {
    container.append(el('p', {class: 'msg'}, `${hostName} runs no benchmark (canopy-agent --bench=cpu,sqlite,disk,net).`));
    return null;
  }
  const threshold = typeof tree.fall_threshold_percent === 'number' ? tree.fall_threshold_percent : 25;
  if (tree.degraded === 1) {
    container.append(el('p', {class: 'msg error', 'data-degraded': '1'},
      `${hostName} is degraded: a benchmark fell more than ${threshold} % below its baseline.`));
  }
  const table = el('table', {class: 'bench'},
    el('thead', {}, el('tr', {},
      el('th', {}, 'benchmark'), el('th', {}, 'figure'), el('th', {}, 'last run'),
      el('th', {}, 'recent (median of 3)'), el('th', {}, 'baseline'), el('th', {}, 'fall'),
      el('th', {}, 'ran'))));
  const body = el('tbody');
  for (const kind of ['cpu', 'sqlite', 'disk', 'net']) {
    const k = tree[kind];
    if (!k || typeof k !== 'object') continue;
    const when = typeof k.time === 'number' ? new Date(k.time * 1000).toISOString().replace('.000Z', 'Z') : '';
    if (k.ok !== 1) {
      body.append(el('tr', {class: 'bench-error', 'data-kind': kind},
        el('td', {}, kind), el('td', {colspan: '5', style: 'color: var(--bad)'}, k.error || 'failed'),
        el('td', {}, when)));
      continue;
    }
    const names = Object.keys(k).filter(n => !NOT_FIGURES.has(n) && typeof k[n] === 'number');
    for (const name of names) {
      const baseline = k.baseline ? k.baseline[name] : undefined;
      const recent = k.recent ? k.recent[name] : undefined;
      const fall = fallOf(name, recent, baseline);
      const fell = fall !== null && fall > threshold;
      const row = el('tr', {'data-kind': kind, 'data-figure': name,
        ...(fell ? {class: 'bench-fell', style: 'background: var(--bad-bg); color: var(--bad); font-weight: 600'} : {})},
        el('td', {}, kind), el('td', {title: UNITS[name] || ''}, name),
        el('td', {}, fmt(k[name])), el('td', {}, fmt(recent)), el('td', {}, fmt(baseline)),
        el('td', {}, fall === null ? 'no baseline yet' : `${fall > 0 ? '−' : '+'}${Math.abs(fall).toFixed(0)} %`),
        el('td', {}, when));
      body.append(row);
    }
  }
  table.append(body);
  container.append(table);
  return tree;
}
