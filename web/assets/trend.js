// /trend/view/?key=K[&key=K2...]: history charts with uPlot. The overview
// strip shows the whole preset range (1 h, 1 d, 7 d, 30 d, 1 y); dragging on
// it (or on a chart) picks the range the charts show, and the charts are
// fetched again at the resolution that range needs. Markers are vertical
// lines (a node's markers show on the nodes under it); fn picks the
// aggregation; figures carry their units (units.js); compare=1d|7d draws the
// same range shifted back, dashed; live=1 follows now, appending the values
// /pull brings as they arrive; the charts of a page share their cursor and
// their range. The URL always reproduces the view.

import uPlot from './uplot/uPlot.esm.js';
import {request, query, keyProblem, fmtTime, fmtDuration, ApiError, isAbort, Live} from './api.js';
import {setupPage, showMessage, clearMessage, clearMessages, el, showConnection} from './page.js';
import {formatWithUnit, loadUnits} from './units.js';
import {align, unitUnder, timeAxis, valueAxis, nearCursor, timeLegend, markersPlugin, liveValue} from './trend_chart.js';

const PRESETS = [['1h', 3600], ['1d', 86400], ['7d', 7 * 86400], ['30d', 30 * 86400], ['1y', 365 * 86400]];
const FNS = ['avg', 'sum', 'min', 'max', 'last', 'count', 'rate', 'p50', 'p90', 'p99'];
const COLORS = ['#2463eb', '#e8590c', '#0ca678', '#ae3ec9', '#f03e3e', '#1098ad', '#f59f00', '#495057', '#74b816', '#d6336c'];
const MAX_SERIES = 30;
const MAX_MARKER_KEYS = 10;
const REFRESH_MS = 15000;
const COMPARES = [['', 'no comparison'], ['1d', 'a day before'], ['7d', 'a week before']];
const SYNC_KEY = 'canopy-trend';

const main = setupPage('trend');

// ---------------------------------------------------------------- state from the URL

const params = new URLSearchParams(location.search);
const state = {
  keys: params.getAll('key').map(k => k.trim()).filter(k => k !== ''),
  fn: FNS.includes(params.get('fn')) ? params.get('fn') : 'avg',
  range: params.get('range') || '1h',      // the overview: a preset or "custom"
  from: params.get('from'),                // the charts' range, when zoomed or given
  to: params.get('to'),
  split: params.get('split') === '1',
  compare: COMPARES.some(([c]) => c && c === params.get('compare')) ? params.get('compare') : '',
  live: params.get('live') === '1',
};
if (state.live) state.from = state.to = null;
if (params.get('fn') && !FNS.includes(params.get('fn'))) {
  // Shown once the page is built.
  queueMicrotask(() => showMessage('warn', `Unknown fn “${params.get('fn')}”; showing avg. One of: ${FNS.join(', ')}.`));
}

// ---------------------------------------------------------------- DOM

const keysBox = el('textarea', {id: 'keys', rows: 2, spellcheck: 'false', placeholder: 'one key or pattern per line, e.g. host,web1,cpu,user', 'aria-label': 'keys'});
keysBox.value = state.keys.join('\n');
const fnSelect = el('select', {id: 'fn', 'aria-label': 'fn'}, FNS.map(f => el('option', {value: f, selected: f === state.fn}, f)));
const splitBox = el('input', {type: 'checkbox', id: 'split', checked: state.split});
const compareSelect = el('select', {id: 'compare', 'aria-label': 'compare with'},
  COMPARES.map(([c, label]) => el('option', {value: c, selected: c === state.compare}, label)));
