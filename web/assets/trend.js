// /trend/view/?key=K[&key=K2...]: history charts with uPlot. The overview
// strip shows the whole preset range (1 h, 1 d, 7 d, 30 d, 1 y); dragging on
// it (or on a chart) picks the range the charts show, and the charts are
// fetched again at the resolution that range needs. Markers are vertical
// lines; fn picks the aggregation; the URL always reproduces the view.

import uPlot from './uplot/uPlot.esm.js';
import {request, query, keyProblem, fmtTime, fmtDuration, fmtNum, ApiError, isAbort} from './api.js';
import {setupPage, showMessage, clearMessage, clearMessages, el, showConnection} from './page.js';

const PRESETS = [['1h', 3600], ['1d', 86400], ['7d', 7 * 86400], ['30d', 30 * 86400], ['1y', 365 * 86400]];
const FNS = ['avg', 'sum', 'min', 'max', 'last', 'count', 'rate', 'p50', 'p90', 'p99'];
const COLORS = ['#2463eb', '#e8590c', '#0ca678', '#ae3ec9', '#f03e3e', '#1098ad', '#f59f00', '#495057', '#74b816', '#d6336c'];
const MAX_SERIES = 30;
const MAX_MARKER_KEYS = 10;
const REFRESH_MS = 15000;

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
};
if (params.get('fn') && !FNS.includes(params.get('fn'))) {
  // Shown once the page is built.
  queueMicrotask(() => showMessage('warn', `Unknown fn “${params.get('fn')}”; showing avg. One of: ${FNS.join(', ')}.`));
}

// ---------------------------------------------------------------- DOM

const keysBox = el('textarea', {id: 'keys', rows: 2, spellcheck: 'false', placeholder: 'one key or pattern per line, e.g. host,web1,cpu,user', 'aria-label': 'keys'});
keysBox.value = state.keys.join('\n');
const fnSelect = el('select', {id: 'fn', 'aria-label': 'fn'}, FNS.map(f => el('option', {value: f, selected: f === state.fn}, f)));
const splitBox = el('input', {type: 'checkbox', id: 'split', checked: state.split});
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
  const p = {key: state.keys, range: state.range, fn: state.fn !== 'avg' ? state.fn : null, split: state.split ? 1 : null};
  if (r.zoomed) { p.from = state.from; p.to = state.to; }
  history.replaceState(null, '', location.pathname + query(p));
  const abs = {key: state.keys, range: 'custom', from: r.dFrom, to: r.dTo, fn: state.fn !== 'avg' ? state.fn : null, split: state.split ? 1 : null};
  permalink.href = location.pathname + query(abs);
  for (const b of presetBtns) b.setAttribute('aria-pressed', String(b.dataset.preset === state.range && !r.zoomed));
  resetZoom.hidden = !r.zoomed;
}

// ---------------------------------------------------------------- charts

let overviewPlot = null;
let plots = [];            // [{u, box, series}]
let generation = 0;
let ctl = null;

function destroyPlots() {
  for (const p of plots) p.u.destroy();
  plots = [];
  charts.textContent = '';
}

function chartWidth() {
  return Math.max(300, (main.clientWidth || 900) - 24);
}

// Aligns series on one time axis for uPlot: [[t...], [v or null...], ...].
function align(series) {
  const times = new Set();
  for (const s of series) for (const [t] of s.points) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const data = [xs];
  for (const s of series) {
    const ys = new Array(xs.length).fill(null);
    for (const [t, v] of s.points) ys[index.get(t)] = typeof v === 'number' && Number.isFinite(v) ? v : null;
    data.push(ys);
  }
  return data;
}

