#!/usr/bin/env node
// Live charts in the browser: how smoothly Chromium draws 50 live charts at
// one value a second each, canopy's /overview/ beside Netdata's dashboard
// (Debian's netdata, scripts/deps.sh --bench) with the same number of charts.
//
//   node tools/bench/live_charts.mjs [--seconds=20] [--rounds=3] [--charts=50] [--build=build]
//
// canopy: a canopyd on a free loopback port, fed once a second with five
// hosts as canopy-agent names its keys (6 charts each) and 16 more subtrees
// of two leaves (one chart each): 50 charts on /overview/, each moving once a
// second (with canopyd's own 4 charts). Netdata: netdata on a free loopback port (memory mode ram, its
// own collectors at 1 s, no cloud, registry, health or ML), and a page of
// its dashboard.js with 50 of its charts (data-netdata divs, the last 5
// minutes, each updated every second, off-screen charts too, as canopy's
// are). Both in the same headless Chromium, same viewport, taking turns,
// `rounds` times; each turn loads the page, waits until every chart drew,
// then measures `seconds`: requestAnimationFrame intervals (frame times),
// long tasks (PerformanceObserver 'longtask', > 50 ms) and the renderer's
// busy time (CDP Performance.getMetrics TaskDuration). Medians over the
// rounds, printed as a Markdown table. Everything listens on 127.0.0.1 and
// stops by itself.

import {spawn} from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '..', '..');
const args = Object.fromEntries(process.argv.slice(2).map(a => a.replace(/^--/, '').split('=')));
const SECONDS = +(args.seconds || 20);
const ROUNDS = +(args.rounds || 3);
const CHARTS = +(args.charts || 50);
const build = path.resolve(args.build || path.join(source, 'build'));
const chromiumPath = process.env.CANOPY_CHROMIUM || '/usr/bin/chromium';
const netdataBin = ['/usr/sbin/netdata', '/usr/bin/netdata'].find(p => fs.existsSync(p));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-live-bench-'));
const started = [];
const pause = ms => new Promise(r => setTimeout(r, ms));
function cleanup() {
  for (const p of started) if (p.exitCode === null) p.kill('SIGTERM');
  fs.rmSync(tmp, {recursive: true, force: true});
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const {port} = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function until(fn, what, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    try { if (await fn()) return; } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await pause(100);
  }
}

// ---------------------------------------------------------------- canopy

const HOSTS = 5;
// canopyd's own figures (canopy,self,...) make 4 charts of their own.
const OTHER = Math.max(0, CHARTS - HOSTS * 6 - 4);

function canopyTree(i) {
  const f = Math.sin(i / 5);
  const hosts = {};
  for (let h = 0; h < HOSTS; h++) {
    hosts[`bench-${h}`] = {
      cpu: {defaultaction: 'avg', user: 20 + 10 * f + h, system: 5 + f, iowait: 1, steal: 0, percent: 26 + 11 * f},
      mem: {used: 4e9 + 1e8 * f, cached: 2e9, available: 3e9, total: 8e9},
      load: {1: 1 + f, 5: 0.8, 15: 0.5},
      disk: {'/': {percent: 40 + f}},
      diskio: {defaultaction: 'avg', sda: {read_bytes: 1e6 * (1 + f), write_bytes: 2e6}},
      net: {defaultaction: 'avg', eth0: {rx_bytes: 5e5 * (1 + f), tx_bytes: 3e5}},
      agent: {interval_ms: 1000, seq: i},
      info: {os: 'Linux', distro: 'bench'},
    };
  }
  const other = {};
  for (let k = 0; k < OTHER; k++) other[`m${k}`] = {a: k + 10 * f, b: k * 2 - 5 * f};
  return {host: hosts, app: other};
}