const liveBox = el('input', {type: 'checkbox', id: 'live', checked: state.live});
const showBtn = el('button', {class: 'primary', type: 'submit', id: 'show'}, 'Show');
const presetBtns = PRESETS.map(([name]) => el('button', {type: 'button', 'data-preset': name, 'aria-pressed': 'false'}, name));
const rangeLabel = el('span', {class: 'range', id: 'range'});
const permalink = el('a', {id: 'permalink', href: '#', title: 'a link to exactly this view (absolute times)'}, 'link to this view');
const resetZoom = el('button', {type: 'button', id: 'reset-zoom', hidden: true}, 'reset zoom');
const overviewBox = el('div', {id: 'overview'});
const overview = el('div', {class: 'overview'}, el('div', {class: 'hint'}, 'Overview: drag to zoom the charts below; double-click a chart to zoom out.'), overviewBox);
const charts = el('div', {id: 'charts'});
const markerList = el('ul', {class: 'markers', id: 'marker-list'});
const form = el('form', {id: 'trend-form'},
  el('div', {class: 'toolbar'}, el('div', {class: 'grow'}, keysBox)),
  el('div', {class: 'toolbar'},
    el('label', {}, 'fn ', fnSelect),
    el('label', {}, splitBox, ' a chart per key'),
    el('label', {}, 'compare with ', compareSelect),
    el('label', {title: 'the range slides with now; values are drawn as they arrive'}, liveBox, ' follow live'),
    showBtn,
    el('span', {class: 'presets', role: 'group', 'aria-label': 'range'}, presetBtns),
    resetZoom,
    el('span', {class: 'grow'}),
    rangeLabel, permalink));
main.append(el('h1', {}, 'Trend'), form, overview, charts, el('h2', {hidden: true, id: 'markers-title'}, 'Markers'), markerList);

form.addEventListener('submit', ev => {
  ev.preventDefault();
  state.keys = keysBox.value.split('\n').map(k => k.trim()).filter(k => k !== '');
  state.fn = fnSelect.value;
  state.split = splitBox.checked;
  reload();
});
fnSelect.addEventListener('change', () => { state.fn = fnSelect.value; reload(); });
splitBox.addEventListener('change', () => { state.split = splitBox.checked; reload(); });
compareSelect.addEventListener('change', () => { state.compare = compareSelect.value; reload({keepOverview: true}); });
liveBox.addEventListener('change', () => {
  state.live = liveBox.checked;
  if (state.live) state.from = state.to = null;
  reload({keepOverview: !state.live});
});
for (const b of presetBtns) {
  b.addEventListener('click', () => {
    state.range = b.dataset.preset;
    state.from = state.to = null;
    reload();
  });
}
resetZoom.addEventListener('click', () => { state.from = state.to = null; reload({keepOverview: true}); });

// ---------------------------------------------------------------- times

// Seconds for "-1h", "now", "1700000000"; null when unreadable.
function parseTime(s, now) {
  if (s === null || s === undefined || s === '') return null;
  s = String(s).trim();
  if (s === 'now') return now;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Math.floor(+s);
  const m = s.match(/^-(\d+(?:\.\d+)?)([smhdwy])$/);
  if (!m) return null;
  const unit = {s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 365 * 86400}[m[2]];
  return Math.floor(now - +m[1] * unit);
}

function presetSeconds(name) {
  const p = PRESETS.find(([n]) => n === name);
  return p ? p[1] : null;
}

// The overview's range and the charts' range, in epoch seconds.
function ranges() {
  const now = Math.floor(Date.now() / 1000);
  const problems = [];
  let span = presetSeconds(state.range);
  if (span === null) {
    if (state.range !== 'custom') problems.push(`unknown range “${state.range}” (one of ${PRESETS.map(p => p[0]).join(', ')})`);
    span = 3600;
  }
  let oFrom = now - span, oTo = now;
  let dFrom = oFrom, dTo = oTo, zoomed = false;
  if (state.from !== null || state.to !== null) {
    const f = state.from !== null ? parseTime(state.from, now) : oFrom;
    const t = state.to !== null ? parseTime(state.to, now) : now;
    if (f === null) problems.push(`cannot read from=“${state.from}” (epoch seconds, now, or -1h, -7d, ...)`);
    if (t === null) problems.push(`cannot read to=“${state.to}”`);
    if (f !== null && t !== null) {
      if (f >= t) problems.push(`from (${fmtTime(f)}) is not before to (${fmtTime(t)})`);
      else {
        dFrom = f; dTo = t; zoomed = true;
        if (f < oFrom) oFrom = f;
        if (t > oTo) oTo = t;
      }
    }
  }
  return {now, oFrom, oTo, dFrom, dTo, zoomed, problems};
}

function stepFor(from, to, width) {
  return Math.max(1, Math.ceil((to - from) / Math.max(100, width)));
}

