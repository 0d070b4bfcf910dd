// Live charts: a uPlot chart of the last few minutes that moves with each
// value /pull brings. The page feeds values as they arrive (chart.push);
// drawing is batched: every chart changed since the last frame is redrawn
// once, in requestAnimationFrame, so 50 charts at one value a second cost 50
// setData calls a second and no timer; at most a few ms of drawing per frame
// (charts on screen first), so that a burst never drops frames. A hidden tab draws nothing (the
// browser runs no frames; Live stops polling). Charts slide their time axis
// every second only when no value came (a quiet host's lines end, flat, and
// move left), and that is the one timer here.
//
//   const c = new LiveChart(parent, {title, unit, series: [{key, label}],
//                                    minutes: 5, sync: 'overview'});
//   c.seed(), seedCharts([...]) // history from /trend, if there is any
//   c.push(t, key, value)       // t in epoch seconds
//
// A series may chart a field of a timer ({key, field: 'p99'}) or the rate of
// a counter ({key, rate: true}: the change per second between two values; a
// counter going back counts as a restart, not a negative rate). A value that
// is not a number leaves a gap and shows as text in the title. Units go
// through units.js (the y axis, the legend, the title); a chart without a
// unit shows plain numbers. Colours of axes and grid come from canopy.css's
// variables (chart_theme.js) and follow the theme.
//
// For tests and benchmarks: each chart's element carries data-points,
// data-last-time and data-last-value (set when the chart is drawn), and
// window.canopyLive = {charts, draws, frames, pending()} counts what was
// drawn and what waits to be.

import uPlot from './uplot/uPlot.esm.js';
import {request, query} from './api.js';
import {formatWithUnit, axisIncrs} from './units.js';
import {el} from './page.js';
import {themeColors, onThemeChange} from './chart_theme.js';

export const COLORS = ['#2463eb', '#e8590c', '#0ca678', '#ae3ec9', '#f03e3e', '#1098ad', '#f59f00', '#868e96', '#74b816', '#d6336c'];

// ---------------------------------------------------------------- the frame loop

const all = new Set();
const dirty = new Set();
let frame = 0;
const stats = {charts: all, draws: 0, frames: 0, pending: () => dirty.size};
window.canopyLive = stats;

function schedule(chart) {
  dirty.add(chart);
  if (!frame) frame = requestAnimationFrame(drawDirty);
}

// At most this much drawing per frame: values that arrive together (an
// agent's whole interval in one /pull answer) would otherwise redraw every
// chart in one frame, a long task that drops frames. Charts on screen go
// first; the rest follow in the next frames, a few ms later.
const BUDGET_MS = 6;

function drawDirty() {
  frame = 0;
  stats.frames++;
  const now = Date.now() / 1000;
  const t0 = performance.now();
  const order = [...dirty].sort((a, b) => b.visible - a.visible);
  for (const c of order) {
    if (performance.now() - t0 > BUDGET_MS) break;
    dirty.delete(c);
    try {
      c._draw(now);
    } catch (e) {
      // One chart's bad data must not stop the others.
      console.warn('canopy: a live chart could not draw:', e);
    }
  }
  if (dirty.size) frame = requestAnimationFrame(drawDirty);
}

const onScreen = typeof IntersectionObserver === 'function' ? new IntersectionObserver(entries => {
  for (const e of entries) if (e.target._liveChart) e.target._liveChart.visible = e.isIntersecting;
}) : null;

// The time axis slides even without values; charts drawn in the last
// second need nothing.
setInterval(() => {
  if (document.hidden) return;
  const now = Date.now() / 1000;
  for (const c of all) if (c.u && now - c.drawnAt > 1) schedule(c);
}, 1000);

onThemeChange(() => {
  for (const c of all) if (c.u) c.u.redraw(false, true);
});

const resizer = typeof ResizeObserver === 'function' ? new ResizeObserver(entries => {
  for (const e of entries) {
    const c = e.target._liveChart;
    if (c && c.u) {
      const w = Math.floor(e.contentRect.width);
      if (w > 0 && w !== c.u.width) c.u.setSize({width: w, height: c.height});
    }
  }
}) : null;

// ---------------------------------------------------------------- history

