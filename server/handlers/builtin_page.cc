#include "server/handlers/builtin_page.h"

namespace canopy {
namespace {

constexpr absl::string_view kRealtimeHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>canopy: live tree</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  header { display: flex; gap: 1em; align-items: center; }
  input { font: inherit; padding: .3em .5em; width: 24em; }
  #state { font-size: 12px; color: #666; }
  #state.lost { color: #b00; font-weight: bold; }
  table { border-collapse: collapse; margin-top: 1em; min-width: 40em; }
  td { padding: .15em .8em; border-bottom: 1px solid #eee; font-family: ui-monospace, monospace; }
  td.v { text-align: right; transition: background-color 1s; }
  td.v.flash { background-color: #ffe58a; transition: none; }
</style>
</head>
<body>
<header>
  <strong>canopy</strong>
  <label>key <input id="key" placeholder="pattern, e.g. host,*,cpu (empty: everything)"></label>
  <span id="state">connecting</span>
</header>
<table><tbody id="rows"></tbody></table>
<script type="module">
const rows = document.getElementById('rows');
const state = document.getElementById('state');
const input = document.getElementById('key');
const params = new URLSearchParams(location.search);
input.value = params.get('key') || '';
let cells = new Map();
let generation = 0;

function query(key) { return key ? 'key=' + encodeURIComponent(key) : ''; }

function show(items, flash) {
  for (const item of items) {
    const [k, v] = Object.entries(item)[0];
    let cell = cells.get(k);
    if (v === null) {
      if (cell) { cell.parentElement.remove(); cells.delete(k); }
      continue;
    }
    if (!cell) {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      name.textContent = k;
      cell = document.createElement('td');
      cell.className = 'v';
      tr.append(name, cell);
      const after = [...cells.keys()].sort().find(x => x > k);
      rows.insertBefore(tr, after ? cells.get(after).parentElement : null);
      cells.set(k, cell);
    }
    cell.textContent = typeof v === 'number' ? (+v.toFixed(6)).toString() : v;
    if (flash) {
      cell.classList.add('flash');
      requestAnimationFrame(() => requestAnimationFrame(() => cell.classList.remove('flash')));
    }
  }
}

async function follow() {
  const mine = ++generation;
  const key = input.value.trim();
  rows.textContent = '';
  cells = new Map();
  let seq = null;
  let delay = 500;
  while (mine === generation) {
    try {
      if (seq === null) {
        const r = await fetch('/get?' + query(key));
        const body = await r.json();
        if (!r.ok) throw new Error(body.error);
        if (mine !== generation) return;
        show(body.items, false);
        seq = body.seq;
      } else {
        const r = await fetch(`/pull?${query(key)}&since=${seq}&timeout=25`);
        const body = await r.json();
        if (!r.ok) throw new Error(body.error);
        if (mine !== generation) return;
        if (body.reset) { rows.textContent = ''; cells = new Map(); }
        show(body.items, !body.reset);
        seq = body.seq;
      }
      state.textContent = `live · seq ${seq} · ${cells.size} leaves`;
      state.className = '';
      delay = 500;
    } catch (e) {
      state.textContent = 'connection lost: ' + e.message + '; retrying';
      state.className = 'lost';
      await new Promise(ok => setTimeout(ok, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 10000);
    }
  }
}

input.addEventListener('change', () => {
  const url = new URL(location);
  url.searchParams.set('key', input.value.trim());
  history.replaceState(null, '', url);
  follow();
});
follow();
</script>
</body>
</html>
)HTML";

const WebAsset kAssets[] = {
    {"/realtime/", "text/html; charset=utf-8", kRealtimeHtml},
    {"/realtime", "text/html; charset=utf-8", kRealtimeHtml},
};

}  // namespace

const WebAsset* FindWebAsset(absl::string_view path) {
  for (const WebAsset& a : kAssets) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace canopy