// ---------------------------------------------------------------- URL

function syncUrl(r) {
  const p = {key: state.keys, range: state.range, fn: state.fn !== 'avg' ? state.fn : null, split: state.split ? 1 : null,
    compare: state.compare || null, live: state.live ? 1 : null};
  if (r.zoomed) { p.from = state.from; p.to = state.to; }
  history.replaceState(null, '', location.pathname + query(p));
  const abs = {key: state.keys, range: 'custom', from: r.dFrom, to: r.dTo, fn: state.fn !== 'avg' ? state.fn : null, split: state.split ? 1 : null,
    compare: state.compare || null};
  permalink.href = location.pathname + query(abs);
  for (const b of presetBtns) b.setAttribute('aria-pressed', String(b.dataset.preset === state.range && !r.zoomed));
  resetZoom.hidden = !r.zoomed;
  liveBox.checked = state.live;
}

// ---------------------------------------------------------------- charts

let overviewPlot = null;
let plots = [];            // [{u, box, series, step}]
let generation = 0;
let ctl = null;
let units = new Map();     // leaf key -> unit (empty until canopyd says)
let unitsFor = null;       // the keys `units` was loaded for

function destroyPlots() {
  for (const p of plots) p.u.destroy();
  plots = [];
  charts.textContent = '';
}

function chartWidth() {
  return Math.max(300, (main.clientWidth || 900) - 24);
}

// A series' unit as drawn (its leaf's unit under the fn).
function seriesUnit(s) {
  return unitUnder(state.fn, units.get(s.key));
}

// The unit shared by a group of series, or null when they differ.
function groupUnit(g) {
  const us = new Set(g.map(seriesUnit));
  return us.size === 1 ? [...us][0] : null;
}

let markers = [];

function makePlot(box, series, r, step) {
  const data = align(withLive(series, step));
  const unit = groupUnit(series);
  const opts = {
    width: chartWidth(),
    height: state.split ? 200 : 320,
    // Within 1.5 steps (or 6 px) of the cursor, or nothing.
    cursor: nearCursor(u => Math.max(1.5 * (u._canopyStep || step), 6 * (u.scales.x.max - u.scales.x.min) / Math.max(1, u.bbox.width / uPlot.pxRatio)), SYNC_KEY),
    scales: {x: {time: true, min: r.dFrom, max: r.dTo}},
    legend: {live: true},
    series: [
      {label: 'time', value: timeLegend},
      ...series.map(s => ({
        label: s.label,
        stroke: s.color,
        dash: s.dash ? [6, 4] : undefined,
        width: 1.5,
        spanGaps: false,
        points: {show: (u, si, i0, i1) => (i1 - i0) < 120, size: 4},
        value: (u, v) => v === null || v === undefined ? '—' : formatWithUnit(v, seriesUnit(s)),
      })),
    ],
    axes: [timeAxis(), valueAxis(unit)],
    hooks: {
      setSelect: [u => {
        if (u.select.width < 3) return;
        const f = Math.floor(u.posToVal(u.select.left, 'x'));
        const t = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
        u.setSelect({left: 0, width: 0, top: 0, height: 0}, false);
        zoomTo(f, t);
      }],
    },
    plugins: [markersPlugin(() => markers)],
  };
  const u = new uPlot(opts, data, box);
  u.over.addEventListener('dblclick', () => { if (state.from !== null || state.to !== null) { state.from = state.to = null; reload({keepOverview: true}); } });
  countPoints(box, data, series, step);
  return u;
}

function countPoints(box, data, series, step) {
  let points = 0;
  for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v !== null) points++;
  box.dataset.points = String(points);
  box.dataset.series = String(series.length);
  box.dataset.step = String(step);
  box.dataset.unit = groupUnit(series) ?? '';
}

function zoomTo(f, t) {
  if (!(t > f)) return;
  state.from = String(f);
  state.to = String(t);
  state.live = false;
  reload({keepOverview: true});
}

let overviewWindow = null;   // the range the overview marks, once it can

