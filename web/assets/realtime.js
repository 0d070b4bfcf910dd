// /realtime/ and /realtime/view/<name>: the live tree (expand, collapse,
// filter by pattern), values flashing as they change, actions, rates and
// sparklines, figures with their units; a named view shows its keys as a
// tree (layout "list") or as tiles (layout "grid", in the view's key order).
// The tree's rows are virtual: only the rows on screen (and a few around)
// are in the DOM, so 10 000 live leaves scroll and update smoothly.

import {
  Live, request, query, pathKey, splitKey, keyProblem, compilePattern,
  fmtNum, isTimer, ApiError,
} from './api.js';
import {setupPage, showConnection, showMessage, clearMessage, el} from './page.js';
import {Sparklines} from './sparkline.js';
import {loadUnits} from './units.js';
import {Figures, trendHref, flashNow} from './realtime_figures.js';
import {Model} from './realtime_model.js';

const MAX_TILES = 1000;
const META_EVERY_MS = 10000;
const ROW_H = 26;          // px: every row of the tree is this tall (canopy.css)
const OVERSCAN = 12;       // rows kept in the DOM above and below the screen
const UNITS_EVERY_MS = 5000;

const main = setupPage('realtime');
const sparks = new Sparklines();

// ---------------------------------------------------------------- units

const figures = new Figures();
let unitsTimer = null, unitsAt = 0;

function scheduleUnits() {
  if (unitsTimer) return;
  unitsTimer = setTimeout(fetchUnits, Math.max(0, unitsAt + UNITS_EVERY_MS - Date.now()));
}

async function fetchUnits() {
  unitsAt = Date.now();
  const patterns = keys.length ? keys : ['**'];
  try {
    const maps = await Promise.all(patterns.map(p => loadUnits(p)));
    const next = new Map();
    for (const m of maps) for (const [k, u] of m) if (typeof u === 'string') next.set(k, u);
    if (figures.setUnits(next)) refreshShown();
  } catch {
    // Units are a nicety: figures show without them.
  } finally {
    unitsTimer = null;
  }
}

const leafText = n => figures.leafText(n);
const interiorText = n => figures.interiorText(n, model.version);
const rateText = n => figures.rateText(n);

// ---------------------------------------------------------------- page state

const params = new URLSearchParams(location.search);
const viewMatch = location.pathname.match(/^\/realtime\/view\/(.+?)\/?$/);
let viewName = null;
if (viewMatch) {
  try { viewName = decodeURIComponent(viewMatch[1]); } catch { viewName = viewMatch[1]; }
}

// A node leaving the tree takes its row (and sparkline) with it.
const newModel = () => new Model(n => {
  if (n.row) { sparks.detach(n.row.querySelector('canvas')); n.row.remove(); n.row = null; }
});
let model = newModel();
let keys = [];                  // the patterns followed ([] = everything)
let layout = 'list';            // 'list' (tree) or 'grid' (tiles)
const expanded = new Set();     // keys of expanded nodes
let autoExpand = true;
let live = null;
let lastSeq = null;
let metaTimer = null, metaBusy = false, metaAgain = false, lastMeta = 0;
let patternError = null;        // why the server or the page refused the pattern

// ---------------------------------------------------------------- DOM

const title = el('h1', {id: 'title'}, viewName ? `View ${viewName}` : 'Live tree');
const filter = el('input', {
  id: 'filter', type: 'search', size: 40, spellcheck: 'false', autocomplete: 'off',
  placeholder: 'pattern: host,*,cpu or **,idle',
  title: 'a key or pattern: * is one segment, ** any number; empty shows everything',
  'aria-label': 'filter by pattern',
});
const applyBtn = el('button', {id: 'apply', type: 'submit'}, 'Filter');
const clearBtn = el('button', {id: 'clear', type: 'button'}, 'Clear');
const expandAllBtn = el('button', {id: 'expand-all', type: 'button'}, 'Expand all');
const collapseAllBtn = el('button', {id: 'collapse-all', type: 'button'}, 'Collapse all');
const status = el('span', {id: 'status', class: 'muted'});
const viewInfo = el('div', {id: 'view-info', class: 'muted', hidden: true});
const form = el('form', {class: 'toolbar', id: 'filter-form'}, filter, applyBtn, clearBtn, expandAllBtn, collapseAllBtn,
  el('span', {class: 'grow'}), status);
