// /host/<name>: one host that canopy-agent feeds, in full and live: CPU in
// total and per core, memory, swap, load, each disk and disk device, each
// network interface, processes, ports, URL checks, nginx, the container's
// limits, the agent's own figures and the machine benchmarks
// (host,<name>,bench,...: drawn by bench.js's renderBench when that module
// is there, else a table of its leaves). One /pull (key=host,<name>) feeds
// it all; charts are drawn as values arrive (livechart.js).

import {request, pathKey, splitKey, naturalCompare, fmtNum, Live, query} from './api.js';
import {setupPage, showMessage, clearMessage, showConnection, el} from './page.js';
import * as api from './api.js';
import {LiveChart, seedCharts} from './livechart.js';
import {formatWithUnit} from './units.js';
import {loadMeta, lastWritten, ago, intervalText, unitsFor, trendHref} from './livepage.js';

const main = setupPage('overview');
const MINUTES = 10;

let name = '';
try {
  name = decodeURIComponent(location.pathname.replace(/^\/host\//, '').replace(/\/$/, ''));
} catch {
  name = '';
}
const prefix = `host,${name},`;

const title = el('h1', {id: 'host-name'}, name || '(no host)');
const badge = el('span', {class: 'badge quiet', hidden: true, id: 'quiet'}, 'quiet');
const meta = el('p', {class: 'muted', id: 'host-meta'});
main.append(
  el('div', {class: 'toolbar'}, title, badge, el('span', {class: 'grow'}),
    el('a', {href: '/overview/'}, '← overview'),
    el('a', {href: '/realtime/' + query({key: `host,${name}`})}, 'key tree →')),
  meta);

// Sections in a fixed order, shown once something arrives for them.
const SECTIONS = [['cpu', 'CPU'], ['mem', 'Memory and load'], ['disk', 'Disks'], ['net', 'Network'],
  ['proc', 'Processes'], ['port', 'Ports'], ['url', 'URL checks'], ['nginx', 'nginx'], ['cgroup', 'Container'],
  ['bench', 'Machine benchmarks'], ['agent', 'Agent'], ['other', 'Other figures']];
const sections = new Map();
for (const [id, label] of SECTIONS) {
  const grid = el('div', {class: 'live-grid'});
  const extra = el('div');
  const s = el('section', {class: 'group', id: 'sec-' + id, hidden: true}, el('h2', {}, label), grid, extra);
  main.append(s);
  sections.set(id, {s, grid, extra});
}
if (!name) showMessage('error', 'No host in the address: open /host/<name>, or pick one on the overview.');

let units = new Map();
const unitOf = key => units.get(key) || '';
const charts = new Map();
const values = new Map();  // rel -> value
let seen = null;
let interval = null;

// The series of the agent's fixed charts, in the order a person reads them
// (the feed brings keys in name order).
const ORDER = {
  cpu: [['cpu,user', 'user'], ['cpu,system', 'system'], ['cpu,iowait', 'iowait'], ['cpu,steal', 'steal'],
    ['cpu,irq', 'irq'], ['cpu,softirq', 'softirq'], ['cpu,nice', 'nice']],
  mem: [['mem,used', 'used'], ['mem,cached', 'cached'], ['mem,buffers', 'buffers'], ['mem,available', 'available'], ['mem,free', 'free']],
  load: [['load,1', '1 min'], ['load,5', '5 min'], ['load,15', '15 min']],
};

function chart(section, id, title, opts = {}) {
  let c = charts.get(id);
  if (!c) {
    const sec = sections.get(section);
    sec.s.hidden = false;
    c = new LiveChart(sec.grid, {title, sync: 'host', minutes: MINUTES, maxSeries: 10, ...opts});
    for (const [rel, label] of ORDER[id] || []) c.addSeries({key: prefix + rel, label});
    charts.set(id, c);
  }
  return c;
}

// Where a leaf goes: a chart (and which series), a table, or the header.
function route(rel) {
  const s = splitKey(rel);
  const [a, b, c] = s;
  const key = prefix + rel;
  const series = (section, id, ttl, label, opts = {}) => ({kind: 'chart', section, id, title: ttl, label, key, ...opts});
  switch (a) {
    case 'cpu':
      if (b === 'core' && s.length === 4) {
        if (s[3] !== 'percent') return null;
        const n = +c;
        const lo = Number.isFinite(n) ? Math.floor(n / 8) * 8 : 0;
        // Eight cores a chart ("cores", "cores from 8", ...).
        return series('cpu', 'cores' + lo, lo === 0 ? 'cores' : `cores from ${lo}`, `core ${c}`, {href: trendHref(`host,${name},cpu,core`)});
      }
      // idle is 100 minus the others; percent is in the header.
      if (s.length === 2 && b !== 'percent' && b !== 'idle') return series('cpu', 'cpu', 'CPU', b, {href: trendHref(`host,${name},cpu`)});
      return null;
    case 'mem':
      if (s.length === 2 && b !== 'percent' && b !== 'total') return series('mem', 'mem', 'memory', b);
      return null;
    case 'swap':
      if (b === 'used') return series('mem', 'swap', 'swap', 'used');
      return null;
    case 'load':
      return series('mem', 'load', 'load', `${b} min`);
    case 'disk':
      if (s.length !== 3) return null;
      if (c === 'percent') return series('disk', 'diskpct', 'disk use', b);
      if (c === 'used' || c === 'free') return series('disk', 'disk:' + b, `disk ${b}`, c);
      return null;
    case 'diskio':
      if (s.length !== 3) return null;
      if (c === 'read_bytes' || c === 'write_bytes') return series('disk', 'io:' + b, `disk IO ${b}`, c === 'read_bytes' ? 'read' : 'write');
      return series('disk', 'ops', 'disk operations', `${b} ${c}`);
    case 'net':
      if (s.length !== 3) return null;
      if (c === 'rx_bytes' || c === 'tx_bytes') return series('net', 'net:' + b, `network ${b}`, c === 'rx_bytes' ? 'in' : 'out');
      if (c === 'rx_packets' || c === 'tx_packets') return series('net', 'packets', 'packets', `${b} ${c === 'rx_packets' ? 'in' : 'out'}`);
      return series('net', 'neterr', 'errors and drops', `${b} ${c}`);
    case 'proc':
      return s.length === 3 ? {kind: 'table', table: 'proc', row: b, col: c} : null;
    case 'port':
      return s.length === 3 ? {kind: 'table', table: 'port', row: b, col: c} : null;
    case 'url':
      if (s.length !== 3) return null;
      if (c === 'ttfb_ms' || c === 'total_ms') return series('url', 'url:' + b, `URL ${b}`, c === 'ttfb_ms' ? 'first byte' : 'total');
      return {kind: 'table', table: 'url', row: b, col: c};
    case 'nginx':
      if (['accepts', 'handled', 'requests'].includes(b)) return series('nginx', 'nginx-rate', 'nginx per second', b + ' /s', {rate: true});
      return series('nginx', 'nginx', 'nginx connections', b);
    case 'cgroup':
      return series('cgroup', 'cgroup:' + b, b, b);
    case 'agent':
      if (b === 'interval_ms' || b === 'collect_ms') return series('agent', 'agent-ms', 'agent interval and collect time', b);
      return {kind: 'table', table: 'agent', row: 'agent', col: b};
    case 'bench':
      return {kind: 'bench'};
    case 'info':
    case 'uptime':
      return {kind: 'header'};
    default:
      return {kind: 'table', table: 'other', row: rel, col: 'value'};
  }
}

// ---------------------------------------------------------------- tables

const TABLES = {
  proc: {section: 'proc', cols: ['cpu_percent', 'rss', 'memory_percent', 'threads', 'read_bytes', 'write_bytes', 'pid', 'status', 'user'],
    sort: (a, b) => (num(b.get('cpu_percent')) - num(a.get('cpu_percent'))) || naturalCompare(a.id, b.id), first: 'process', limit: 30},
  port: {section: 'port', cols: ['state', 'reason', 'service'], first: 'port'},
  url: {section: 'url', cols: ['status', 'bytes'], first: 'check'},
  agent: {section: 'agent', cols: null, first: ''},
  other: {section: 'other', cols: ['value'], first: 'key'},
};
const num = v => (typeof v === 'number' ? v : -Infinity);
const tables = new Map();
let tablesDirty = new Set();
let tableFrame = 0;

function tableSet(name, row, col, value) {
  let t = tables.get(name);
  if (!t) {
    const spec = TABLES[name];
    const sec = sections.get(spec.section);
    sec.s.hidden = false;
    const body = el('tbody');
    const head = el('tr');
    const table = el('table', {class: 'grid leaf-table', id: 'table-' + name}, el('thead', {}, head), body);
    sec.extra.append(table);
    t = {spec, rows: new Map(), body, head, cols: spec.cols ? [...spec.cols] : []};
    tables.set(name, t);
  }
  if (value === null) t.rows.delete(row);
  else {
    if (!t.rows.has(row)) {
      const m = new Map();
      m.id = row;
      t.rows.set(row, m);
    }
    t.rows.get(row).set(col, value);
    if (!t.cols.includes(col)) t.cols.push(col);
  }
  tablesDirty.add(t);
  if (!tableFrame) tableFrame = requestAnimationFrame(drawTables);
}

function cell(rowKey, col, v) {
  if (v === undefined) return '';
  if (typeof v !== 'number') return typeof v === 'string' ? v : JSON.stringify(v);
  return formatWithUnit(v, unitOf(prefix + rowKey + ',' + col));
}

function drawTables() {
  tableFrame = 0;
  for (const t of tablesDirty) {
    const {spec} = t;
    const cols = t.cols;
    t.head.replaceChildren(...(spec.first !== '' ? [el('th', {}, spec.first)] : []), ...cols.map(c => el('th', {}, c)));
    let rows = [...t.rows.values()];
    rows.sort(spec.sort || ((a, b) => naturalCompare(a.id, b.id)));
    rows = rows.slice(0, spec.limit || 200);
    const base = {proc: 'proc,', port: 'port,', url: 'url,', agent: '', other: ''}[Object.keys(TABLES).find(k => TABLES[k] === spec)];
    t.body.replaceChildren(...rows.map(r => el('tr', {dataset: {row: r.id}},
      ...(spec.first !== '' ? [el('td', {class: 'key'}, r.id)] : []),
      ...cols.map(c => el('td', {class: 'v'}, spec.first === 'key' ? cell(r.id, '', r.get(c)).trim() : cell(base + r.id, c, r.get(c)))))));
  }
  tablesDirty = new Set();
}

// ---------------------------------------------------------------- benchmarks

const bench = {values: new Map(), render: null, tried: false, body: null, busy: false, again: false};

// bench.js's renderBench reads the subtree itself and draws it whole: called
// once per batch of bench values (one at a time; a batch that comes while it
// runs calls it once more after).
async function renderBenchNow(container) {
  if (bench.busy) {
    bench.again = true;
    return;
  }
  bench.busy = true;
  try {
    do {
      bench.again = false;
      await bench.render(container, name, api);
    } while (bench.again);
  } finally {
    bench.busy = false;
  }
}

async function showBench(key, value) {
  bench.values.set(key, value);
  const sec = sections.get('bench');
  sec.s.hidden = false;
  if (!bench.tried) {
    bench.tried = true;
    try {
      const mod = await import('./bench.js');
      if (typeof mod.renderBench === 'function') bench.render = mod.renderBench;
    } catch {
      // No bench.js (or it failed to load): the plain table below.
    }
  }
  if (bench.render) {
    await renderBenchNow(sec.extra);
    return;
  }
  if (!bench.body) {
    bench.body = el('tbody');
    sec.extra.append(el('table', {class: 'grid leaf-table', id: 'table-bench'},
      el('thead', {}, el('tr', {}, el('th', {}, 'benchmark'), el('th', {}, 'value'))), bench.body));
  }
  const keys = [...bench.values.keys()].sort(naturalCompare);
  bench.body.replaceChildren(...keys.filter(k => bench.values.get(k) !== null).map(k =>
    el('tr', {}, el('td', {class: 'key'}, k.slice(prefix.length + 'bench,'.length)),
      el('td', {class: 'v'}, cell(k.slice(prefix.length), '', bench.values.get(k)).trim()))));
}

// ---------------------------------------------------------------- header

function refreshHeader() {
  const v = rel => values.get(rel);
  const text = x => (x === undefined || x === null ? '' : typeof x === 'string' ? x : fmtNum(x));
  const now = Date.now() / 1000;
  const age = seen === null ? null : now - seen;
  const quiet = age === null || age > Math.max(3 * (interval || 1000) / 1000, 3);
  badge.hidden = !quiet;
  main.dataset.quiet = String(quiet);
  const up = v('uptime');
  meta.textContent = [
    [text(v('info,distro')) || text(v('info,os')), text(v('info,kernel')), text(v('info,arch'))].filter(Boolean).join(' '),
    text(v('info,cpu_model')) + (typeof v('info,cores') === 'number' ? ` × ${v('info,cores')}` : ''),
    typeof up === 'number' ? 'up ' + formatWithUnit(up, 's') : '',
    `agent every ${intervalText(interval)}`,
    `last seen ${ago(age)}`,
  ].filter(s => s && s.trim()).join(' · ');
}
setInterval(refreshHeader, 1000);

// ---------------------------------------------------------------- the feed

function onItems(items, {initial, reset}) {
  const now = Date.now() / 1000;
  let benchKey = null, benchValue;
  const t = initial || reset ? (seen ?? now - 365 * 86400) : now;
  if (!(initial || reset) && items.length) seen = now;
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      if (!key.startsWith(prefix)) continue;
      const rel = key.slice(prefix.length);
      values.set(rel, value);
      if (rel === 'agent,interval_ms' && typeof value === 'number') interval = value;
      const r = route(rel);
      if (!r) continue;
      if (r.kind === 'chart') {
        if (value === null) continue;
        const c = chart(r.section, r.id, r.title, {href: r.href || trendHref(key, {rate: r.rate})});
        if (c.addSeries({key, label: r.label, rate: !!r.rate})) {
          if (!c.unit && unitOf(key)) c.setUnit(unitOf(key));
          c.push(t, key, value);
        }
      } else if (r.kind === 'table') {
        tableSet(r.table, r.row, r.col, value);
      } else if (r.kind === 'bench') {
        benchKey = key;
        benchValue = value;
        if (!bench.render) showBench(key, value).catch(() => {});
      }
    }
  }
  // bench.js draws the whole subtree: once per batch.
  if (benchKey !== null && bench.render) showBench(benchKey, benchValue).catch(() => {});
  refreshHeader();
}