function drawOverview(series, r, step) {
  if (overviewPlot) { overviewPlot.destroy(); overviewPlot = null; }
  overviewBox.textContent = '';
  const data = align(series.length ? series : [{key: '', points: []}]);
  overviewPlot = new uPlot({
    width: chartWidth() - 14,
    height: 80,
    cursor: {drag: {x: true, y: false, setScale: false}, points: {show: false}},
    legend: {show: false},
    scales: {x: {time: true, min: r.oFrom, max: r.oTo}},
    series: [{}, ...series.map((s, i) => ({stroke: COLORS[i % COLORS.length], width: 1, spanGaps: true, points: {show: false}}))],
    axes: [timeAxis({size: 24, font: '10px system-ui'}), {show: false}],
    hooks: {
      setSelect: [u => {
        if (u.select.width < 3 || u._canopyMarking) return;
        const f = Math.floor(u.posToVal(u.select.left, 'x'));
        const t = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
        zoomTo(f, t);
      }],
      // The window is marked once uPlot has its scales (before, the
      // positions are NaN), and again whenever they change.
      ready: [() => markWindow()],
      setScale: [() => markWindow()],
    },
  }, data, overviewBox);
  overviewBox.dataset.step = String(step);
  showWindowOnOverview(r);
}

function showWindowOnOverview(r) {
  overviewWindow = r.zoomed ? {from: r.dFrom, to: r.dTo} : null;
  markWindow();
}

function markWindow() {
  const u = overviewPlot;
  if (!u) return;
  u._canopyMarking = true;
  try {
    const w = overviewWindow;
    const left = w ? u.valToPos(w.from, 'x') : NaN;
    const right = w ? u.valToPos(w.to, 'x') : NaN;
    if (!w || !Number.isFinite(left) || !Number.isFinite(right)) {
      u.setSelect({left: 0, width: 0, top: 0, height: 0}, false);
      overviewBox.dataset.window = '';
      return;
    }
    const plotW = u.bbox.width / uPlot.pxRatio;
    const l = Math.max(0, Math.min(plotW, left)), rr = Math.max(0, Math.min(plotW, right));
    u.setSelect({left: l, width: Math.max(2, rr - l), top: 0, height: u.bbox.height / uPlot.pxRatio}, false);
    overviewBox.dataset.window = `${w.from}-${w.to}`;
  } finally {
    u._canopyMarking = false;
  }
}

// ---------------------------------------------------------------- loading

async function fetchTrend(keys, from, to, step, signal) {
  return request('/trend' + query({key: keys, from, to, step, fn: state.fn}), {signal, timeoutMs: signal ? undefined : 60000});
}

const SHIFTS = {'1d': [86400, 'a day before'], '7d': [7 * 86400, 'a week before']};

// The series as drawn: each fetched series with its colour, then (with
// compare) the same key's series of the shifted range, dashed, in the same
// colour, its times moved forward onto the range shown.
function buildSeries(detail, before) {
  const series = (detail.series || []).slice(0, MAX_SERIES).map((s, i) => ({
    key: s.key, label: s.key, color: COLORS[i % COLORS.length], dash: false,
    points: Array.isArray(s.points) ? s.points : [],
  }));
  // Following live, a leaf with no history yet gets a chart for what /pull brings.
  if (state.live) {
    const have = new Set(series.map(s => s.key));
    for (const k of lastSample.keys()) {
      if (have.has(k) || series.length >= MAX_SERIES) continue;
      series.push({key: k, label: k, color: COLORS[series.length % COLORS.length], dash: false, points: []});
    }
  }
  if (!before) return series;
  const [shift, label] = SHIFTS[state.compare];
  const byKey = new Map((before.series || []).map(s => [s.key, s]));
  const out = [];
  for (const s of series) {
    out.push(s);
    const b = byKey.get(s.key);
    out.push({key: s.key, label: `${s.key} (${label})`, color: s.color, dash: true, compare: true,
      points: (b && Array.isArray(b.points) ? b.points : []).map(([t, v]) => [t + shift, v])});
  }
  return out;
}

let lastOverview = null;  // {key, series, step}