const rows = el('div', {id: 'rows', class: 'virtual'});
const treeBox = el('div', {class: 'tree', id: 'tree'},
  el('div', {class: 'head'}, el('div', {}, 'key'), el('div', {style: 'text-align:right'}, 'value'),
    el('div', {}, 'action'), el('div', {style: 'text-align:right'}, 'rate'), el('div', {}, 'last 10 min'), el('div', {})),
  rows);
const tiles = el('div', {class: 'tiles', id: 'tiles', hidden: true});
main.append(title, viewInfo, form, treeBox, tiles);

form.addEventListener('submit', ev => { ev.preventDefault(); applyFilter(filter.value.trim()); });
clearBtn.addEventListener('click', () => { filter.value = ''; applyFilter(''); });
expandAllBtn.addEventListener('click', () => {
  for (const n of model.byKey.values()) if (n.children.size) expanded.add(n.key);
  listDirty = true;
  render();
  scheduleMeta(100);
});
collapseAllBtn.addEventListener('click', () => { expanded.clear(); listDirty = true; render(); });

rows.addEventListener('click', ev => {
  const t = ev.target.closest('.toggle, .seg');
  if (!t) return;
  const row = t.closest('.row');
  const node = row && model.byKey.get(row.dataset.key);
  if (!node || !node.children.size) return;
  toggle(node);
});
rows.addEventListener('keydown', ev => {
  if (ev.key !== 'Enter' && ev.key !== ' ') return;
  const t = ev.target.closest('.toggle');
  if (!t) return;
  ev.preventDefault();
  const node = model.byKey.get(t.closest('.row').dataset.key);
  if (node) toggle(node);
});

function toggle(node) {
  if (expanded.has(node.key)) {
    expanded.delete(node.key);
    // Collapsing hides the descendants; they stay expanded for next time.
  } else {
    expanded.add(node.key);
  }
  autoExpand = false;
  listDirty = true;
  render();
  scheduleMeta(50);
}

function makeRow(node) {
  const toggleBtn = el('button', {class: 'toggle', type: 'button'}, '▸');
  const name = el('div', {class: 'name', title: node.key, style: `padding-left:${(node.depth - 1) * 1.1}em`},
    toggleBtn, el('span', {class: 'seg'}, node.name), el('span', {class: 'count'}));
  const row = el('div', {class: 'row', dataset: {key: node.key}, role: 'row'},
    name,
    el('div', {class: 'value'}),
    el('div', {class: 'action'}),
    el('div', {class: 'rate'}),
    el('canvas', {class: 'spark', width: 90, height: 20}),
    el('div', {class: 'open'}, el('a', {href: trendHref(node), title: 'open ' + node.key + ' in the trend view'}, 'trend')));
  node.row = row;
  updateRow(node, false);
  return row;
}

function updateRow(node, changed) {
  const row = node.row;
  if (!row) return;
  const interior = node.children.size > 0;
  row.classList.toggle('interior', interior);
  row.classList.toggle('leaf', !interior);
  const [nameCell, valueCell, actionCell, rateCell, canvas, open] = row.children;
  const t = nameCell.firstChild;
  t.className = 'toggle' + (interior ? '' : ' none');
  t.tabIndex = interior ? 0 : -1;
  t.textContent = interior ? (expanded.has(node.key) ? '▾' : '▸') : '';
  if (interior) {
    t.setAttribute('aria-expanded', String(expanded.has(node.key)));
    t.setAttribute('aria-label', 'expand ' + node.key);
  } else {
    t.removeAttribute('aria-expanded');
    t.removeAttribute('aria-label');
  }
  nameCell.lastChild.textContent = interior ? `(${node.leaves})` : '';
  const v = node.hasValue ? node.value : node.agg;
  const text = node.hasValue ? leafText(node) : interiorText(node);
  if (valueCell.textContent !== text) {
    valueCell.textContent = text;
    valueCell.title = isTimer(v) ? Object.entries(v).map(([k, x]) => `${k} ${fmtNum(x)}`).join('  ')
      : interior && text ? `${text} over the ${node.leaves} leaves under ${node.key}` : text;
    if (changed) flashNow(valueCell);
  }
  valueCell.classList.toggle('text', typeof v === 'string');
  // An interior node's action is only what its children inherit.
  actionCell.textContent = interior ? '' : node.action || '';
  rateCell.textContent = rateText(node);
  const a = open.firstChild;
  const href = trendHref(node);
  if (a.getAttribute('href') !== href) a.setAttribute('href', href);
  const wantSpark = node.hasValue && (typeof node.value === 'number' || isTimer(node.value));
  const fn = node.action === 'add' ? 'rate' : isTimer(node.value) ? 'p99' : 'avg';
  if (wantSpark && canvas.dataset.fn !== fn) {
    canvas.dataset.fn = fn;
    canvas.style.visibility = '';
    sparks.attach(canvas, node.key, fn);
  } else if (!wantSpark && canvas.style.visibility !== 'hidden') {
    canvas.style.visibility = 'hidden';
    delete canvas.dataset.fn;
    sparks.detach(canvas);
  }
}

