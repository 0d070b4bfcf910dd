// /overview/ (the landing page, / goes here): every host canopy-agent feeds
// (host,<name>,...) in a list (name, OS, last seen, agent interval, CPU,
// memory, load; a host silent for three of its intervals is marked quiet)
// and a card of live charts each (CPU, memory, load, disk use, disk IO,
// network); below, every other top-level subtree (StatsD, Graphite, the
// pipes' web,... and traffic,...) as live charts. One long-poll (/pull with
// several key= patterns) feeds the whole page; values are drawn as they
// arrive (livechart.js batches them per frame). A host name opens
// /host/<name>.

import {request, splitKey, naturalCompare, fmtNum, Live} from './api.js';
import {setupPage, showMessage, clearMessage, showConnection, el} from './page.js';
import {LiveChart, seedCharts} from './livechart.js';
import {formatWithUnit} from './units.js';
import {loadMeta, lastWritten, ago, intervalText, unitsFor, SubtreeCharts, trendHref} from './livepage.js';

const main = setupPage('overview');
const MINUTES = 5;

// ---------------------------------------------------------------- layout

const hostBody = el('tbody', {id: 'host-rows'});
const hostTable = el('table', {class: 'hosts', id: 'hosts'},
  el('thead', {}, el('tr', {},
    ['host', 'OS', 'last seen', 'agent interval', 'CPU', 'memory', 'load 1'].map((h, i) => el('th', {class: i >= 4 ? 'num' : null}, h)))),
  hostBody);
const noHosts = el('p', {class: 'muted', id: 'no-hosts'},
  'No host yet. Start canopy-agent (scripts/run.sh does) and its hosts show up here as they push.');
const cards = el('div', {id: 'host-cards'});
const others = el('div', {id: 'others'});
const noOthers = el('p', {class: 'muted', id: 'no-others', hidden: true},
  'Nothing else yet: StatsD, Graphite and pushed JSON show up here by top-level key.');
main.append(
  el('div', {class: 'toolbar'}, el('h1', {style: 'margin:0'}, 'Overview'), el('span', {class: 'grow'}),
    el('a', {href: '/realtime/', id: 'key-tree'}, 'key tree →')),
  el('h2', {}, 'Hosts'), hostTable, noHosts, cards,
  el('h2', {}, 'Everything else'), noOthers, others);

// ---------------------------------------------------------------- hosts

// The host subtree's keys this page charts (one /pull for all of them).
const HOST_KEYS = ['cpu,user', 'cpu,system', 'cpu,iowait', 'cpu,steal', 'cpu,percent', 'mem', 'load',
  'disk,*,percent', 'diskio', 'net', 'info', 'agent', 'uptime'].map(k => 'host,*,' + k);

const hosts = new Map();
let units = new Map();

function unitOf(key) { return units.get(key) || ''; }

class Host {
  constructor(name) {
    this.name = name;
    this.values = new Map();   // rel key -> value
    this.seen = null;          // epoch seconds
    this.interval = null;      // ms
    const href = '/host/' + encodeURIComponent(name);
    this.link = el('a', {href, class: 'host-link'}, name);
    this.cells = {
      os: el('td'), seen: el('td', {class: 'seen'}), interval: el('td', {class: 'num'}),
      cpu: el('td', {class: 'num'}), mem: el('td', {class: 'num'}), load: el('td', {class: 'num'}),
    };
    this.badge = el('span', {class: 'badge quiet', hidden: true}, 'quiet');
    this.row = el('tr', {dataset: {host: name}}, el('td', {class: 'name'}, this.link, this.badge),
      this.cells.os, this.cells.seen, this.cells.interval, this.cells.cpu, this.cells.mem, this.cells.load);
    const grid = el('div', {class: 'live-grid'});
    this.meta = el('span', {class: 'meta'});
    this.cardSeen = el('span', {class: 'meta seen'});
    this.card = el('section', {class: 'host-card', dataset: {host: name}},
      el('header', {}, el('h2', {}, el('a', {href}, name)), this.meta, this.cardSeen), grid);
    const p = `host,${name},`;
    const sync = 'overview';
    const c = (title, key, series, opts = {}) => new LiveChart(grid, {title, sync, minutes: MINUTES, series,
      unit: unitOf(series.length ? series[0].key : ''), href: trendHref(p + key), ...opts});
    this.charts = {
      cpu: c('CPU', 'cpu', ['user', 'system', 'iowait', 'steal'].map(f => ({key: p + 'cpu,' + f, label: f}))),
      mem: c('memory', 'mem', ['used', 'cached', 'available'].map(f => ({key: p + 'mem,' + f, label: f}))),
      load: c('load', 'load', ['1', '5', '15'].map(f => ({key: p + 'load,' + f, label: f + ' min'}))),
      disk: c('disk use', 'disk', [], {maxSeries: 8}),
      diskio: c('disk IO', 'diskio', [], {maxSeries: 8}),
      net: c('network', 'net', [], {maxSeries: 8}),
    };
    insertSorted(hostBody, this.row, name);
    insertSorted(cards, this.card, name);
    noHosts.hidden = true;
  }