async function reload({keepOverview = false, quiet = false} = {}) {
  const mine = ++generation;
  if (ctl) ctl.abort();
  ctl = new AbortController();
  const signal = ctl.signal;
  if (!quiet) clearMessages();
  const r = ranges();
  syncUrl(r);
  if (r.problems.length) showMessage('error', 'This range cannot be shown: ' + r.problems.join('; ') + '.');
  if (!state.keys.length) {
    stopLive();
    destroyPlots();
    if (overviewPlot) { overviewPlot.destroy(); overviewPlot = null; }
    overview.hidden = true;
    rangeLabel.textContent = '';
    charts.append(el('div', {class: 'msg info', id: 'no-keys'},
      'Enter one or more keys or patterns above (one per line), or open a node from the ',
      el('a', {href: '/realtime/'}, 'live tree'), '.'));
    return;
  }
  overview.hidden = false;
  const bad = state.keys.map(k => [k, keyProblem(k, {pattern: true})]).filter(([, p]) => p);
  if (bad.length) {
    stopLive();
    destroyPlots();
    showMessage('error', bad.map(([k, p]) => `“${k}” is not a valid key: ${p}.`).join('\n'));
    return;
  }
  const width = chartWidth();
  const dStep = stepFor(r.dFrom, r.dTo, width);
  const oStep = stepFor(r.oFrom, r.oTo, width);
  rangeLabel.textContent = `${fmtTime(r.dFrom, false)} – ${fmtTime(r.dTo, false)} (${fmtDuration(r.dTo - r.dFrom)})`;
  try {
    const overviewKey = JSON.stringify([state.keys, state.fn, r.oFrom, r.oTo]);
    const reuse = keepOverview && lastOverview && lastOverview.key === overviewKey;
    const unitsKey = JSON.stringify(state.keys);
    const shift = state.compare ? SHIFTS[state.compare][0] : 0;
    const [detail, over, ms, before] = await Promise.all([
      fetchTrend(state.keys, r.dFrom, r.dTo, dStep, signal),
      reuse ? null : fetchTrend(state.keys, r.oFrom, r.oTo, oStep, signal),
      fetchMarkers(r.dFrom, r.dTo, signal),
      shift ? fetchTrend(state.keys, r.dFrom - shift, r.dTo - shift, dStep, signal) : null,
      unitsFor === unitsKey ? null : fetchUnits(signal).then(m => { units = m; unitsFor = unitsKey; }),
    ]);
    if (mine !== generation) return;
    showConnection('live');
    markers = ms;
    if (!reuse) lastOverview = {key: overviewKey, series: over.series || [], step: over.step};
    const series = buildSeries(detail, before);
    if (detail.truncated) showMessage('warn', 'The server cut the answer at its limit of series; narrow the keys.', {id: 'cut'});
    if ((detail.series || []).length > MAX_SERIES) {
      showMessage('warn', `${detail.series.length} series match; showing the first ${MAX_SERIES}. Narrow the pattern to see the others.`, {id: 'many'});
    }
    if (quiet && sameKeys(overviewSeries, lastOverview.series.slice(0, MAX_SERIES)) && overviewPlot) {
      // A refresh updates the plots in place: no flicker, and a drag in
      // progress is not lost.
      overviewSeries = lastOverview.series.slice(0, MAX_SERIES);
      overviewPlot.setData(align(overviewSeries.length ? overviewSeries : [{key: '', points: []}]), false);
      overviewPlot.setScale('x', {min: r.oFrom, max: r.oTo});
      showWindowOnOverview(r);
    } else if (!reuse || !overviewPlot) {
      overviewSeries = lastOverview.series.slice(0, MAX_SERIES);
      drawOverview(overviewSeries, r, lastOverview.step);
    } else showWindowOnOverview(r);
    if (!(quiet && updateCharts(series, r, detail.step))) drawCharts(series, r, detail.step);
    drawMarkerList();
    rangeLabel.textContent = `${fmtTime(r.dFrom, false)} – ${fmtTime(r.dTo, false)} (${fmtDuration(r.dTo - r.dFrom)}, one point per ${fmtDuration(detail.step)})`;
    rangeLabel.dataset.from = String(r.dFrom);
    rangeLabel.dataset.to = String(r.dTo);
    rangeLabel.dataset.step = String(detail.step);
    if (state.live) startLive(r.dTo - r.dFrom); else stopLive();
  } catch (e) {
    if (isAbort(e) && signal.aborted) return;
    if (mine !== generation) return;
    destroyPlots();
    if (e.status === 0) showConnection('lost', {message: e.message, retryMs: REFRESH_MS});
    const what = e instanceof ApiError && e.status === 400 ? 'The server refused this query' : 'Cannot load the history';
    showMessage('error', `${what}: ${e.message}`, {id: 'load'});
    charts.append(el('div', {class: 'muted', id: 'no-chart'}, 'Nothing to draw.'));
  }
}