// Seeds charts from /trend: the keys of all of them in a few requests
// (averages, and fn=rate for counters), each URL kept short. Charts whose
// keys have no history just start with their live values.
export async function seedCharts(charts, {signal, minutes = 5} = {}) {
  const plainKeys = new Set(), rateKeys = new Set();
  for (const c of charts) for (const s of c.series) if (!s.field) (s.rate ? rateKeys : plainKeys).add(s.key);
  const ask = async (keys, fn) => {
    const out = new Map();
    const chunks = [];
    let chunk = [], len = 0;
    for (const k of keys) {
      const l = encodeURIComponent(k).length + 5;
      // /trend takes 64 key= at most.
      if (chunk.length && (len + l > 6000 || chunk.length >= 60)) { chunks.push(chunk); chunk = []; len = 0; }
      chunk.push(k);
      len += l;
    }
    if (chunk.length) chunks.push(chunk);
    await Promise.all(chunks.map(async ks => {
      try {
        const body = await request('/trend' + query({key: ks, from: `-${minutes * 60}s`, to: 'now', fn}), {signal});
        for (const sr of (body && body.series) || []) out.set(sr.key, sr.points || []);
      } catch {
        // No history (a server without it, keys too new): live values only.
      }
    }));
    return out;
  };
  const [plain, rates] = await Promise.all([ask(plainKeys, 'avg'), ask(rateKeys, 'rate')]);
  for (const c of charts) c._mergeSeed(plain, rates);
}

// ---------------------------------------------------------------- a chart

