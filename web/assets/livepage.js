// What the overview (/overview/) and a host's page (/host/<name>) share:
// reading actions and last-seen times from /api/q meta, "how long ago",
// units with the no-unit fallback, and charts grouped by subtree fed from one
// /pull. Runs in the page; nothing here touches the DOM with data but
// through textContent (el()).

import {request, pathKey, splitKey, isTimer, naturalCompare, query} from './api.js';
import {loadUnits} from './units.js';
import {el} from './page.js';
import {LiveChart} from './livechart.js';

// The finest history step (a window): a leaf's meta says when its window
// began, so it was last written within a step after that.
export const WINDOW_S = 10;

// Walks /api/q/<key>.json?meta=1: Map from each leaf's key to
// {action, seen} (seen: epoch seconds, at most now). Interior nodes' actions
// go in `actions` too, so a leaf that appears later inherits its parent's.
export function metaIndex(node, key, out = new Map(), actions = new Map()) {
  if (!node || typeof node !== 'object') return {leaves: out, actions};
  const now = Date.now() / 1000;
  if (node.action) actions.set(key, node.action);
  if ('value' in node) {
    // A leaf written only with past times ("time") has no live window
    // (start 0): unknown here, /trend knows (lastWritten).
    const start = node.window && typeof node.window.start === 'number' && node.window.start > 0 ? node.window.start : null;
    out.set(key, {action: node.action, seen: start === null ? null : Math.min(now, start + WINDOW_S)});
  }
  for (const [name, child] of Object.entries(node.children || {})) {
    metaIndex(child, key === '' ? name : key + ',' + name, out, actions);
  }
  return {leaves: out, actions};
}

export async function loadMeta(key, {signal} = {}) {
  try {
    const body = await request(`/api/q/${pathKey(key)}.json?meta=1`, {signal});
    return metaIndex(body, key);
  } catch (e) {
    if (e && e.status === 404) return {leaves: new Map(), actions: new Map()};
    throw e;
  }
}

// The action of `key`: its own, else its nearest known ancestor's.
export function actionOf(key, actions) {
  const segs = splitKey(key);
  for (let n = segs.length; n > 0; n--) {
    const a = actions.get(segs.slice(0, n).join(','));
    if (a) return a;
  }
  return 'last';
}

// When any of `keys` was last written, from history: the last point of the
// last two hours, else of the last 30 days (coarser). null when none.
export async function lastWritten(keys, {signal} = {}) {
  for (const from of ['-2h', '-30d']) {
    try {
      const body = await request('/trend' + query({key: keys, from, to: 'now', fn: 'last'}), {signal});
      let last = null;
      for (const sr of (body && body.series) || []) {
        const p = sr.points && sr.points[sr.points.length - 1];
        if (p && (last === null || p[0] > last)) last = p[0];
      }
      if (last !== null) return Math.min(Date.now() / 1000, last + (body.step || 0));
    } catch {
      return null;
    }
  }
  return null;
}

export function ago(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return 'unknown';
  const s = Math.max(0, Math.round(seconds));
  if (s < 2) return 'now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function intervalText(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${+(ms / 1000).toFixed(1)} s`;
}

// Units from canopyd (GET /api/units) for several patterns, in one Map; a
// key the server gives no unit for has none (plain numbers). Failing
// requests count as "no units": the charts work without them.
export async function unitsFor(patterns, {signal} = {}) {
  const all = new Map();
  await Promise.all(patterns.map(async p => {
    try {
      for (const [k, u] of await loadUnits(p, {signal})) all.set(k, u);
    } catch { /* shown without units */ }
  }));
  return all;
}

export function trendHref(key, {rate = false} = {}) {
  return '/trend/view/' + query({key, fn: rate ? 'rate' : null});
}

// Charts of every leaf under some top-level subtrees, grouped: a section per
// top-level name, a chart per second-level node (leaves right under the top
// share one chart), a series per leaf (timers: p50 and p99; counters: their
// rate). Text leaves go in a small table. Bounded: `maxCharts` charts per
// section, `maxSeries` series per chart, the rest a click away in the key
// tree.
export class SubtreeCharts {
  constructor(container, {sync = 'overview', maxCharts = 24, maxSeries = 8, minutes = 5} = {}) {
    this.container = container;
    this.sync = sync;
    this.maxCharts = maxCharts;
    this.maxSeries = maxSeries;
    this.minutes = minutes;
    this.groups = new Map();    // top -> {section, grid, charts: Map, texts: Map, textBody, more}
    this.actions = new Map();
    this.units = new Map();
    this.leafChart = new Map(); // key -> chart (null: not charted)
  }