// The nodes shown, in order (the expanded part of the tree), rebuilt when
// the tree or what is expanded changes.
let shownList = [];
let listDirty = true;

function buildList() {
  const list = [];
  const walk = n => {
    for (const c of n.sortedChildren()) {
      list.push(c);
      if (c.children.size && expanded.has(c.key)) walk(c);
    }
  };
  walk(model.root);
  shownList = list;
  listDirty = false;
}

let renderQueued = false;
function render() {
  if (layout === 'grid') return renderTiles();
  const rebuilt = listDirty;
  if (listDirty) buildList();
  const list = shownList;
  if (!list.length) {
    for (const r of [...rows.children]) dropRow(r);
    rows.style.height = '';
    rows.replaceChildren(el('div', {class: 'empty', id: 'empty'}, emptyText()));
    rows.dataset.first = rows.dataset.last = '0';
    updateStatus();
    return;
  }
  const empty = rows.querySelector('#empty');
  if (empty) empty.remove();
  rows.style.height = `${list.length * ROW_H}px`;
  // The rows on screen, and OVERSCAN more on each side.
  const top = -rows.getBoundingClientRect().top;
  const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
  const last = Math.min(list.length, Math.ceil((top + window.innerHeight) / ROW_H) + OVERSCAN);
  const wanted = new Set();
  for (let i = first; i < last; i++) {
    const n = list[i];
    const fresh = !n.row;
    const r = n.row || makeRow(n);
    if (!fresh && rebuilt) updateRow(n, false);
    const y = `${i * ROW_H}px`;
    if (r.style.top !== y) r.style.top = y;
    if (fresh || r.parentNode !== rows) rows.append(r);
    wanted.add(r);
  }
  for (const r of [...rows.children]) if (!wanted.has(r)) dropRow(r);
  rows.dataset.first = String(first);
  rows.dataset.last = String(last);
  updateStatus();
}

// A row scrolled off (or of a node no longer shown) leaves the DOM.
function dropRow(r) {
  const n = model.byKey.get(r.dataset.key);
  if (n && n.row === r) n.row = null;
  const c = r.querySelector('canvas');
  if (c) sparks.detach(c);
  r.remove();
}

function emptyText() {
  if (patternError) return `Nothing to show: ${patternError}`;
  if (keys.length) return `Nothing under ${keys.join(' ')} right now. Values pushed there will show up here.`;
  return 'The tree is empty. Push something: curl -d \'{"web": {"hits": 1}}\' ' + location.origin + '/push';
}

// Every row in the DOM again (the units changed).
function refreshShown() {
  if (layout === 'grid') { for (const n of model.byKey.values()) { const t = tileOf.get(n.key); if (t) updateTile(n, t, false); } return; }
  for (const r of rows.children) { const n = model.byKey.get(r.dataset.key); if (n && n.row === r) updateRow(n, false); }
}

window.addEventListener('scroll', () => scheduleRender(), {passive: true});
window.addEventListener('resize', () => scheduleRender());

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function updateStatus() {
  const n = model.leafCount;
  status.textContent = `${n.toLocaleString('en-US')} leaves` + (lastSeq !== null ? ` · seq ${lastSeq}` : '');
  status.dataset.leaves = String(n);
}

// ---------------------------------------------------------------- tiles

const tileOf = new Map();  // key -> tile element