async function startCanopy() {
  const port = await freePort();
  const data = fs.mkdtempSync(path.join(tmp, 'canopyd-'));
  const ready = path.join(data, 'ready');
  const p = spawn(path.join(build, 'bin', 'canopyd'), [`--http=127.0.0.1:${port}`, '--udp=off', '--tcp=off',
    `--data_dir=${data}`, `--ready_file=${ready}`, `--web_dir=${path.join(build, 'web')}`], {stdio: 'ignore'});
  started.push(p);
  await until(() => fs.existsSync(ready), 'canopyd');
  const url = `http://127.0.0.1:${port}`;
  let i = 0;
  const push = () => fetch(url + '/push', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(canopyTree(i++))}).catch(() => {});
  await push();
  const timer = setInterval(push, 1000);
  return {name: 'canopy /overview/', url: url + '/overview/',
    ready: () => `document.querySelectorAll('.live-chart').length >= ${CHARTS} &&
      [...document.querySelectorAll('.live-chart')].every(c => +c.dataset.points > 1)`,
    count: `document.querySelectorAll('.live-chart').length`,
    stop: async () => { clearInterval(timer); p.kill('SIGTERM'); await new Promise(r => p.on('exit', r)); }};
}

// ---------------------------------------------------------------- Netdata

async function startNetdata() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(tmp, 'netdata-'));
  for (const d of ['cache', 'lib', 'log']) fs.mkdirSync(path.join(dir, d));
  const conf = path.join(dir, 'netdata.conf');
  fs.writeFileSync(conf, `[global]
  run as user = ${os.userInfo().username}
  memory mode = ram
  history = 600
  update every = 1
  hostname = bench
  error log = ${dir}/log/error.log
  access log = none
  debug log = none
  cache directory = ${dir}/cache
  lib directory = ${dir}/lib
  log directory = ${dir}/log
[web]
  bind to = 127.0.0.1:${port}
[registry]
  enabled = no
[cloud]
  enabled = no
[ml]
  enabled = no
[health]
  enabled = no
[plugins]
  go.d = no
  python.d = no
  charts.d = no
  ebpf = no
  apps = no
  cgroups = no
`);
  const p = spawn(netdataBin, ['-D', '-c', conf], {stdio: 'ignore'});
  started.push(p);
  const url = `http://127.0.0.1:${port}`;
  let charts = [];
  await until(async () => {
    const body = await (await fetch(url + '/api/v1/charts')).json();
    charts = Object.values(body.charts || {}).filter(c => c.update_every === 1 && c.enabled !== false);
    return charts.length >= CHARTS;
  }, 'netdata with enough charts', 60000);
  // The families a person looks at first, then the rest, as many as canopy's.
  const rank = id => ['system.', 'cpu.', 'mem.', 'disk', 'net.', 'ipv4.'].findIndex(p => id.startsWith(p));
  charts.sort((a, b) => ((rank(a.id) + 7) % 7) - ((rank(b.id) + 7) % 7) || a.id.localeCompare(b.id));
  const ids = charts.slice(0, CHARTS).map(c => c.id);
  const divs = ids.map(id => `<div data-netdata="${id}" data-chart-library="dygraph" data-width="100%" data-height="130px"
    data-after="-300" data-dygraph-valuerange="[null, null]"></div>`).join('\n');
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>netdata: ${CHARTS} charts</title>
<script>var netdataNoRegistry = true; var netdataShowHelp = false; var netdataServer = '${url}/';</script>
<style>body{font:13px sans-serif;margin:0;padding:1em}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:.6em}</style>
<script src="${url}/dashboard.js"></script></head>
<body><div class="grid">${divs}</div>
<script>
// Update every chart, not only those on screen, as canopy's page does.
(function wait() {
  if (window.NETDATA && NETDATA.options && NETDATA.options.current) {
    NETDATA.options.current.update_only_visible = false;
    NETDATA.options.current.stop_updates_when_focus_is_lost = false;
  } else setTimeout(wait, 50);
})();
</script></body></html>`;
  return {name: 'Netdata dashboard.js', url: url + '/canopy-bench.html', page,
    ready: () => `document.querySelectorAll('[data-netdata] canvas').length >= ${CHARTS}`,
    count: `document.querySelectorAll('[data-netdata]').length`,
    stop: async () => { p.kill('SIGTERM'); await new Promise(r => p.on('exit', r)); }};
}

// ---------------------------------------------------------------- measuring

async function measure(browser, target) {
  const context = await browser.newContext({viewport: {width: 1300, height: 1000}});
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  if (target.page) {
    await page.route(target.url, r => r.fulfill({status: 200, contentType: 'text/html', body: target.page}));
  }
  await page.goto(target.url);
  await page.waitForFunction(target.ready(), null, {timeout: 60000, polling: 200});
  // The first history and layout done, before measuring.
  await pause(3000);
  const charts = await page.evaluate(target.count);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metric = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map(m => [m.name, m.value]));
  await page.evaluate(() => {
    const m = window.__bench = {deltas: [], long: [], stop: false};
    new PerformanceObserver(l => { for (const e of l.getEntries()) m.long.push(e.duration); }).observe({type: 'longtask'});
    let last = performance.now();
    const f = t => { m.deltas.push(t - last); last = t; if (!m.stop) requestAnimationFrame(f); };
    requestAnimationFrame(f);
  });
  const m0 = await metric();
  await pause(SECONDS * 1000);
  const m1 = await metric();
  const r = await page.evaluate(() => { window.__bench.stop = true; return window.__bench; });
  await context.close();
  const d = r.deltas.slice(1).sort((a, b) => a - b);
  const q = p => d[Math.min(d.length - 1, Math.floor(p * d.length))];
  const busy = (m1.TaskDuration - m0.TaskDuration) / (m1.Timestamp - m0.Timestamp);
  return {charts, fps: d.length / SECONDS, p50: q(0.5), p99: q(0.99), max: d[d.length - 1] || 0,
    slow: d.filter(x => x > 25).length, longTasks: r.long.length, longMs: r.long.reduce((a, b) => a + b, 0),
    busy: busy * 100, script: (m1.ScriptDuration - m0.ScriptDuration) / SECONDS * 1000, errors};
}

// ---------------------------------------------------------------- main

const median = xs => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const {chromium} = createRequire(path.join(source, 'web', 'package.json'))('playwright-core');
const browser = await chromium.launch({executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']});
const targets = [await startCanopy()];
if (netdataBin) targets.push(await startNetdata());
else console.error('netdata is not installed (scripts/deps.sh --bench): canopy only');
// Let both fill a minute of their history first.
await pause(5000);
const results = new Map(targets.map(t => [t.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const t of round % 2 ? [...targets].reverse() : targets) {
    const r = await measure(browser, t);
    results.get(t.name).push(r);
    console.error(`round ${round + 1} ${t.name}: ${r.charts} charts, ${r.fps.toFixed(1)} frames/s, ` +
      `frame p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms, ${r.longTasks} long tasks (${r.longMs.toFixed(0)} ms), ` +
      `renderer busy ${r.busy.toFixed(1)} %` + (r.errors.length ? `, page errors: ${r.errors.slice(0, 3).join('; ')}` : ''));
  }
}
await browser.close();
for (const t of targets) await t.stop();

const rows = [];
const fields = [['charts', 0], ['fps', 1], ['p50', 1], ['p99', 1], ['max', 0], ['slow', 0], ['longTasks', 0], ['longMs', 0], ['busy', 1], ['script', 0]];
console.log(`\n${CHARTS} live charts, one value a second each; ${SECONDS} s per turn, ${ROUNDS} turns each, medians; ` +
  `headless Chromium on ${os.cpus().length} cores\n`);
console.log('| page | charts | frames/s | frame p50 ms | frame p99 ms | worst frame ms | frames > 25 ms | long tasks | long-task ms | renderer busy % | script ms/s |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const med = new Map();
for (const [name, rs] of results) {
  const m = Object.fromEntries(fields.map(([f]) => [f, median(rs.map(r => r[f]))]));
  med.set(name, m);
  rows.push(`| ${name} | ${fields.map(([f, dp]) => m[f].toFixed(dp)).join(' | ')} |`);
}
console.log(rows.join('\n'));
if (med.size === 2) {
  const [a, b] = [...med.values()];
  console.log(`\nratios (Netdata / canopy): renderer busy ${(b.busy / a.busy).toFixed(2)}, script ${(b.script / Math.max(a.script, 0.1)).toFixed(2)}, ` +
    `long-task ms ${a.longMs ? (b.longMs / a.longMs).toFixed(2) : (b.longMs ? '∞' : '—')}`);
}
