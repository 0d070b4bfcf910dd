// Shared by the browser tests: starts the real canopyd on a free port with
// its own data dir, drives Debian's chromium through playwright-core, fails
// on any console error or page error, and saves screenshots.
//
// The build dir comes from CANOPY_BIN_DIR (CTest sets it) or ./build. When
// chromium, web/node_modules or the built pages are missing, each test file
// FAILS with one test saying what is missing and how to get it, and skips
// the rest; only with CANOPY_SKIP_BROWSER_TESTS=1 in the environment are the
// tests skipped instead (a machine that cannot run a browser on purpose).
//
// Tests wait on what the page or the server shows (waitFor, the page's
// data-* attributes, /metrics), never for a fixed time.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawn} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath, pathToFileURL} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const sourceDir = path.resolve(here, '..', '..');
export const buildDir = path.resolve(process.env.CANOPY_BIN_DIR || path.join(sourceDir, 'build'));
export const canopyd = path.join(buildDir, 'bin', 'canopyd');
export const webDir = path.join(buildDir, 'web');
export const screenshotDir = path.join(buildDir, 'screenshots');
export const chromiumPath = process.env.CANOPY_CHROMIUM || '/usr/bin/chromium';

// What the browser tests need and is not there, each with how to get it.
function findMissing() {
  const missing = [];
  if (!fs.existsSync(chromiumPath)) {
    missing.push(`${chromiumPath} is missing: run scripts/deps.sh (it installs Debian's chromium), ` +
      'or point CANOPY_CHROMIUM at a Chromium');
  }
  try {
    createRequire(path.join(sourceDir, 'web', 'package.json')).resolve('playwright-core');
  } catch {
    missing.push(`playwright-core is not in ${path.join(sourceDir, 'web', 'node_modules')}: ` +
      'run scripts/deps.sh (it runs npm ci in web/)');
  }
  if (!fs.existsSync(canopyd)) missing.push(`${canopyd} is not built: ninja -C ${buildDir} canopyd`);
  for (const f of ['realtime.html', 'trend.html', 'settings.html', 'diff.html', 'assets/page.js',
    'assets/uplot/uPlot.esm.js']) {
    if (!fs.existsSync(path.join(webDir, f))) {
      missing.push(`${path.join(webDir, f)} is missing: build the canopy_web target ` +
        `(ninja -C ${buildDir} canopy_web; uPlot comes from web/node_modules, so run scripts/deps.sh first)`);
      break;
    }
  }
  return missing;
}

const missing = findMissing();
const skipOnPurpose = process.env.CANOPY_SKIP_BROWSER_TESTS === '1';

// The `skip` option of every browser test: false when they can run.
export const skip = missing.length === 0 ? false :
  skipOnPurpose ? `skipped (CANOPY_SKIP_BROWSER_TESTS=1): ${missing.join('; ')}` :
  `not run: ${missing[0]}`;

if (missing.length) {
  if (skipOnPurpose) {
    console.log(`skipped (CANOPY_SKIP_BROWSER_TESTS=1): ${missing.join('; ')}`);
  } else {
    // One failing test per file, saying what to do.
    test('the browser tests have what they need', () => {
      assert.fail('the browser tests cannot run:\n  - ' + missing.join('\n  - ') +
        '\nInstall what is missing, or set CANOPY_SKIP_BROWSER_TESTS=1 to skip them on purpose.');
    });
  }
}

let chromiumModule = null;
async function playwright() {
  if (!chromiumModule) {
    const resolved = createRequire(path.join(sourceDir, 'web', 'package.json')).resolve('playwright-core');
    chromiumModule = (await import(pathToFileURL(resolved).href)).default.chromium;
  }
  return chromiumModule;
}

const pause = ms => new Promise(r => setTimeout(r, ms));