// The leaves in the view's key order: those of its first pattern first (in
// tree order), then those of the second, and so on.
function leavesInViewOrder() {
  const leaves = model.leaves();
  if (keys.length < 2) return leaves;
  const matchers = keys.map(compilePattern);
  const rank = n => { const i = matchers.findIndex(m => m(n.key)); return i < 0 ? keys.length : i; };
  return leaves.map((n, i) => [rank(n), i, n]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(x => x[2]);
}

function renderTiles() {
  const leaves = leavesInViewOrder();
  const shown = leaves.slice(0, MAX_TILES);
  const wanted = shown.map(n => {
    let t = tileOf.get(n.key);
    if (!t) {
      const v = el('div', {class: 'v'});
      const canvas = el('canvas', {class: 'spark', width: 90, height: 20});
      t = el('div', {class: 'tile', dataset: {key: n.key}},
        el('div', {class: 'k', title: n.key}, n.key), v, el('div', {class: 'sub'}),
        el('div', {class: 'foot'}, canvas, el('a', {href: trendHref(n)}, 'trend')));
      tileOf.set(n.key, t);
    }
    updateTile(n, t, false);
    return t;
  });
  const keep = new Set(wanted);
  for (const [k, t] of tileOf) {
    if (!keep.has(t)) { sparks.detach(t.querySelector('canvas')); tileOf.delete(k); }
  }
  let same = tiles.children.length === wanted.length;
  for (let i = 0; same && i < wanted.length; i++) same = tiles.children[i] === wanted[i];
  if (!same) tiles.replaceChildren(...wanted);
  if (!shown.length) tiles.replaceChildren(el('div', {class: 'muted', id: 'empty'}, 'Nothing to show right now.'));
  if (leaves.length > MAX_TILES) {
    showMessage('warn', `Showing the first ${MAX_TILES} of ${leaves.length} leaves; narrow the view's keys to see the rest.`, {id: 'tiles-cut'});
  } else clearMessage('tiles-cut');
  updateStatus();
}

// A tile: a counter's rate (its total under it), a timer's p50 and p99 on
// two lines, any other figure with its unit.
function updateTile(n, t, changed) {
  const [, v, sub, foot] = t.children;
  const figure = leafText(n);
  t.dataset.value = figure;
  const counter = n.action === 'add' && typeof n.value === 'number' && n.rate !== undefined && n.rate !== null;
  const timer = isTimer(n.value);
  const text = counter ? rateText(n) : timer ? figure.replace(' · ', '\n') : figure;
  if (v.textContent !== text) { v.textContent = text; if (changed) flashNow(v); }
  v.classList.toggle('timer', timer);
  v.title = timer ? Object.entries(n.value).map(([k, x]) => `${k} ${fmtNum(x)}`).join('  ') : text;
  sub.textContent = counter ? `total ${figure}` : '';
  const a = foot.lastChild;
  const href = trendHref(n);
  if (a.getAttribute('href') !== href) a.setAttribute('href', href);
  const canvas = t.querySelector('canvas');
  const fn = n.action === 'add' ? 'rate' : timer ? 'p99' : 'avg';
  const numeric = typeof n.value === 'number' || timer;
  if (numeric && canvas.dataset.fn !== fn) { canvas.dataset.fn = fn; sparks.attach(canvas, n.key, fn); }
}

// ---------------------------------------------------------------- live data

function onItems(items, {initial, reset, truncated}) {
  let structure = false;
  if (initial || reset) {
    const seen = new Set();
    for (const item of items) {
      for (const [k, v] of Object.entries(item)) {
        if (v === null) continue;
        const [node, changed] = model.set(k, v);
        seen.add(node.key);
        structure ||= changed;
        if (!initial && (node.row || tileOf.has(k))) touch(node);
      }
    }
    for (const n of [...model.byKey.values()]) {
      if (n.hasValue && !seen.has(n.key)) structure = model.remove(n.key) || structure;
    }
    if (truncated) {
      showMessage('warn', 'The server sent only part of the leaves (its limit per read). Narrow the filter to see everything.', {id: 'truncated'});
    } else clearMessage('truncated');
    if (initial) {
      if (autoExpand) doAutoExpand();
      checkMissingKeys();
    }
    structure = true;
  } else {
    model.created = new Set();
    for (const item of items) {
      for (const [k, v] of Object.entries(item)) {
        if (v === null) { structure = model.remove(k) || structure; continue; }
        const [node, changed] = model.set(k, v);
        structure ||= changed;
        touch(node);
      }
    }
    // New branches under what is open open too, until the user toggles.
    if (autoExpand) {
      for (const n of model.created) {
        if (n.children.size && (n.parent === model.root || expanded.has(n.parent.key)) && expanded.size < 500) expanded.add(n.key);
      }
    }
    model.created = null;
  }
  if (structure) { listDirty = true; scheduleRender(); scheduleUnits(); }
  else updateStatus();
  scheduleMeta(structure ? 300 : 2000);
}

function touch(node) {
  sparks.live(node.key, node.value);
  if (layout === 'grid') {
    const t = tileOf.get(node.key);
    if (t) updateTile(node, t, true);
  } else if (node.row) {
    updateRow(node, true);
  }
}

// Expands level by level while the tree stays short enough to read.
function doAutoExpand() {
  expanded.clear();
  let level = [model.root];
  let shown = model.root.children.size;
  while (level.length) {
    const next = [];
    for (const n of level) for (const c of n.children.values()) if (c.children.size) next.push(c);
    const add = next.reduce((s, n) => s + n.children.size, 0);
    if (!next.length || shown + add > 60) break;
    for (const n of next) expanded.add(n.key);
    shown += add;
    level = next;
  }
}

function checkMissingKeys() {
  if (!viewName || !keys.length) return;
  const leafKeys = [...model.byKey.values()].filter(n => n.hasValue).map(n => n.key);
  const missing = keys.filter(p => { const m = compilePattern(p); return !leafKeys.some(k => m(k)); });
  if (missing.length) {
    showMessage('warn', `This view names keys that match nothing now: ${missing.join('  ')}. ` +
      'They may have been removed or expired; values pushed there will show up here.', {id: 'missing'});
  } else clearMessage('missing');
}

// ---------------------------------------------------------------- meta: actions, rates, aggregates

function scheduleMeta(delay) {
  if (metaBusy) { metaAgain = true; return; }
  const due = Math.max(delay, lastMeta + 2000 - Date.now());
  if (metaTimer) {
    if (delay >= 1000) return;  // one is coming already
    clearTimeout(metaTimer);
  }
  metaTimer = setTimeout(fetchMeta, Math.max(0, due));
}

async function fetchMeta() {
  metaTimer = null;
  if (document.hidden) return;
  if (!model.leafCount) return;
  metaBusy = true;
  lastMeta = Date.now();
  try {
    // From the deepest node every shown node is under, as deep as shown.
    let base = null;
    for (const n of model.byKey.values()) {
      if (!n.hasValue) continue;
      base = base === null ? splitKey(n.key) : commonPrefix(base, splitKey(n.key));
      if (!base.length) break;
    }
    base = base || [];
    let deepest = 1;
    if (layout === 'grid') deepest = 32;
    else for (const k of expanded) deepest = Math.max(deepest, splitKey(k).length + 1);
    // The base itself may be a leaf with a value: its parent then holds it.
    if (base.length && model.byKey.get(base.join(','))?.children.size === 0) base = base.slice(0, -1);
    const depth = Math.max(1, deepest - base.length);
    const key = base.join(',');
    const body = await request(`/api/q/${pathKey(key)}.json` + query({meta: 1, depth}), {timeoutMs: 20000});
    applyMeta(model.byKey.get(key), body);
    clearMessage('meta');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) {
      showMessage('warn', 'Could not read actions and rates: ' + e.message, {id: 'meta'});
    }
  } finally {
    metaBusy = false;
    if (metaAgain) { metaAgain = false; scheduleMeta(2000); }
  }
}