// The units of every key shown (an empty Map from a canopyd without
// /api/units, or when it fails: the figures then show as plain numbers).
async function fetchUnits(signal) {
  const out = new Map();
  try {
    for (const m of await Promise.all(state.keys.map(k => loadUnits(k, {signal})))) for (const [k, u] of m) out.set(k, u);
  } catch (e) {
    if (isAbort(e)) throw e;
  }
  return out;
}

let overviewSeries = [];
const sameKeys = (a, b) => a.length === b.length && a.every((s, i) => s.key === b[i].key && s.label === b[i].label);

function groupsOf(series) {
  if (!state.split) return [series];
  const groups = [];
  for (const s of series) {
    if (s.compare && groups.length) groups[groups.length - 1].push(s);
    else groups.push([s]);
  }
  return groups;
}

// Updates the charts in place when they show the same series; false if not.
function updateCharts(series, r, step) {
  const groups = groupsOf(series);
  if (!plots.length || groups.length !== plots.length || !groups.every((g, i) => sameKeys(g, plots[i].series))) return false;
  groups.forEach((g, i) => {
    const p = plots[i];
    const data = align(withLive(g, step));
    p.series = g;
    p.step = p.u._canopyStep = step;
    p.u.setData(data, false);
    p.u.setScale('x', {min: r.dFrom, max: r.dTo});
    countPoints(p.box, data, g, step);
  });
  return true;
}

function drawCharts(series, r, step) {
  destroyPlots();
  if (!series.length) {
    const box = el('div', {class: 'chart', dataset: {points: '0', series: '0'}},
      el('div', {class: 'title'}, state.keys.join('  ')),
      el('div', {class: 'msg info', id: 'no-data'}, `No history for ${state.keys.join(', ')} between ${fmtTime(r.dFrom)} and ${fmtTime(r.dTo)}. ` +
        'Keys get history once their values are pushed; check the spelling, or pick a longer range.'));
    charts.append(box);
    return;
  }
  for (const g of groupsOf(series)) {
    const box = el('div', {class: 'chart'});
    const drawn = g.filter(s => !s.compare);
    box.append(el('div', {class: 'title'}, state.split || drawn.length === 1 ? drawn[0].key : `${drawn.length} series`,
      el('span', {class: 'muted'}, ` · ${state.fn}` + (state.compare ? ` · dashed: ${SHIFTS[state.compare][1]}` : ''))));
    const plotBox = el('div');
    box.append(plotBox);
    charts.append(box);
    const u = makePlot(plotBox, g, r, step);
    Object.assign(box.dataset, plotBox.dataset);
    if (g.every(s => !s.points.length)) box.append(el('div', {class: 'nodata'}, 'no points in this range'));
    plots.push({u, box, series: g, step});
  }
}

// ---------------------------------------------------------------- follow live

// With live=1 the charts follow now: the values /pull brings are appended
// as they arrive (a series of a sum or a count, which one sample cannot
// give, is fetched again instead), and the range slides with them.
let live = null;           // {live: Live, keysId, span}
const liveTail = new Map();  // key -> [[t, v]...] appended since the history's last point
const lastSample = new Map();  // key -> {t, v}, for rates
let refetchTimer = null;

function startLive(span) {
  const keysId = JSON.stringify(state.keys);
  if (live && live.keysId === keysId) { live.span = span; return; }
  stopLive();
  live = {keysId, span, live: new Live({keys: state.keys, onItems: onLiveItems, onState: (s, d) => showConnection(s, d)}).start()};
}

function stopLive() {
  if (!live) return;
  live.live.stop();
  live = null;
  liveTail.clear();
  lastSample.clear();
}