// Polls `fn` until it answers something truthy (which it returns), or throws
// after `timeout` ms. For conditions the page or the server can show.
export async function waitFor(fn, {timeout = 10000, interval = 50, what = 'condition'} = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}` + (last instanceof Error ? `: ${last.message}` : ''));
    await pause(interval);
  }
}

// ---------------------------------------------------------------- canopyd

export class Server {
  constructor() {
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-web-'));
    this.port = 0;
    this.proc = null;
    this.log = '';
  }

  get url() { return `http://127.0.0.1:${this.port}`; }

  async start(port = this.port) {
    const ready = path.join(this.dataDir, 'ready');
    fs.rmSync(ready, {force: true});
    const args = [`--http=127.0.0.1:${port}`, '--udp=off', '--tcp=off', `--data_dir=${this.dataDir}`, `--ready_file=${ready}`,
      `--web_dir=${webDir}`];
    const proc = this.proc = spawn(canopyd, args, {stdio: ['ignore', 'ignore', 'pipe']});
    proc.stderr.on('data', d => { this.log += d; });
    this.exited = new Promise(resolve => proc.on('exit', (code, signal) => resolve({code, signal})));
    let died = false;
    this.exited.then(() => { died = true; });
    // A restart on the same port may find it busy for a moment.
    await waitFor(() => {
      if (died) throw new Error(`canopyd exited: ${this.log.slice(-500)}`);
      return fs.existsSync(ready);
    }, {timeout: 15000, what: 'canopyd to be ready'});
    const m = fs.readFileSync(ready, 'utf8').match(/http=(\d+)/);
    if (!m) throw new Error('no http= in the ready file');
    this.port = +m[1];
    return this;
  }

  async stop() {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10000);
    await this.exited;
    clearTimeout(t);
  }

  // Stops and starts again on the same port with the same data. The port
  // may be busy for a moment after the stop: it tries until canopyd binds.
  async restart() {
    const port = this.port;
    await this.stop();
    await waitFor(async () => {
      await this.start(port);
      return true;
    }, {timeout: 20000, interval: 250, what: `canopyd to start again on port ${port}`});
    return this;
  }

  async cleanup() {
    await this.stop();
    fs.rmSync(this.dataDir, {recursive: true, force: true});
  }

  async push(tree) {
    const r = await fetch(this.url + '/push', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(tree)});
    const body = await r.json();
    if (!r.ok) throw new Error(`push failed: ${r.status} ${JSON.stringify(body)}`);
    return body;
  }

  // A figure of /metrics (a line "NAME VALUE", no labels), or -1.
  async metric(name) {
    const r = await fetch(this.url + '/metrics');
    for (const line of (await r.text()).split('\n')) {
      const [n, v] = line.split(' ');
      if (n === name && v !== undefined) return +v;
    }
    return -1;
  }

  async json(p, init) {
    const r = await fetch(this.url + p, init);
    const text = await r.text();
    let body;
    try { body = JSON.parse(text); } catch { body = text; }
    return {status: r.status, body};
  }
}

// ---------------------------------------------------------------- chromium

export async function launchBrowser() {
  const chromium = await playwright();
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage'],
  });
}

// A page that records console errors and page errors. `allow` lists regexps
// of console errors a test expects (a refused connection while the server
// is down, a 400 the test provoked); anything else fails assertClean().
export async function openPage(browser, {allow = []} = {}) {
  const context = await browser.newContext({viewport: {width: 1200, height: 800}});
  const page = await context.newPage();
  const problems = [];
  page.on('console', m => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (page._canopyAllow.some(re => re.test(text))) return;
    problems.push(`console error: ${text} (${m.location().url || ''})`);
  });
  page.on('pageerror', e => problems.push(`page error: ${e.message}`));
  // Requests in flight, but for the long-poll that is always parked.
  const inflight = new Set();
  const parked = r => ['/pull', '/stream'].includes(new URL(r.url()).pathname);
  page.on('request', r => { if (!parked(r)) inflight.add(r); });
  page.on('requestfinished', r => inflight.delete(r));
  page.on('requestfailed', r => inflight.delete(r));
  // Waits until the page has nothing left to load: no request in flight
  // (the long-poll aside) before and after two rendered frames, so that
  // what the answers make the page do (and log) has been done.
  page.settled = () => waitFor(async () => {
    if (inflight.size) return false;
    await page.evaluate(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))));
    return inflight.size === 0;
  }, {what: 'the page to settle (no request in flight but the long-poll)'});
  page.on('dialog', d => d.accept());
  page._canopyAllow = allow;
  page.allowConsole = re => page._canopyAllow.push(re);
  page.problems = problems;
  page.assertClean = () => {
    if (problems.length) throw new Error('the page logged errors:\n' + problems.join('\n'));
  };
  page.closeAll = () => context.close();
  return page;
}

export async function screenshot(page, name) {
  fs.mkdirSync(screenshotDir, {recursive: true});
  const file = path.join(screenshotDir, name + '.png');
  await page.screenshot({path: file});
  return file;
}

// The text of the connection indicator's state ('live', 'lost', ...).
export function connState(page) {
  return page.getAttribute('#conn', 'data-state');
}