function markersPlugin(getMarkers) {
  return {
    hooks: {
      draw: u => {
        const ms = getMarkers();
        if (!ms.length) return;
        const ctx = u.ctx;
        const [min, max] = [u.scales.x.min, u.scales.x.max];
        ctx.save();
        ctx.strokeStyle = '#d6336c';
        ctx.fillStyle = '#d6336c';
        ctx.lineWidth = 1.5 * uPlot.pxRatio;
        ctx.setLineDash([4 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
        ctx.font = `${11 * uPlot.pxRatio}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        for (const m of ms) {
          if (m.time < min || m.time > max) continue;
          const x = Math.round(u.valToPos(m.time, 'x', true));
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          const label = m.text.length > 30 ? m.text.slice(0, 29) + '…' : m.text;
          const w = ctx.measureText(label).width;
          const right = x + 3 * uPlot.pxRatio + w > u.bbox.left + u.bbox.width;
          ctx.textAlign = right ? 'right' : 'left';
          ctx.fillText(label, right ? x - 3 * uPlot.pxRatio : x + 3 * uPlot.pxRatio, u.bbox.top + 2 * uPlot.pxRatio);
        }
        ctx.restore();
      },
    },
  };
}

let markers = [];

function makePlot(box, series, r, step, colorOffset = 0) {
  const data = align(series);
  const opts = {
    width: chartWidth(),
    height: state.split ? 200 : 320,
    cursor: {drag: {x: true, y: false, setScale: false}},
    scales: {x: {time: true, min: r.dFrom, max: r.dTo}},
    legend: {live: true},
    series: [
      {label: 'time', value: (u, v) => v === null || v === undefined ? '' : fmtTime(v)},
      ...series.map((s, i) => ({
        label: s.key,
        stroke: COLORS[(i + colorOffset) % COLORS.length],
        width: 1.5,
        spanGaps: false,
        points: {show: (u, si, i0, i1) => (i1 - i0) < 120, size: 4},
        value: (u, v) => v === null || v === undefined ? '—' : fmtNum(v),
      })),
    ],
    axes: [{}, {size: 60, values: (u, vals) => vals.map(v => fmtNum(v))}],
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
  let points = 0;
  for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v !== null) points++;
  box.dataset.points = String(points);
  box.dataset.series = String(series.length);
  box.dataset.step = String(step);
  return u;
}

function zoomTo(f, t) {
  if (!(t > f)) return;
  state.from = String(f);
  state.to = String(t);
  reload({keepOverview: true});
}

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
    axes: [{size: 24, font: '10px system-ui'}, {show: false}],
    hooks: {
      setSelect: [u => {
        if (u.select.width < 3) return;
        const f = Math.floor(u.posToVal(u.select.left, 'x'));
        const t = Math.ceil(u.posToVal(u.select.left + u.select.width, 'x'));
        zoomTo(f, t);
      }],
    },
  }, data, overviewBox);
  overviewBox.dataset.step = String(step);
  showWindowOnOverview(r);
}

function showWindowOnOverview(r) {
  const u = overviewPlot;
  if (!u) return;
  if (!r.zoomed) { u.setSelect({left: 0, width: 0, top: 0, height: 0}, false); return; }
  const left = u.valToPos(r.dFrom, 'x');
  const right = u.valToPos(r.dTo, 'x');
  u.setSelect({left, width: Math.max(2, right - left), top: 0, height: u.bbox.height / uPlot.pxRatio}, false);
}

// ---------------------------------------------------------------- loading

async function fetchTrend(keys, from, to, step, signal) {
  return request('/trend' + query({key: keys, from, to, step, fn: state.fn}), {signal, timeoutMs: signal ? undefined : 60000});
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
    const jobs = [fetchTrend(state.keys, r.dFrom, r.dTo, dStep, signal)];
    const reuse = keepOverview && lastOverview && lastOverview.key === overviewKey;
    if (!reuse) jobs.push(fetchTrend(state.keys, r.oFrom, r.oTo, oStep, signal));
    jobs.push(fetchMarkers(r.dFrom, r.dTo, signal));
    const [detail, over] = await Promise.all(jobs);
    if (mine !== generation) return;
    showConnection('live');
    markers = reuse ? (await jobs[1]) : (await jobs[2]);
    if (!reuse) lastOverview = {key: overviewKey, series: over.series || [], step: over.step};
    const series = (detail.series || []).map(s => ({key: s.key, points: Array.isArray(s.points) ? s.points : []}));
    if (detail.truncated) showMessage('warn', 'The server cut the answer at its limit of series; narrow the keys.', {id: 'cut'});
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

let overviewSeries = [];
const sameKeys = (a, b) => a.length === b.length && a.every((s, i) => s.key === b[i].key);

// Updates the charts in place when they show the same series; false if not.
function updateCharts(series, r, step) {
  const shown = series.slice(0, MAX_SERIES);
  const groups = state.split ? shown.map(s => [s]) : [shown];
  if (!plots.length || groups.length !== plots.length || !groups.every((g, i) => sameKeys(g, plots[i].series))) return false;
  groups.forEach((g, i) => {
    const p = plots[i];
    const data = align(g);
    p.series = g;
    p.u.setData(data, false);
    p.u.setScale('x', {min: r.dFrom, max: r.dTo});
    let points = 0;
    for (let j = 1; j < data.length; j++) for (const v of data[j]) if (v !== null) points++;
    p.box.dataset.points = String(points);
    p.box.dataset.step = String(step);
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
  let shown = series;
  if (series.length > MAX_SERIES) {
    showMessage('warn', `${series.length} series match; showing the first ${MAX_SERIES}. Narrow the pattern to see the others.`, {id: 'many'});
    shown = series.slice(0, MAX_SERIES);
  }
  const groups = state.split ? shown.map(s => [s]) : [shown];
  groups.forEach((g, gi) => {
    const box = el('div', {class: 'chart'});
    box.append(el('div', {class: 'title'}, state.split ? g[0].key : (g.length === 1 ? g[0].key : `${g.length} series`),
      el('span', {class: 'muted'}, ` · ${state.fn}`)));
    const plotBox = el('div');
    box.append(plotBox);
    charts.append(box);
    const u = makePlot(plotBox, g, r, step, state.split ? gi : 0);
    box.dataset.points = plotBox.dataset.points;
    box.dataset.series = plotBox.dataset.series;
    if (g.every(s => !s.points.length)) box.append(el('div', {class: 'nodata'}, 'no points in this range'));
    plots.push({u, box, series: g});
  });
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
};
