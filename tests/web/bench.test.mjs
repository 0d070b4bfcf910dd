// web/assets/bench.js: renderBench draws a host's benchmark figures against
// their baselines (canopy-agent --bench), a fall past the threshold
// highlighted, a failed benchmark's error in its place, and says so when
// the host runs none. The host page imports it; here a page of canopy's
// own loads it the same way.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {skip, Server, launchBrowser, openPage, screenshot} from './harness.mjs';

let server, browser;

before(async () => {
  if (skip) return;
  server = await new Server().start();
  browser = await launchBrowser();
  // What canopy-agent pushes (docs/AGENT.md, "Benchmarks"): cpu fell 60 %
  // (recent 40 against a baseline of 100), disk is steady, net failed.
  await server.push({host: {web1: {bench: {
    defaultaction: 'last', degraded: 1, fall_threshold_percent: 25,
    cpu: {time: 1796600000, seconds: 0.5, ok: 1, single_mops: 38, multi_mops: 80, threads: 2,
      baseline: {single_mops: 100, multi_mops: 190}, recent: {single_mops: 40, multi_mops: 180},
      fall_percent: 60},
    disk: {time: 1796600001, seconds: 0.3, ok: 1, fsync_ms: 1.1, write_mbps: 500, read_mbps: 900,
      baseline: {fsync_ms: 1, write_mbps: 480, read_mbps: 910},
      recent: {fsync_ms: 1.05, write_mbps: 490, read_mbps: 905}, fall_percent: 5},
    net: {time: 1796600002, seconds: 0.1, ok: 0, error: 'net: rtt: Couldn\'t connect to server'},
  }}}});
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

async function render(page, host) {
  return page.evaluate(async (h) => {
    const {renderBench} = await import('/assets/bench.js');
    let div = document.querySelector('#bench-test');
    if (!div) {
      div = document.createElement('div');
      div.id = 'bench-test';
      document.body.prepend(div);
    }
    const tree = await renderBench(div, h);
    return tree !== null;
  }, host);
}

test('figures against baselines, falls highlighted, errors shown', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + '/diff/');
  assert.equal(await render(page, 'web1'), true);
  const row = (fig) => page.locator(`#bench-test tr[data-figure="${fig}"]`);
  assert.equal(await row('single_mops').getAttribute('class'), 'bench-fell');
  assert.deepEqual((await row('single_mops').locator('td').allTextContents()).slice(0, 6),
    ['cpu', 'single_mops', '38.00', '40.00', '100', '−60 %']);
  // multi_mops: 180 against 190 is a 5 % fall, under the threshold.
  assert.equal(await row('multi_mops').getAttribute('class'), null);
  // fsync_ms is a latency: 1.05 against 1 is 5 % worse.
  assert.equal((await row('fsync_ms').locator('td').nth(5).textContent()), '−5 %');
  assert.equal(await row('read_mbps').getAttribute('class'), null);
  assert.equal(await page.locator('#bench-test tr[data-figure="threads"]').count(), 0);
  const net = page.locator('#bench-test tr.bench-error[data-kind="net"]');
  assert.match(await net.textContent(), /Couldn't connect/);
  assert.equal(await page.locator('#bench-test [data-degraded="1"]').count(), 1);
  await screenshot(page, 'bench');

  // A host with no benchmark says so.
  assert.equal(await render(page, 'nobody'), false);
  assert.match(await page.locator('#bench-test').textContent(), /runs no benchmark/);
  page.assertClean();
  await page.closeAll();
});