// 24-hour clock time of epoch seconds t.
function clock(t, seconds) {
  const d = new Date(t * 1000);
  const p = n => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}` + (seconds ? `:${p(d.getSeconds())}` : '');
}

function numberOf(v, field) {
  if (field) v = v !== null && typeof v === 'object' ? v[field] : undefined;
  else if (v !== null && typeof v === 'object' && 'mean' in v) v = v.mean;  // a timer where a number was
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function textOf(v) {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export class LiveChart {
  constructor(parent, {title, unit = '', series = [], minutes = 5, sync = 'canopy', height = 130, maxSeries = 10, href} = {}) {
    this.title = title;
    this.unit = unit || '';
    this.span = minutes * 60;
    this.height = height;
    this.maxSeries = maxSeries;
    this.syncKey = sync;
    this.series = [];          // {key, label, field, rate, prev: {t, v}}
    this.byKey = new Map();    // key -> [series index]
    this.xs = [];
    this.ys = [];
    this.dropped = 0;          // series past maxSeries
    this.lastText = null;
    this.lastT = 0;
    this.drawnAt = 0;
    this.u = null;
    const name = href ? el('a', {class: 'name', href, title}, title) : el('span', {class: 'name', title}, title);
    this.nowEl = el('span', {class: 'now'});
    this.noData = el('div', {class: 'nodata'}, 'waiting for values…');
    this.plot = el('div', {class: 'plot'});
    this.el = el('div', {class: 'live-chart', dataset: {points: '0', title}},
      el('div', {class: 'title'}, name, this.nowEl), this.plot, this.noData);
    this.el._liveChart = this;
    parent.append(this.el);
    for (const s of series) this.addSeries(s);
    this.visible = true;
    all.add(this);
    if (resizer) resizer.observe(this.el);
    if (onScreen) onScreen.observe(this.el);
  }

  // Adds a series (a leaf, or a field of it); false past maxSeries.
  addSeries({key, label, field, rate = false}) {
    const id = key + '\u0000' + (field || '');
    if (this.series.some(s => s.id === id)) return true;
    if (this.series.length >= this.maxSeries) {
      this.dropped++;
      return false;
    }
    const i = this.series.length;
    this.series.push({id, key, label: label || key, field, rate, prev: null});
    if (!this.byKey.has(key)) this.byKey.set(key, []);
    this.byKey.get(key).push(i);
    this.ys.push(new Array(this.xs.length).fill(undefined));
    if (this.u) {
      this.u.addSeries(this._seriesOpts(this.series[i], i));
      this.u.setData([this.xs, ...this.ys], false);
    }
    return true;
  }

  has(key) { return this.byKey.has(key); }

  setUnit(unit) {
    unit = unit || '';
    if (unit === this.unit) return;
    this.unit = unit;
    if (this.u) this.u.redraw(false, true);
    this._showNow();
  }

  // The unit of what a series draws: a counter's rate is per second.
  _unitOf(s) {
    if (!s || !s.rate) return this.unit;
    if (this.unit === 'bytes') return 'bytes/s';
    return this.unit && this.unit !== 'count' ? this.unit + '/s' : '/s';
  }

  // A value that arrived at t (epoch seconds) for `key`.
  push(t, key, value) {
    const idx = this.byKey.get(key);
    if (!idx) return;
    let row = this.xs.length - 1;
    if (row < 0 || t > this.xs[row]) {
      // A silence of more than a minute (and 3 x the usual spacing) is
      // drawn as a gap, not a line across.
      if (row >= 0 && t - this.xs[row] > Math.max(60, 3 * this._spacing())) {
        this.xs.push(this.xs[row] + 0.001);
        for (const y of this.ys) y.push(null);
      }
      this.xs.push(t);
      for (const y of this.ys) y.push(undefined);
      row = this.xs.length - 1;
    } else if (t < this.xs[row]) {
      t = this.xs[row];  // a clock step back: keep the order
    }
    for (const i of idx) {
      const s = this.series[i];
      let v = numberOf(value, s.field);
      if (v === null && value !== null && value !== undefined && !(s.field && typeof value === 'object')) {
        this.lastText = textOf(value);
      } else if (v !== null) {
        this.lastText = null;
      }
      if (s.rate && v !== null) {
        const prev = s.prev;
        s.prev = {t, v};
        if (!prev || t <= prev.t) continue;
        v = v >= prev.v ? (v - prev.v) / (t - prev.t) : null;  // back: restarted
        if (v === null) continue;
      }
      this.ys[i][row] = v === null ? null : v;
    }
    this.lastT = t;
    schedule(this);
  }

  // Typical spacing of the values, in seconds.
  _spacing() {
    const n = this.xs.length;
    if (n < 3) return 1;
    return Math.max(0.1, (this.xs[n - 1] - this.xs[Math.max(0, n - 11)]) / Math.min(10, n - 1));
  }

  // History from /trend for the chart's span (seedCharts asks for many
  // charts at once).
  seed(opts) { return seedCharts([this], opts); }

  // Merges history (Maps from key to [[t, v], ...], of averages and of
  // rates) before the first live value.
  _mergeSeed(plain, rates) {
    let first = Infinity;
    for (let r = 0; r < this.xs.length && first === Infinity; r++) {
      if (this.ys.some(y => typeof y[r] === 'number')) first = this.xs[r];
    }
    const rows = new Map();
    this.series.forEach((s, i) => {
      if (s.field) return;  // a timer's fields: live values only
      for (const [t, v] of (s.rate ? rates : plain).get(s.key) || []) {
        if (!(t < first) || typeof v !== 'number' || !Number.isFinite(v)) continue;
        if (!rows.has(t)) rows.set(t, new Map());
        rows.get(t).set(i, v);
      }
    });
    if (!rows.size) return;
    // Earlier rows (before the first number) only held texts or nothing.
    const keep = this.xs.findIndex(x => x >= first);
    const tailX = keep < 0 ? [] : this.xs.slice(keep);
    const tailY = this.ys.map(y => (keep < 0 ? [] : y.slice(keep)));
    const ts = [...rows.keys()].sort((a, b) => a - b);
    this.xs = ts.concat(tailX);
    this.ys = this.ys.map((y, i) => ts.map(t => (rows.get(t).has(i) ? rows.get(t).get(i) : undefined)).concat(tailY[i]));
    schedule(this);
  }

  // The last numbers, shown in the title.
  _showNow() {
    if (this.lastText !== null) {
      this.nowEl.textContent = 'text: ' + (this.lastText.length > 40 ? this.lastText.slice(0, 40) + '…' : this.lastText);
      this.nowEl.title = this.lastText;
      return;
    }
    const parts = [];
    for (let i = 0; i < this.series.length && parts.length < 3; i++) {
      const y = this.ys[i];
      for (let r = y.length - 1; r >= 0; r--) {
        if (typeof y[r] === 'number') {
          parts.push(formatWithUnit(y[r], this._unitOf(this.series[i])));
          break;
        }
      }
    }
    this.nowEl.textContent = parts.join(' · ');
    this.nowEl.title = '';
  }

  _seriesOpts(s, i) {
    return {
      label: s.label,
      stroke: COLORS[i % COLORS.length],
      width: 1.5,
      spanGaps: false,
      points: {size: 4},  // uPlot draws points only where values are sparse
      value: (u, v) => (v === null || v === undefined ? '—' : formatWithUnit(v, this._unitOf(s))),
    };
  }

  _make() {
    const width = Math.max(200, Math.floor(this.el.clientWidth || 300) - 12);
    const axisFont = '11px system-ui, sans-serif';
    const unitOfAxis = () => this._unitOf(this.series[0]);
    const opts = {
      width,
      height: this.height,
      pxAlign: 0,
      cursor: {sync: {key: this.syncKey, setSeries: false}, drag: {x: false, y: false}, points: {size: 5}},
      legend: {show: this.series.length > 1, live: true},
      scales: {
        x: {time: true, auto: false},
        y: {
          range: (u, min, max) => {
            if (min === null || max === null || !Number.isFinite(min)) return [0, 1];
            const lo = Math.min(0, min);
            let hi = max > lo ? max + (max - lo) * 0.08 : lo + 1;
            if (unitOfAxis() === 'percent' && max <= 100 && max > 50) hi = 100;
            return [lo, hi];
          },
        },
      },
      axes: [
        {stroke: () => themeColors().axis, grid: {stroke: () => themeColors().grid, width: 1}, ticks: {stroke: () => themeColors().grid, width: 1, size: 4},
          font: axisFont, space: 42,
          values: (u, ticks, ai, space, incr) => ticks.map(t => clock(t, incr < 60))},
        {stroke: () => themeColors().axis, grid: {stroke: () => themeColors().grid, width: 1}, ticks: {show: false},
          font: axisFont, space: 28,
          values: (u, ticks) => ticks.map(t => (t === null ? '' : formatWithUnit(t, unitOfAxis()))),
          incrs: () => axisIncrs(unitOfAxis()),
          size: (u, values) => {
            if (!values) return 40;
            const longest = values.reduce((m, v) => Math.max(m, String(v).length), 0);
            return Math.max(36, Math.ceil(longest * 6.3) + 14);
          }},
      ],
      series: [{value: (u, t) => (t === null ? '—' : new Date(t * 1000).toLocaleTimeString('en-GB'))},
        ...this.series.map((s, i) => this._seriesOpts(s, i))],
    };
    this.u = new uPlot(opts, [this.xs, ...this.ys], this.plot);
  }

  _draw(now) {
    // Keep only the span (and one point before it, so a line enters from
    // the left edge).
    const from = now - this.span;
    let cut = 0;
    while (cut + 1 < this.xs.length && this.xs[cut + 1] < from) cut++;
    if (cut > 0) {
      this.xs.splice(0, cut);
      for (const y of this.ys) y.splice(0, cut);
    }
    if (!this.u) this._make();
    this.u.batch(() => {
      this.u.setData([this.xs, ...this.ys], false);
      this.u.setScale('x', {min: from, max: now});
    });
    this.drawnAt = now;
    stats.draws++;
    // Numbers inside the span: a quiet leaf's last value, older, is in the
    // title but draws nothing, and the chart says so instead of going blank.
    let has = false;
    for (let r = this.xs.length - 1; r >= 0 && !has && this.xs[r] >= from; r--) {
      has = this.ys.some(y => typeof y[r] === 'number');
    }
    this.noData.hidden = has;
    if (!has) {
      const rateWaits = this.series.some(s => s.rate && s.prev && s.prev.t >= from);
      this.noData.textContent = this.lastText !== null ? 'a text value, not a number'
        : rateWaits ? 'a counter: its rate shows from its next value'
          : this.lastT ? `no new value in the last ${Math.round(this.span / 60)} min` : 'waiting for values…';
    }
    this._showNow();
    const n = this.xs.length;
    this.el.dataset.points = String(n);
    if (n) {
      this.el.dataset.lastTime = String(this.xs[n - 1]);
      let last = '';
      for (const y of this.ys) if (typeof y[n - 1] === 'number') { last = String(y[n - 1]); break; }
      this.el.dataset.lastValue = last;
    }
  }

  destroy() {
    all.delete(this);
    dirty.delete(this);
    if (resizer) resizer.unobserve(this.el);
    if (onScreen) onScreen.unobserve(this.el);
    if (this.u) this.u.destroy();
    this.el.remove();
  }
}