  allCharts() { return Object.values(this.charts); }

  // A value of host,<name>,<rel>.
  push(t, rel, key, value, live) {
    this.values.set(rel, value);
    if (live) this.seen = t;
    const segs = splitKey(rel);
    const ch = this.charts;
    switch (segs[0]) {
      case 'cpu': ch.cpu.push(t, key, value); break;
      case 'mem': ch.mem.push(t, key, value); break;
      case 'load': ch.load.push(t, key, value); break;
      case 'disk':
        if (segs.length === 3 && ch.disk.addSeries({key, label: segs[1]})) {
          if (!ch.disk.unit) ch.disk.setUnit(unitOf(key));
          ch.disk.push(t, key, value);
        }
        break;
      case 'diskio':
        if (segs.length === 3 && (segs[2] === 'read_bytes' || segs[2] === 'write_bytes')) {
          if (ch.diskio.addSeries({key, label: `${segs[1]} ${segs[2] === 'read_bytes' ? 'read' : 'write'}`})) {
            if (!ch.diskio.unit) ch.diskio.setUnit(unitOf(key));
            ch.diskio.push(t, key, value);
          }
        }
        break;
      case 'net':
        if (segs.length === 3 && segs[1] !== 'lo' && (segs[2] === 'rx_bytes' || segs[2] === 'tx_bytes')) {
          if (ch.net.addSeries({key, label: `${segs[1]} ${segs[2] === 'rx_bytes' ? 'in' : 'out'}`})) {
            if (!ch.net.unit) ch.net.setUnit(unitOf(key));
            ch.net.push(t, key, value);
          }
        }
        break;
      case 'agent':
        if (rel === 'agent,interval_ms' && typeof value === 'number') this.interval = value;
        break;
    }
    this.dirty = true;
  }

  // The list's row and the card's header; quiet after 3 intervals.
  refresh(now) {
    const v = rel => this.values.get(rel);
    const text = x => (x === undefined || x === null ? '' : typeof x === 'string' ? x : fmtNum(x));
    const os = [text(v('info,distro')) || text(v('info,os')), text(v('info,arch'))].filter(Boolean).join(' · ');
    this.cells.os.textContent = os || '—';
    this.cells.os.title = text(v('info,kernel'));
    this.cells.interval.textContent = intervalText(this.interval);
    const fmt = (rel, unitRel) => {
      const x = v(rel);
      if (x === undefined) return '—';
      return typeof x === 'number' ? formatWithUnit(x, unitOf(`host,${this.name},${unitRel || rel}`)) : String(x);
    };
    this.cells.cpu.textContent = fmt('cpu,percent');
    this.cells.mem.textContent = fmt('mem,percent');
    this.cells.load.textContent = fmt('load,1');
    const age = this.seen === null ? null : now - this.seen;
    const limit = Math.max(3 * (this.interval || 1000) / 1000, 3);
    const quiet = age === null || age > limit;
    this.cells.seen.textContent = ago(age);
    this.cells.seen.title = this.seen ? new Date(this.seen * 1000).toLocaleString() : '';
    this.row.classList.toggle('quiet', quiet);
    this.card.classList.toggle('quiet', quiet);
    this.badge.hidden = !quiet;
    this.row.dataset.quiet = String(quiet);
    this.card.dataset.quiet = String(quiet);
    const cores = v('info,cores');
    const mem = v('mem,total');
    this.meta.textContent = [os, typeof cores === 'number' ? `${cores} cores` : '',
      typeof mem === 'number' ? formatWithUnit(mem, unitOf(`host,${this.name},mem,total`)) + ' memory' : '',
      `every ${intervalText(this.interval)}`].filter(Boolean).join(' · ');
    this.cardSeen.textContent = quiet ? `quiet: last seen ${ago(age)}` : '';
  }
}

function insertSorted(parent, node, name) {
  const after = [...parent.children].find(c => naturalCompare(c.dataset.host || '', name) > 0);
  parent.insertBefore(node, after || null);
}

// When each host was last seen, from its agent subtree's windows (or any
// other subtree's), before the first live value. `subs`: the host's
// subtrees (only those that exist are asked for).
async function learnHost(h, subs) {
  for (const sub of ['agent', 'cpu', 'load', 'mem'].filter(x => subs.includes(x))) {
    try {
      const {leaves} = await loadMeta(`host,${h.name},${sub}`);
      let seen = null;
      for (const m of leaves.values()) if (m.seen !== null && (seen === null || m.seen > seen)) seen = m.seen;
      if (seen !== null) return seen;
    } catch { /* try the next */ }
  }
  const p = `host,${h.name},`;
  return lastWritten([p + 'agent,seq', p + 'cpu,percent', p + 'load,1']);
}

// ---------------------------------------------------------------- everything else

