// /trend/view/: points drawn for dated pushes, presets, zooming on the
// overview strip and on a chart, fn, markers, several keys, the permalink,
// and bad input.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {skip, Server, launchBrowser, openPage as open, screenshot, waitFor} from './harness.mjs';
import {stubUnits} from './units_stub.mjs';

let server, browser;

// A page whose /api/units is canopyd's, or stands in for it (units_stub.mjs).
async function openPage(b, opts, units = null) {
  const page = await open(b, opts);
  await stubUnits(page, server, units);
  return page;
}
const N = 30;
let t0;

before(async () => {
  if (skip) return;
  server = await new Server().start();
  browser = await launchBrowser();
  // N samples, one per 10 s window, dated in the past.
  t0 = Math.floor(Date.now() / 1000 / 10) * 10 - 900;
  for (let i = 0; i < N; i++) {
    await server.push({time: t0 + i * 10, tr: {a: i, b: 100 - i}});
  }
  await server.push({tr: {a: {marker: 'deploy 1.4'}}});
  // History is written about once a second.
  await waitFor(async () => {
    const {body} = await server.json(`/trend?key=tr,a&from=${t0}&to=${t0 + 300}&step=10`);
    return body.series && body.series[0] && body.series[0].points.length === N;
  }, {timeout: 15000, what: 'the dated samples in /trend'});
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

async function loaded(page) {
  await waitFor(async () => (await page.locator('.chart').count()) > 0 || (await page.locator('.msg.error').count()) > 0,
    {what: 'the charts'});
}

test('the chart draws one point per dated sample', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + `/trend/view/?key=tr,a&from=${t0}&to=${t0 + 300}`);
  await loaded(page);
  assert.equal(await page.getAttribute('.chart', 'data-points'), String(N));
  assert.equal(await page.getAttribute('#range', 'data-step'), '10');
  const drawn = await page.evaluate(() => {
    const u = window.canopyTrend.plots[0].u;
    return {xs: u.data[0], ys: u.data[1]};
  });
  assert.deepEqual(drawn.xs, Array.from({length: N}, (_, i) => t0 + i * 10));
  assert.deepEqual(drawn.ys, Array.from({length: N}, (_, i) => i));
  page.assertClean();
  await page.closeAll();
});

test('presets, zooming on the overview and on a chart, fn, permalink', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + '/trend/view/?key=tr,a');
  await loaded(page);
  // One read, so that a reload cannot land between the fields.
  const range = () => page.evaluate(() => {
    const d = document.querySelector('#range').dataset;
    return {from: +d.from, to: +d.to, step: +d.step};
  });
  let r = await range();
  assert.ok(Math.abs(r.to - r.from - 3600) <= 1, 'the default range is 1 h');
  assert.equal(await page.getAttribute('button[data-preset="1h"]', 'aria-pressed'), 'true');

  await page.click('button[data-preset="1d"]');
  await waitFor(async () => { r = await range(); return Math.abs(r.to - r.from - 86400) <= 1; }, {what: 'the 1 d preset'});
  assert.equal(new URL(page.url()).searchParams.get('range'), '1d');
  const wide = r;

  // Drag on the overview: the charts show the part picked, at a finer step.
  const box = await page.locator('#overview .u-over').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.90, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, y, {steps: 5});
  await page.mouse.move(box.x + box.width * 0.99, y, {steps: 5});
  await page.mouse.up();
  await waitFor(async () => { r = await range(); return r.to - r.from < wide.to - wide.from; }, {what: 'the zoom'});
  assert.ok(r.from > wide.from && r.to <= wide.to + 1, 'the zoomed range is inside the overview');
  assert.ok(r.step < wide.step, `the resolution follows the zoom (${wide.step} s -> ${r.step} s)`);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('from'), String(r.from));
  assert.equal(url.searchParams.get('to'), String(r.to));
  assert.ok(await page.isVisible('#reset-zoom'));
  await screenshot(page, 'trend-zoomed');

  // Drag on the chart zooms further.
  const before = r;
  const cbox = await page.locator('.chart .u-over').first().boundingBox();
  await page.mouse.move(cbox.x + cbox.width * 0.3, cbox.y + 40);
  await page.mouse.down();
  await page.mouse.move(cbox.x + cbox.width * 0.5, cbox.y + 40, {steps: 5});
  await page.mouse.move(cbox.x + cbox.width * 0.7, cbox.y + 40, {steps: 5});
  await page.mouse.up();
  await waitFor(async () => { r = await range(); return r.to - r.from < before.to - before.from; }, {what: 'the chart zoom'});

  // fn
  await page.selectOption('#fn', 'max');
  await waitFor(() => new URL(page.url()).searchParams.get('fn') === 'max', {what: 'fn in the URL'});
  await waitFor(async () => (await page.textContent('.chart .title')).includes('max'), {what: 'the max chart'});

  // The permalink reproduces the view.
  const href = await page.getAttribute('#permalink', 'href');
  const shown = await range();
  const page2 = await openPage(browser);
  await page2.goto(server.url + href);
  await loaded(page2);
  assert.equal(+(await page2.getAttribute('#range', 'data-from')), shown.from);
  assert.equal(+(await page2.getAttribute('#range', 'data-to')), shown.to);
  assert.equal(await page2.inputValue('#fn'), 'max');
  page2.assertClean();
  await page2.closeAll();

  // Reset the zoom.
  await page.click('#reset-zoom');
  await waitFor(async () => { r = await range(); return Math.abs(r.to - r.from - 86400) <= 1; }, {what: 'zoom reset'});
  page.assertClean();
  await page.closeAll();
});

test('several keys on one chart or a chart each, with markers', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + `/trend/view/?key=tr,a&key=tr,b&range=1h`);
  await loaded(page);
  assert.equal(await page.locator('.chart').count(), 1);
  assert.equal(await page.getAttribute('.chart', 'data-series'), '2');
  assert.equal(await page.getAttribute('.chart', 'data-points'), String(2 * N + 0));
  await waitFor(async () => (await page.textContent('#marker-list')).includes('deploy 1.4'), {what: 'the marker'});
  assert.equal(await page.evaluate(() => window.canopyTrend.markers.length), 1);
  await screenshot(page, 'trend');
  await page.check('#split');
  await waitFor(async () => (await page.locator('.chart').count()) === 2, {what: 'a chart per key'});
  assert.equal(new URL(page.url()).searchParams.get('split'), '1');
  page.assertClean();
  await page.closeAll();
});

test('bad input shows a message, never a blank page', {skip}, async () => {
  const page = await openPage(browser, {allow: [/Failed to load resource: the server responded with a status of 400/]});
  const cases = [
    ['key=' + encodeURIComponent('a,\u0001'), /not a valid key/],
    ['key=tr,a&from=yesterday', /cannot read from/],
    [`key=tr,a&from=${t0 + 100}&to=${t0}`, /is not before/],
    ['key=no,such,key', /No history for no,such,key/],
    ['key=tr,a&fn=median', /Unknown fn/],
    ['', /Enter one or more keys/],
    ['key=tr,a&range=century', /unknown range/],
  ];
  for (const [q, re] of cases) {
    await page.goto(server.url + '/trend/view/?' + q);
    await waitFor(async () => re.test(await page.textContent('main')), {what: `the message for ${q}`});
  }
  // A huge range: drawn at a coarse step, or refused with the reason.
  await page.goto(server.url + '/trend/view/?key=tr,a&from=-100y&to=now');
  await loaded(page);
  assert.ok((await page.locator('.chart').count()) + (await page.locator('.msg.error').count()) > 0);
  page.assertClean();
  await page.closeAll();
});