function commonPrefix(a, b) {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

function applyMeta(node, m) {
  if (!node || !m || typeof m !== 'object') return;
  const before = [node.action, node.rate, node.agg];
  node.action = m.action;
  node.rate = m.rate;
  if (m.children && typeof m.children === 'object') {
    node.agg = m.value;
    for (const [name, cm] of Object.entries(m.children)) applyMeta(node.children.get(name), cm);
  } else {
    node.agg = undefined;
  }
  if (before[0] !== node.action || before[1] !== node.rate || before[2] !== node.agg) {
    if (node.row) updateRow(node, false);
    else if (layout === 'grid' && tileOf.has(node.key)) updateTile(node, tileOf.get(node.key), false);
  }
}

setInterval(() => scheduleMeta(0), META_EVERY_MS);
document.addEventListener('visibilitychange', () => { if (!document.hidden) scheduleMeta(0); });

// ---------------------------------------------------------------- following keys

// Stops following and empties the page.
function reset() {
  if (live) live.stop();
  live = null;
  model = newModel();
  rows.textContent = '';
  tiles.textContent = '';
  tileOf.clear();
  listDirty = true;
  lastSeq = null;
}

function follow(patterns) {
  reset();
  keys = patterns;
  patternError = null;
  updateStatus();
  clearMessage('pattern');
  scheduleUnits();
  live = new Live({
    keys,
    onItems,
    onState(state, detail) {
      showConnection(state, detail);
      if (state === 'live' && detail) { lastSeq = detail.seq; updateStatus(); }
      if (state === 'error') {
        showMessage('error', `The server refused ${keys.length ? keys.join(' ') : 'the read'}: ${detail}`, {id: 'pattern'});
        patternError = `the server refused ${keys.length ? keys.join(' ') : 'the read'}: ${detail}`;
        model = newModel();
        listDirty = true;
        render();
      }
    },
  }).start();
}

function applyFilter(pattern) {
  const url = new URL(location);
  if (pattern) url.searchParams.set('key', pattern); else url.searchParams.delete('key');
  history.replaceState(null, '', url);
  const problem = pattern ? keyProblem(pattern, {pattern: true}) : null;
  if (problem) {
    // Nothing is read, and the empty tree says why (not "values pushed
    // there will show up here": none can be).
    reset();
    keys = [pattern];
    patternError = `“${pattern}” is not a valid pattern: ${problem}.`;
    showMessage('error', `Not a valid pattern: ${problem}.`, {id: 'pattern'});
    showConnection('error');
    render();
    return;
  }
  autoExpand = true;
  follow(pattern ? [pattern] : []);
}

async function startView(name) {
  document.title = `canopy: view ${name}`;
  form.hidden = false;
  let view;
  try {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw new ApiError('a view name is 1 to 64 letters, digits, _ or -', 400);
    view = await request(`/api/views/${pathKey(name)}`, {timeoutMs: 20000});
  } catch (e) {
    title.textContent = `View ${name}`;
    treeBox.hidden = true;
    form.hidden = true;
    const msg = e.status === 404 ? `There is no view named “${name}”.` : `Cannot load the view “${name}”: ${e.message}`;
    const m = showMessage('error', msg + ' ');
    m.append(el('a', {href: '/setting/view' + query({edit: name})}, 'Create or edit views'));
    showConnection('error');
    return;
  }
  const problems = [];
  if (!view || typeof view !== 'object') problems.push('it is not an object');
  else {
    if (!Array.isArray(view.keys) || !view.keys.length || view.keys.some(k => typeof k !== 'string')) problems.push('its keys are not a list of patterns');
    if (view.title !== undefined && typeof view.title !== 'string') problems.push('its title is not a text');
  }
  if (problems.length) {
    title.textContent = `View ${name}`;
    treeBox.hidden = true;
    form.hidden = true;
    showMessage('error', `The view “${name}” is malformed: ${problems.join('; ')}.`);
    return;
  }
  title.textContent = view.title || name;
  document.title = `canopy: ${view.title || name}`;
  layout = view.layout === 'grid' ? 'grid' : 'list';
  viewInfo.hidden = false;
  viewInfo.replaceChildren(`keys: `, el('span', {class: 'mono', id: 'view-keys'}, view.keys.join('  ')), ' · layout: ', layout, ' · ',
    el('a', {href: '/setting/view' + query({edit: name})}, 'edit'));
  filter.hidden = applyBtn.hidden = clearBtn.hidden = true;
  if (layout === 'grid') {
    treeBox.hidden = true;
    tiles.hidden = false;
    expandAllBtn.hidden = collapseAllBtn.hidden = true;
  }
  const bad = view.keys.map(k => [k, keyProblem(k, {pattern: true})]).filter(([, p]) => p);
  if (bad.length) {
    showMessage('error', `The view has keys the server cannot read: ${bad.map(([k, p]) => `${k} (${p})`).join('; ')}.`);
  }
  const good = view.keys.filter(k => !keyProblem(k, {pattern: true}));
  if (good.length) follow(good);
}

if (viewName !== null) {
  startView(viewName);
} else {
  filter.value = params.get('key') || '';
  applyFilter(filter.value.trim());
}

// For tests and the curious: the state of the page.
// Scrolls the tree to a node's row (opening its ancestors); false if the
// node is not in the tree.
function reveal(key) {
  const node = model.byKey.get(key);
  if (!node || node === model.root || layout === 'grid') return false;
  let changed = false;
  for (let n = node.parent; n && n !== model.root; n = n.parent) if (!expanded.has(n.key)) { expanded.add(n.key); changed = true; }
  if (changed || listDirty) { listDirty = true; buildList(); }
  const i = shownList.indexOf(node);
  window.scrollTo(0, rows.getBoundingClientRect().top + window.scrollY + i * ROW_H - window.innerHeight / 3);
  render();
  return true;
}

window.canopyRealtime = {
  reveal,
  get model() { return model; },
  get live() { return live; },
  get keys() { return keys; },
};