async function start() {
  if (!name) return;
  // The agent subtree's windows say when the host was last seen; asked
  // only when it exists (a 404 shows in the browser's console).
  let subs = [];
  try {
    const top = await request(`/api/q/${pathKey(`host,${name}`)}.json?depth=1`);
    subs = Object.keys(top && typeof top === 'object' ? top : {});
  } catch { /* a host with nothing yet: the feed finds it */ }
  const [u, agentMeta] = await Promise.all([unitsFor([`host,${name}`]),
    subs.includes('agent') ? loadMeta(`host,${name},agent`).catch(() => null) : null]);
  units = u;
  if (agentMeta) {
    for (const m of agentMeta.leaves.values()) if (m.seen !== null && (seen === null || m.seen > seen)) seen = m.seen;
  }
  if (seen === null) seen = await lastWritten([prefix + 'agent,seq', prefix + 'cpu,percent', prefix + 'load,1']);
  let seeded = false;
  new Live({
    keys: [`host,${name}`],
    onItems: (items, info) => {
      onItems(items, info);
      if ((info.initial || info.reset) && !seeded) {
        seeded = true;
        if (!items.length) showMessage('warn', `Nothing under host,${name} yet: is its agent running with --host=${name}?`, {id: 'empty'});
        seedCharts([...charts.values()], {minutes: MINUTES}).catch(() => {});
      } else if (items.length) {
        clearMessage('empty');
      }
    },
    onState: (state, detail) => {
      showConnection(state, detail);
      if (state === 'error') showMessage('error', 'The live feed stopped: ' + detail, {id: 'live'});
      else clearMessage('live');
    },
  }).start();
}

start().catch(e => showMessage('error', 'Could not open this host: ' + e.message));