const rest = new SubtreeCharts(others, {sync: 'overview', minutes: MINUTES});
let restTops = [];
let restSeen = new Map();  // key -> last-seen estimate from meta

async function learnRest(tops) {
  const metas = await Promise.all(tops.map(t => loadMeta(t).catch(() => null)));
  const actions = new Map();
  for (const m of metas) {
    if (!m) continue;
    for (const [k, a] of m.actions) actions.set(k, a);
    for (const [k, x] of m.leaves) restSeen.set(k, x.seen);
  }
  rest.learn({actions, units: await unitsFor(tops)});
}

// ---------------------------------------------------------------- the feed

let live = null;
let seeded = false;

function onItems(items, {initial, reset}) {
  const now = Date.now() / 1000;
  const fresh = [];
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      const segs = splitKey(key);
      if (segs[0] === 'host' && segs.length >= 3) {
        let h = hosts.get(segs[1]);
        if (!h) {
          if (value === null) continue;
          h = new Host(segs[1]);
          hosts.set(segs[1], h);
          fresh.push(h);
        }
        // A first value (from /get) was written when the host was last
        // seen, not now: it is drawn there (or not at all when older than
        // the charts' span), so a quiet host's charts do not show it as new.
        const t = initial || reset ? h.seen : now;
        h.push(t === null ? now - 365 * 86400 : t, segs.slice(2).join(','), key, value, !(initial || reset));
      } else if (segs[0] !== 'host') {
        const t = initial || reset ? (restSeen.get(key) ?? now - 365 * 86400) : now;
        rest.push(t, key, value);
      }
    }
  }
  if (fresh.length && !initial) {
    // A host that appeared after the page opened: its units and history.
    (async () => {
      units = new Map([...units, ...await unitsFor(fresh.map(h => `host,${h.name}`))]);
      await seedCharts(fresh.flatMap(h => h.allCharts()), {minutes: MINUTES});
    })().catch(() => {});
  }
  noOthers.hidden = rest.groups.size > 0;
  refreshHosts();
}

function refreshHosts() {
  const now = Date.now() / 1000;
  for (const h of hosts.values()) h.refresh(now);
}
setInterval(refreshHosts, 1000);

async function start() {
  // Which hosts and top-level subtrees there are, and what is known about
  // them, before the feed starts: actions, units, when hosts were last seen.
  let tops = [];
  try {
    const root = await request('/api/q/.json?depth=1');
    tops = Object.keys(root && typeof root === 'object' ? root : {});
  } catch (e) {
    showMessage('error', 'Could not read the tree: ' + e.message, {id: 'tree'});
  }
  restTops = tops.filter(t => t !== 'host').sort(naturalCompare);
  let hostTree = {};
  if (tops.includes('host')) {
    try {
      const body = await request('/api/q/host.json?depth=2');
      if (body && typeof body === 'object') hostTree = body;
    } catch { /* found by the feed */ }
  }
  const hostNames = Object.keys(hostTree);
  const subsOf = name => Object.keys(hostTree[name] && typeof hostTree[name] === 'object' ? hostTree[name] : {});
  const [u] = await Promise.all([
    unitsFor(hostNames.length ? ['host'] : []),
    learnRest(restTops),
    Promise.all(hostNames.map(async name => {
      const h = new Host(name);
      hosts.set(name, h);
      h.seen = await learnHost(h, subsOf(name));
    })),
  ]);
  units = u;
  for (const h of hosts.values()) for (const c of h.allCharts()) if (!c.unit && c.series.length) c.setUnit(unitOf(c.series[0].key));
  refreshHosts();
  startLive();
}

function startLive() {
  if (live) live.stop();
  const keys = [...HOST_KEYS, ...restTops];
  live = new Live({
    keys,
    onItems: (items, info) => {
      onItems(items, info);
      if ((info.initial || info.reset) && !seeded) {
        seeded = true;
        const charts = [...[...hosts.values()].flatMap(h => h.allCharts()), ...rest.charts()];
        seedCharts(charts, {minutes: MINUTES}).catch(() => {});
      }
    },
    onState: (state, detail) => {
      showConnection(state, detail);
      if (state === 'error') showMessage('error', 'The live feed stopped: ' + detail, {id: 'live'});
      else clearMessage('live');
    },
  }).start();
}

// A new top-level subtree (a StatsD client that just started) is picked up
// by asking again now and then; the feed is restarted only when the list
// changed.
setInterval(async () => {
  if (document.hidden || !live) return;
  try {
    const root = await request('/api/q/.json?depth=1');
    const tops = Object.keys(root || {}).filter(t => t !== 'host').sort(naturalCompare);
    if (tops.join('\u0000') !== restTops.join('\u0000')) {
      const added = tops.filter(t => !restTops.includes(t));
      await learnRest(added);
      restTops = tops;
      seeded = true;  // the new subtrees start with live values
      startLive();
    }
  } catch { /* the feed shows the connection state */ }
}, 15000);

start();