  learn({actions, units}) {
    if (actions) for (const [k, a] of actions) this.actions.set(k, a);
    if (units) for (const [k, u] of units) this.units.set(k, u);
  }

  charts() {
    const out = [];
    for (const g of this.groups.values()) out.push(...g.charts.values());
    return out;
  }

  _group(top) {
    let g = this.groups.get(top);
    if (g) return g;
    const grid = el('div', {class: 'live-grid'});
    const textBody = el('tbody');
    const texts = el('table', {class: 'grid leaf-table', hidden: true}, el('thead', {}, el('tr', {}, el('th', {}, 'key'), el('th', {}, 'text'))), textBody);
    const more = el('p', {class: 'muted', hidden: true});
    const section = el('section', {class: 'group', dataset: {group: top}},
      el('h2', {}, top, ' ', el('a', {href: '/realtime/' + query({key: top}), class: 'muted', style: 'font-size:12px;font-family:inherit'}, 'key tree →')),
      grid, more, texts);
    // Sections in name order.
    const after = [...this.groups.keys()].sort(naturalCompare).find(k => naturalCompare(k, top) > 0);
    if (after) this.container.insertBefore(section, this.groups.get(after).section);
    else this.container.append(section);
    g = {section, grid, charts: new Map(), texts: new Map(), textBody, textTable: texts, more, hidden: 0};
    this.groups.set(top, g);
    return g;
  }

  // Feeds one leaf's value; creates its chart and series on first sight.
  push(t, key, value) {
    let chart = this.leafChart.get(key);
    if (chart === undefined) chart = this._place(key, value);
    if (chart) {
      chart.push(t, key, value);
      return;
    }
    if (chart === null && value !== null && typeof value !== 'number' && !isTimer(value)) this._text(key, value);
  }

  _place(key, value) {
    const segs = splitKey(key);
    if (value === null) return undefined;  // removed before seen
    const top = segs[0];
    const g = this._group(top);
    if (typeof value !== 'number' && !isTimer(value)) {
      this.leafChart.set(key, null);
      return null;
    }
    // A chart per parent node, at most three segments deep: web,status
    // holds 200, 404...; canopy,self,ingest holds http,accepted, ...
    const chartKey = segs.length <= 2 ? top : segs.slice(0, Math.min(3, segs.length - 1)).join(',');
    let chart = g.charts.get(chartKey);
    const rate = actionOf(key, this.actions) === 'add';
    if (!chart) {
      if (g.charts.size >= this.maxCharts) {
        g.hidden++;
        g.more.hidden = false;
        g.more.textContent = `${g.hidden} more series not charted here: see the key tree.`;
        this.leafChart.set(key, null);
        return null;
      }
      chart = new LiveChart(g.grid, {title: chartKey, unit: this.units.get(key) || '', sync: this.sync,
        minutes: this.minutes, maxSeries: this.maxSeries, href: trendHref(chartKey, {rate})});
      g.charts.set(chartKey, chart);
    }
    const label = segs.slice(splitKey(chartKey).length).join(',') || top;
    let ok;
    if (isTimer(value)) {
      ok = chart.addSeries({key, label: label + ' p50', field: 'p50'}) && chart.addSeries({key, label: label + ' p99', field: 'p99'});
    } else {
      ok = chart.addSeries({key, label: label + (rate ? ' /s' : ''), rate});
    }
    if (!chart.unit && this.units.get(key)) chart.setUnit(this.units.get(key));
    if (!ok) {
      g.hidden++;
      g.more.hidden = false;
      g.more.textContent = `${g.hidden} more series not charted here: see the key tree.`;
      this.leafChart.set(key, null);
      return null;
    }
    this.leafChart.set(key, chart);
    return chart;
  }

  _text(key, value) {
    const g = this._group(splitKey(key)[0]);
    let row = g.texts.get(key);
    if (!row) {
      if (g.texts.size >= 50) return;
      row = el('tr', {}, el('td', {class: 'key'}, key), el('td', {class: 'v'}));
      g.texts.set(key, row);
      g.textBody.append(row);
      g.textTable.hidden = false;
    }
    row.lastChild.textContent = typeof value === 'string' ? value : JSON.stringify(value);
  }
}
