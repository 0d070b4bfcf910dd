// /diff/?a=KEY&b=KEY: two subtrees side by side, aligned by relative path,
// with deltas in the leaves' units; refreshed every 5 s while the tab is
// visible. A delta is in the text colour: more is not better, nor worse,
// unless a unit says which way is good (none does yet: see GOOD_WHEN).

import {request, query, pathKey, keyProblem, fmtValue, isTimer, naturalCompare, ApiError} from './api.js';
import {setupPage, showMessage, clearMessages, el, flash, showConnection} from './page.js';
import {formatWithUnit, loadUnits} from './units.js';

// Units whose figures are better higher ('up') or lower ('down'); a delta
// in any other unit is neutral.
const GOOD_WHEN = new Map();

const REFRESH_MS = 5000;
const main = setupPage('diff');
const params = new URLSearchParams(location.search);

const aIn = el('input', {id: 'key-a', size: 34, list: 'known', spellcheck: 'false', autocomplete: 'off', placeholder: 'key A, e.g. host,web1', 'aria-label': 'key A'});
const bIn = el('input', {id: 'key-b', size: 34, list: 'known', spellcheck: 'false', autocomplete: 'off', placeholder: 'key B, e.g. host,web2', 'aria-label': 'key B'});
const swapBtn = el('button', {type: 'button', id: 'swap', title: 'swap A and B'}, '⇄');
const goBtn = el('button', {type: 'submit', class: 'primary', id: 'compare'}, 'Compare');
const auto = el('input', {type: 'checkbox', id: 'auto', checked: true});
const known = el('datalist', {id: 'known'});
const summary = el('span', {class: 'muted', id: 'summary'});
const form = el('form', {class: 'toolbar', id: 'diff-form'}, aIn, swapBtn, bIn, goBtn,
  el('label', {}, auto, ' refresh every 5 s'), el('span', {class: 'grow'}), summary);
const out = el('div', {id: 'result'});
main.append(el('h1', {}, 'Diff'), el('p', {class: 'muted'}, 'Compare two subtrees: leaves are paired by their path under each key.'), form, known, out);

aIn.value = params.get('a') || '';
bIn.value = params.get('b') || '';

swapBtn.addEventListener('click', () => { [aIn.value, bIn.value] = [bIn.value, aIn.value]; run(); });
form.addEventListener('submit', ev => { ev.preventDefault(); run(); });

let generation = 0;
let cells = new Map();   // path + side -> td, to flash changes

async function fetchDiff(a, b) {
  if (!a.includes('/')) return request(`/diff/${pathKey(a)}/${pathKey(b)}`, {timeoutMs: 20000});
  // /diff/<a>/<b> splits at the first "/", so a key A with a "/" in it (a
  // mount point, a URL path) is compared here, from the leaves of each side.
  if (a.includes('*') || b.includes('*')) throw new ApiError('a key with both “/” and “*” cannot be compared', 400);
  const side = async k => {
    await request(`/api/q/${pathKey(k)}.json` + query({depth: 0}), {timeoutMs: 20000});  // 404 if absent
    const body = await request('/get' + query({key: k}), {timeoutMs: 20000});
    const m = new Map();
    for (const item of body.items || []) {
      for (const [key, v] of Object.entries(item)) m.set(key === k ? '' : key.slice(k.length + 1), v);
    }
    return m;
  };
  const [ma, mb] = await Promise.all([side(a), side(b)]);
  const res = {only_a: [], only_b: [], both: []};
  for (const [p, v] of ma) {
    if (!mb.has(p)) res.only_a.push({path: p, value: v});
    else {
      const w = mb.get(p);
      const d = {path: p, a: v, b: w};
      if (typeof v === 'number' && typeof w === 'number') d.delta = w - v;
      res.both.push(d);
    }
  }
  for (const [p, v] of mb) if (!ma.has(p)) res.only_b.push({path: p, value: v});
  return res;
}

async function run({quiet = false} = {}) {
  const a = aIn.value.trim(), b = bIn.value.trim();
  const url = new URL(location);
  url.search = query({a, b});
  history.replaceState(null, '', url);
  if (!quiet) clearMessages();
  if (!a || !b) {
    out.replaceChildren(el('div', {class: 'msg info', id: 'pick'}, 'Pick two keys to compare, e.g. two hosts: host,web1 and host,web2.'));
    summary.textContent = '';
    return;
  }
  const bad = [[a, 'A'], [b, 'B']].map(([k, n]) => [n, keyProblem(k)]).filter(([, p]) => p);
  if (bad.length) {
    out.replaceChildren();
    showMessage('error', bad.map(([n, p]) => `Key ${n} is not valid: ${p}.`).join('\n'), {id: 'diff'});
    return;
  }
  const mine = ++generation;
  try {
    const [res, units] = await Promise.all([fetchDiff(a, b), unitsOf(a, b)]);
    if (mine !== generation) return;
    showConnection('live');
    if (quiet) { clearMessages(); }
    draw(a, b, res, quiet, units);
  } catch (e) {
    if (mine !== generation) return;
    if (e.status === 0) showConnection('lost', {message: e.message, retryMs: REFRESH_MS});
    const text = e.status === 404 ? `${e.message}: check the key (the live tree lists what exists).` : e.message;
    showMessage('error', `Cannot compare ${a} with ${b}: ${text}`, {id: 'diff'});
    if (!quiet) out.replaceChildren();
  }
}

