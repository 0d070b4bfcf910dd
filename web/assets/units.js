// Units: how a person reads a figure. canopyd says each leaf's unit
// (GET /api/units?key=PATTERN answers {"units": {KEY: UNIT}}: the unit a
// writer stated with the reserved "unit" key, else the one canopy-agent's key
// conventions imply; see docs/PROTOCOLS.md); this file only formats, the same
// way canopyd and the CLI do (core/unit.cc): at most three significant digits
// past the unit's scale, binary multiples for bytes, time scaled to ms/s/min/
// h/d.
//
// Known units: bytes, bytes/s, percent, ns, us, ms, s, /s (a rate), count.
// Any other word is printed after the figure as it is (callers put it in the
// page with textContent, never as HTML).

import {query, request} from './api.js';

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

// `x` with three significant digits at most (whole when 100 or more;
// exponent form past 1e15 and under 1e-3). canopy::ThreeDigits
// (core/unit.cc) writes the same text.
export function digits(x) {
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (a >= 1e15 || a < 1e-3) return x.toExponential(2).replace(/\.?0+e/, 'e');
  const s = a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toPrecision(3);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function bytes(v, per) {
  let u = 0;
  while (Math.abs(v) >= 1024 && u + 1 < BINARY.length) {
    v /= 1024;
    ++u;
  }
  return `${digits(v)} ${BINARY[u]}${per}`;
}

function seconds(s) {
  const a = Math.abs(s);
  if (a >= 86400) return `${digits(s / 86400)} d`;
  if (a >= 3600) return `${digits(s / 3600)} h`;
  if (a >= 60) return `${digits(s / 60)} min`;
  if (a >= 1 || a === 0) return `${digits(s)} s`;
  if (a >= 1e-3) return `${digits(s * 1e3)} ms`;
  if (a >= 1e-6) return `${digits(s * 1e6)} µs`;
  return `${digits(s * 1e9)} ns`;
}

// A figure with its unit, as text. Non-numbers come back as text.
export function formatWithUnit(v, unit) {
  if (typeof v !== 'number') return v === null || v === undefined ? '' : String(v);
  if (!Number.isFinite(v)) return String(v);
  switch (unit || '') {
    case '':
    case 'count':
      return Number.isInteger(v) && Math.abs(v) < 1e15 ? v.toLocaleString('en-US') : digits(v);
    case 'bytes': return bytes(v, '');
    case 'bytes/s': return bytes(v, '/s');
    case 'percent': return `${digits(v)} %`;
    case 'ns': return seconds(v / 1e9);
    case 'us': return seconds(v / 1e6);
    case 'ms': return seconds(v / 1e3);
    case 's': return seconds(v);
    case '/s': return `${digits(v)}/s`;
    default: return `${digits(v)} ${unit}`;
  }
}

// Tick steps for a uPlot axis (its `incrs`) in `unit`: powers of two of
// B, KiB, MiB... for bytes, so that ticks read 512 KiB or 2 GiB rather than
// 488 KiB or 18.6 GiB; 1, 2, 2.5 and 5 times powers of ten otherwise (as
// uPlot's own).
const BINARY_INCRS = [];
for (let k = 0; k < BINARY.length; k++) {
  for (let m = 1; m < 1024; m *= 2) BINARY_INCRS.push(m * 1024 ** k);
}
const DECIMAL_INCRS = [];
for (let e = -9; e <= 18; e++) {
  // Written as uPlot writes its own (+"2.5e-2"), so that the same numbers
  // find the decimals uPlot keeps for them.
  for (const m of [1, 2, 2.5, 5]) DECIMAL_INCRS.push(+`${m}e${e}`);
}
export function axisIncrs(unit) {
  return unit === 'bytes' || unit === 'bytes/s' ? BINARY_INCRS : DECIMAL_INCRS;
}

// A uPlot axis `values` function for a unit: tick labels that fit.
export function axisValues(unit) {
  return (u, ticks) => ticks.map((t) => (t === null ? '' : formatWithUnit(t, unit)));
}

// The units of the leaves that `pattern` selects, as a Map from key to unit.
// An older canopyd without /api/units (404) gives an empty Map: figures then
// show without units rather than the page failing.
export async function loadUnits(pattern, {signal} = {}) {
  try {
    const r = await request(`/api/units${query({key: pattern})}`, {signal});
    return new Map(Object.entries((r && r.units) || {}));
  } catch (e) {
    if (e && e.status === 404) return new Map();
    throw e;
  }
}
