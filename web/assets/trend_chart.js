// The pieces of a trend chart that do not depend on the page's state: series
// aligned for uPlot, axes sized to their labels, 24-hour time ticks, the
// unit a series shows under an fn, a hover that only shows points near the
// cursor, and markers drawn as dashed verticals. Used by trend.js, and
// unitUnder by realtime.js (no uPlot import here: the tree page loads it
// without the chart library).

import {fmtTime} from './api.js';
import {formatWithUnit, axisValues, axisIncrs} from './units.js';

// Aligns series on one time axis for uPlot: [[t...], [v or null...], ...].
// A value that is not a finite number (a text where a number was) is a gap.
export function align(series) {
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

// The unit of a series of `fn` over leaves whose unit is `unit`.
export function unitUnder(fn, unit) {
  switch (fn) {
    case 'count': return 'count';
    case 'rate':
      if (unit === 'bytes') return 'bytes/s';
      if (!unit || unit === 'count') return '/s';
      return unit.endsWith('/s') ? unit : unit + '/s';
    case 'p50': case 'p90': case 'p99': return unit || 'ms';  // timers are in ms
    default: return unit || '';
  }
}

// An axis `size` that fits its widest label (uPlot calls it with the
// labels it is about to draw), instead of a fixed width that clips them.
export function fitAxisSize(u, values, axisIdx, cycleNum) {
  const axis = u.axes[axisIdx];
  if (cycleNum > 1 && axis._size) return axis._size;
  let size = (axis.ticks && axis.ticks.show !== false ? axis.ticks.size || 10 : 0) + (axis.gap || 5) + 4;
  if (values && values.length) {
    u.ctx.save();
    u.ctx.font = axis.font[0];
    let widest = 0;
    for (const v of values) widest = Math.max(widest, u.ctx.measureText(String(v ?? '')).width);
    u.ctx.restore();
    size += widest / devicePixelRatio;
  }
  return Math.ceil(Math.max(size, 30));
}

const pad = n => String(n).padStart(2, '0');

// Time ticks on a 24-hour clock, as the range label reads: HH:MM (HH:MM:SS
// under a minute apart), the date under the first tick of each day when the
// range spans days, and the date alone for ticks a day or more apart.
export function timeAxisValues(u, splits, axisIdx, space, incr) {
  const min = u.scales.x.min, max = u.scales.x.max;
  const manyDays = max - min > 86400;
  let prevDay = null;
  return splits.map(t => {
    if (t === null || t === undefined) return '';
    const d = new Date(t * 1000);
    const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    const clock = incr < 60 ? `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
      : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    let label;
    if (incr >= 86400) label = day.slice(5);
    else if (manyDays && day !== prevDay) label = `${clock}\n${day.slice(5)}`;
    else label = clock;
    prevDay = day;
    return label;
  });
}

// A colour of the page's theme (canopy.css's variables, which dark mode
// sets), read when a chart is drawn.
export function themeColor(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function axisColors() {
  return {stroke: themeColor('--fg', '#1d2330'), grid: {stroke: themeColor('--line', '#e4e7ec'), width: 1},
    ticks: {stroke: themeColor('--line', '#e4e7ec'), width: 1}};
}

// The time axis: 24-hour labels spaced so that they never touch.
export function timeAxis(extra = {}) {
  return {space: 70, values: timeAxisValues, ...axisColors(), ...extra};
}

// The value axis of a chart whose series share `unit` (null: they differ).
export function valueAxis(unit) {
  return {size: fitAxisSize, values: unit === null ? (u, ticks) => ticks.map(t => formatWithUnit(t, '')) : axisValues(unit),
    incrs: axisIncrs(unit), ...axisColors()};
}

// A cursor whose hover shows a series' point only when one lies within
// `tolerance()` seconds of the cursor: never a point minutes away.
export function nearCursor(tolerance, sync) {
  return {
    sync: sync ? {key: sync, setSeries: false} : undefined,
    drag: {x: true, y: false, setScale: false},
    dataIdx: (u, si, idx, xVal) => {
      if (idx === null || idx === undefined) return null;
      const x = u.data[0][idx];
      if (x === null || x === undefined || Math.abs(x - xVal) > tolerance(u)) return null;
      if (si === 0) return idx;
      return u.data[si][idx] === null || u.data[si][idx] === undefined ? null : idx;
    },
  };
}

// The time legend: the time of the point shown, or of the cursor when none is.
export function timeLegend(u, v) {
  if (v !== null && v !== undefined) return fmtTime(v);
  if (u.cursor.left === undefined || u.cursor.left < 0) return '';
  return fmtTime(Math.round(u.posToVal(u.cursor.left, 'x')));
}

// Dashed verticals with their text (drawn with fillText: a marker's HTML is
// only text here and in the list under the charts).
export function markersPlugin(getMarkers) {
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
        ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
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
          const right = x + 3 * devicePixelRatio + w > u.bbox.left + u.bbox.width;
          ctx.textAlign = right ? 'right' : 'left';
          ctx.fillText(label, right ? x - 3 * devicePixelRatio : x + 3 * devicePixelRatio, u.bbox.top + 2 * devicePixelRatio);
        }
        ctx.restore();
      },
    },
  };
}

// The value a live sample adds to a chart of `fn`: a number, or undefined
// when the fn cannot be read from one sample (sum, count: the chart is
// fetched again instead). `prev` is the last {t, v} seen for the key (for rate).
export function liveValue(fn, v, t, prev) {
  if (isTimerLike(v)) {
    if (fn === 'p50' || fn === 'p90' || fn === 'p99') return num(v[fn]);
    if (fn === 'avg') return num(v.mean);
    if (fn === 'min' || fn === 'max') return num(v[fn]);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;  // a text: a gap
  switch (fn) {
    case 'avg': case 'last': case 'min': case 'max': return v;
    case 'rate':
      if (!prev || !(t > prev.t) || typeof prev.v !== 'number') return undefined;
      return v >= prev.v ? (v - prev.v) / (t - prev.t) : undefined;  // a reset: no point
    default: return undefined;
  }
}

function isTimerLike(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'count' in v;
}

function num(x) {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}