// The units of both sides, by path under each key: a path's unit is A's,
// else B's ('' when neither says).
let unitCache = {id: null, at: 0, units: null};
async function unitsOf(a, b) {
  const id = a + '\n' + b;
  if (unitCache.id === id && Date.now() - unitCache.at < 30000) return unitCache.units;
  const byPath = new Map();
  try {
    const [ua, ub] = await Promise.all([loadUnits(a), loadUnits(b)]);
    for (const [m, k] of [[ub, b], [ua, a]]) {
      for (const [key, u] of m) {
        if (key === k) byPath.set('', u);
        else if (key.startsWith(k + ',')) byPath.set(key.slice(k.length + 1), u);
      }
    }
  } catch {
    // Without units the figures are plain numbers.
  }
  unitCache = {id, at: Date.now(), units: byPath};
  return byPath;
}

function fmt(v, unit) {
  if (typeof v === 'number') return formatWithUnit(v, unit);
  if (isTimer(v)) return `p50 ${formatWithUnit(v.p50, unit || 'ms')} · p99 ${formatWithUnit(v.p99, unit || 'ms')}`;
  return fmtValue(v);
}

function num(v) {
  if (typeof v === 'number') return v;
  if (isTimer(v)) return v.mean;
  return null;
}

function draw(a, b, res, quiet, units = new Map()) {
  const both = (res.both || []).slice().sort((x, y) => naturalCompare(x.path, y.path));
  const onlyA = (res.only_a || []).slice().sort((x, y) => naturalCompare(x.path, y.path));
  const onlyB = (res.only_b || []).slice().sort((x, y) => naturalCompare(x.path, y.path));
  summary.textContent = `${both.length} in both · ${onlyA.length} only in A · ${onlyB.length} only in B`;
  const old = cells;
  cells = new Map();
  const cell = (id, text, cls) => {
    const td = el('td', {class: cls}, text);
    const prev = old.get(id);
    if (quiet && prev !== undefined && prev !== text) flash(td);
    cells.set(id, text);
    return td;
  };
  const label = p => p === '' ? '(the key itself)' : p;
  const bothTable = el('table', {class: 'grid', id: 'both'},
    el('thead', {}, el('tr', {}, el('th', {}, 'path'), el('th', {class: 'num'}, a), el('th', {class: 'num'}, b), el('th', {class: 'num'}, 'delta (B − A)'), el('th', {class: 'num'}, '%'))),
    el('tbody', {}, both.map(d => {
      const x = num(d.a), y = num(d.b);
      const unit = units.get(d.path) || (isTimer(d.a) || isTimer(d.b) ? 'ms' : '');
      const delta = typeof d.delta === 'number' ? d.delta : (x !== null && y !== null ? y - x : null);
      const pct = delta !== null && x ? (delta / Math.abs(x)) * 100 : null;
      const good = GOOD_WHEN.get(unit);
      const judged = !good || !delta ? '' : (delta > 0) === (good === 'up') ? ' good' : ' bad';
      const cls = (delta > 0 ? 'num delta up' : delta < 0 ? 'num delta down' : 'num delta') + judged;
      return el('tr', {dataset: {path: d.path}},
        el('td', {class: 'key'}, label(d.path)),
        cell(d.path + '\na', fmt(d.a, unit), 'num'),
        cell(d.path + '\nb', fmt(d.b, unit), 'num'),
        cell(d.path + '\nd', delta === null ? '' : (delta > 0 ? '+' : '') + formatWithUnit(delta, unit), cls),
        el('td', {class: cls}, pct === null ? '' : (pct > 0 ? '+' : '') + pct.toFixed(1) + ' %'));
    })));
  const only = (id, rows, side) => el('table', {class: 'grid', id},
    el('thead', {}, el('tr', {}, el('th', {}, 'path'), el('th', {class: 'num'}, 'value'))),
    el('tbody', {}, rows.length ? rows.map(d => el('tr', {dataset: {path: d.path}}, el('td', {class: 'key'}, label(d.path)), cell(d.path + '\n' + side, fmt(d.value, units.get(d.path)), 'num')))
      : el('tr', {}, el('td', {colspan: 2, class: 'muted'}, 'none'))));
  out.replaceChildren(
    el('h2', {}, 'In both'), both.length ? bothTable : el('p', {class: 'muted'}, 'No path is in both subtrees.'),
    el('div', {class: 'cols'},
      el('div', {}, el('h2', {}, `Only under ${a}`), only('only-a', onlyA, 'oa')),
      el('div', {}, el('h2', {}, `Only under ${b}`), only('only-b', onlyB, 'ob'))));
}

// Suggestions: the tree's nodes down to three levels.
(async () => {
  try {
    const root = await request('/api/q/.json' + query({depth: 3}), {timeoutMs: 20000});
    const names = [];
    const walk = (o, prefix, d) => {
      if (!o || typeof o !== 'object' || isTimer(o) || d > 3) return;
      for (const [k, v] of Object.entries(o)) {
        if (k === '') continue;
        const key = prefix ? prefix + ',' + k : k;
        if (v && typeof v === 'object' && !isTimer(v)) { names.push(key); walk(v, key, d + 1); }
      }
    };
    walk(root, '', 1);
    known.replaceChildren(...names.slice(0, 500).map(n => el('option', {value: n})));
  } catch {
    // Suggestions are a convenience; the page works without them.
  }
})();

setInterval(() => {
  if (document.hidden || !auto.checked) return;
  if (!aIn.value.trim() || !bIn.value.trim()) return;
  if (document.activeElement === aIn || document.activeElement === bIn) return;
  run({quiet: true});
}, REFRESH_MS);

run();