function onLiveItems(items, {initial, reset}) {
  const t = Date.now() / 1000;
  let refetch = false;
  for (const item of items) {
    for (const [k, v] of Object.entries(item)) {
      const prev = lastSample.get(k);
      if (v !== null) lastSample.set(k, {t, v});
      if (initial || reset || v === null) continue;
      const y = liveValue(state.fn, v, t, prev);
      if (y === undefined) { refetch = true; continue; }
      if (!liveTail.has(k)) liveTail.set(k, []);
      liveTail.get(k).push([t, y]);
    }
  }
  if (initial || reset) {
    // Leaves the charts lack (no history yet): drawn from now on.
    const shown = new Set(plots.flatMap(p => p.series.map(s => s.key)));
    if ([...lastSample.keys()].some(k => !shown.has(k))) reload({quiet: true, keepOverview: true});
    return;
  }
  for (const k of liveTail.keys()) {
    if (!plots.some(p => p.series.some(s => s.key === k))) refetch = true;
  }
  if (refetch && !refetchTimer) refetchTimer = setTimeout(() => { refetchTimer = null; reload({quiet: true, keepOverview: true}); }, 2000);
  redrawLive(t);
}

// The range slides with now between samples too.
setInterval(() => { if (live && !document.hidden) redrawLive(Date.now() / 1000); }, 1000);

// Adds the live points newer than a series' history to it.
function withLive(series, step) {
  if (!state.live) return series;
  const horizon = Date.now() / 1000 - 2 * (presetSeconds(state.range) || 3600);
  return series.map(s => {
    const tail = !s.compare && liveTail.get(s.key);
    if (!tail) return s;
    const last = s.points.length ? s.points[s.points.length - 1][0] + step : -Infinity;
    const keep = tail.filter(([t]) => t >= last && t >= horizon);
    liveTail.set(s.key, keep);
    return {...s, points: s.points.concat(keep)};
  });
}

function redrawLive(now) {
  if (!live) return;
  const from = now - live.span;
  for (const p of plots) {
    const series = withLive(p.series, p.step).map(s => ({...s, points: s.points.filter(([t]) => t >= from)}));
    const data = align(series);
    p.u.batch(() => {
      p.u.setData(data, false);
      p.u.setScale('x', {min: from, max: now});
    });
    countPoints(p.box, data, series, p.step);
    p.box.dataset.live = String(now);
  }
  rangeLabel.dataset.to = String(Math.floor(now));
  rangeLabel.dataset.from = String(Math.floor(from));
}

async function fetchMarkers(from, to, signal) {
  const keys = state.keys.slice(0, MAX_MARKER_KEYS);
  try {
    const answers = await Promise.all(keys.map(k => request('/api/markers' + query({key: k, from, to}), {signal})));
    const seen = new Set();
    const out = [];
    for (const a of answers) {
      for (const m of a.markers || []) {
        const id = `${m.key}\n${m.time}\n${m.text}`;
        if (seen.has(id)) continue;
        seen.add(id);
        out.push({key: m.key, time: +m.time, text: String(m.text)});
      }
    }
    return out.sort((a, b) => a.time - b.time);
  } catch (e) {
    if (isAbort(e)) throw e;
    showMessage('warn', 'Markers could not be loaded: ' + e.message, {id: 'markers'});
    return [];
  }
}

function drawMarkerList() {
  markerList.textContent = '';
  document.getElementById('markers-title').hidden = !markers.length;
  for (const m of markers) markerList.append(el('li', {}, `${fmtTime(m.time)}  ${m.key}: ${m.text}`));
}

// Keeps an unzoomed view current while the tab is visible.
setInterval(() => {
  if (document.hidden || !state.keys.length) return;
  if (state.from !== null || state.to !== null) return;
  if ((presetSeconds(state.range) || 0) > 86400) return;
  reload({quiet: true});
}, REFRESH_MS);

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    for (const p of plots) p.u.setSize({width: chartWidth(), height: p.u.height});
    if (overviewPlot) { overviewPlot.setSize({width: chartWidth() - 14, height: 80}); showWindowOnOverview(ranges()); }
  }, 150);
});

reload();

window.canopyTrend = {
  get plots() { return plots; },
  get overview() { return overviewPlot; },
  get state() { return state; },
  get markers() { return markers; },
  get units() { return units; },
};
