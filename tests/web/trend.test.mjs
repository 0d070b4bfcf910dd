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
  await stubUnits(page, server, units ?? {});
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

// ---------------------------------------------------------------- issue 15

// The overview marks the charts' window: from a URL with from/to (the
// selection used to be set before uPlot had scales, at NaN) and after a drag.
test('the overview marks the zoomed window, from the URL and after a drag', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + `/trend/view/?key=tr,a&range=1d&from=${t0}&to=${t0 + 300}`);
  await loaded(page);
  const sel = () => page.evaluate(() => {
    const u = window.canopyTrend.overview;
    return {left: u.select.left, width: u.select.width, from: u.posToVal(u.select.left, 'x'),
      to: u.posToVal(u.select.left + u.select.width, 'x')};
  });
  let s = await waitFor(async () => { const x = await sel(); return x.width > 0 && x; }, {what: 'the window on the overview'});
  assert.ok(Number.isFinite(s.left) && s.width >= 2, `a window is marked (${JSON.stringify(s)})`);
  assert.ok(Math.abs(s.from - t0) < 600 && Math.abs(s.to - (t0 + 300)) < 600, `at the zoomed range (${JSON.stringify(s)})`);
  // A drag on the overview marks the new window.
  const box = await page.locator('#overview .u-over').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.5, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, y, {steps: 5});
  await page.mouse.move(box.x + box.width * 0.7, y, {steps: 5});
  await page.mouse.up();
  await waitFor(async () => Math.abs(+(await page.getAttribute('#range', 'data-from')) - t0) > 3600, {what: 'the zoom'});
  const from = +(await page.getAttribute('#range', 'data-from'));
  s = await waitFor(async () => { const x = await sel(); return x.width > 0 && Math.abs(x.from - from) < 600 && x; },
    {what: 'the dragged window marked'});
  assert.ok(Math.abs(s.left - box.width * 0.5) < 10, `the mark starts where the drag did (${s.left} vs ${box.width * 0.5})`);
  page.assertClean();
  await page.closeAll();
});

// Axes: the value axis is as wide as its widest label; time ticks read on a
// 24-hour clock like the range label; the hover shows no point far away.
test('axes fit their labels, ticks are 24-hour, the hover stays near the cursor', {skip}, async () => {
  // Big figures, and a gap of ten minutes in the middle.
  for (let i = 0; i < N; i++) {
    if (i >= 5 && i < 25) continue;
    await server.push({time: t0 + i * 10, tr: {big: 123456789012 + i * 1e9}});
  }
  await waitFor(async () => {
    const {body} = await server.json(`/trend?key=tr,big&from=${t0}&to=${t0 + 300}&step=10`);
    return body.series && body.series[0] && body.series[0].points.length === 10;
  }, {timeout: 15000, what: 'tr,big in /trend'});
  const page = await openPage(browser);
  // 13:00 to 14:00 local, so that a 12-hour clock would show.
  await page.goto(server.url + `/trend/view/?key=tr,big&from=${t0}&to=${t0 + 300}`);
  await loaded(page);
  const axes = await page.evaluate(() => {
    const u = window.canopyTrend.plots[0].u;
    const ax = u.axes[1];
    u.ctx.font = ax.font[0];
    const widest = Math.max(...ax._values.map(v => u.ctx.measureText(v).width)) / devicePixelRatio;
    return {size: ax._size, widest, y: ax._values, x: u.axes[0]._values};
  });
  assert.ok(axes.widest + 8 <= axes.size, `the y axis (${axes.size} px) holds its widest label (${axes.widest} px: ${axes.y.join(' | ')})`);
  assert.ok(axes.x.length > 1 && axes.x.every(v => /^\d\d:\d\d(:\d\d)?(\n\d\d-\d\d)?$/.test(v)), `24-hour ticks: ${axes.x.join(' | ')}`);
  // Hover in the gap: no value from minutes away; on a point: its value.
  const legend = async t => {
    const x = await page.evaluate(t => {
      const u = window.canopyTrend.plots[0].u;
      const r = u.over.getBoundingClientRect();
      return r.left + u.valToPos(t, 'x');
    }, t);
    const box = await page.locator('.chart .u-over').first().boundingBox();
    await page.mouse.move(x, box.y + box.height / 2);
    return page.evaluate(() => document.querySelector('.chart .u-legend .u-series:nth-child(2) .u-value').textContent);
  };
  assert.equal(await legend(t0 + 150), '—', 'nothing shown in the gap');
  assert.notEqual(await legend(t0 + 20), '—', 'a point is shown under the cursor');
  page.assertClean();
  await page.closeAll();
});

// Units from /api/units: the y axis and the legend carry them; a unit that
// is not a known word is printed after the figure, as text.
test('figures carry their units', {skip}, async () => {
  const page = await openPage(browser, {}, {'tr,a': 'bytes', 'tr,b': 'furlongs<b>'});
  await page.goto(server.url + `/trend/view/?key=tr,a&key=tr,b&from=${t0}&to=${t0 + 300}&split=1`);
  await loaded(page);
  await waitFor(async () => (await page.locator('.chart').count()) === 2, {what: 'two charts'});
  const got = await page.evaluate(() => window.canopyTrend.plots.map(p => ({ys: p.u.axes[1]._values, unit: p.box.dataset.unit})));
  assert.equal(got[0].unit, 'bytes');
  assert.ok(got[0].ys.some(v => / B$/.test(v)), `bytes on the axis: ${got[0].ys.join(' | ')}`);
  assert.ok(got[1].ys.some(v => v.endsWith(' furlongs<b>')), `an unknown unit as it is: ${got[1].ys.join(' | ')}`);
  assert.equal(await page.locator('.chart b').count(), 0, 'no HTML from a unit');
  page.assertClean();
  await page.closeAll();
});

// Compare: the same range a day before, dashed, on the same chart.
test('compare a range with the same range a day before', {skip}, async () => {
  for (let i = 0; i < N; i++) await server.push({time: t0 - 86400 + i * 10, tr: {c: 500 + i}});
  for (let i = 0; i < N; i++) await server.push({time: t0 + i * 10, tr: {c: 100 + i}});
  // Both days in history before the page reads them once (a busy machine
  // writes them later than it takes the pushes).
  for (const [from, what] of [[t0 - 86400, 'yesterday\'s'], [t0, 'today\'s']]) {
    await waitFor(async () => {
      const {body} = await server.json(`/trend?key=tr,c&from=${from}&to=${from + 300}&step=10`);
      return body.series && body.series[0] && body.series[0].points.length === N;
    }, {timeout: 15000, what: `${what} samples in /trend`});
  }
  const page = await openPage(browser);
  await page.goto(server.url + `/trend/view/?key=tr,c&from=${t0}&to=${t0 + 300}&compare=1d`);
  await loaded(page);
  await waitFor(async () => +(await page.getAttribute('.chart', 'data-points')) === 2 * N, {what: 'both series drawn'});
  const drawn = await page.evaluate(() => {
    const p = window.canopyTrend.plots[0];
    return {labels: p.u.series.slice(1).map(s => s.label), dash: p.u.series.slice(1).map(s => !!s.dash),
      xs: p.u.data[0], now: p.u.data[1], before: p.u.data[2]};
  });
  assert.deepEqual(drawn.labels, ['tr,c', 'tr,c (a day before)']);
  assert.deepEqual(drawn.dash, [false, true]);
  assert.deepEqual(drawn.xs, Array.from({length: N}, (_, i) => t0 + i * 10), 'yesterday drawn on today\'s times');
  assert.deepEqual(drawn.now, Array.from({length: N}, (_, i) => 100 + i));
  assert.deepEqual(drawn.before, Array.from({length: N}, (_, i) => 500 + i));
  assert.equal(await page.inputValue('#compare'), '1d');
  assert.equal(new URL(page.url()).searchParams.get('compare'), '1d');
  await screenshot(page, 'trend-compare');
  page.assertClean();
  await page.closeAll();
});

// Several keys a chart each: the charts share the cursor and the range.
test('charts on a page share their cursor', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + `/trend/view/?key=tr,a&key=tr,b&from=${t0}&to=${t0 + 300}&split=1`);
  await loaded(page);
  await waitFor(async () => (await page.locator('.chart').count()) === 2, {what: 'two charts'});
  const box = await page.locator('.chart .u-over').first().boundingBox();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
  const c = await waitFor(() => page.evaluate(() => {
    const [a, b] = window.canopyTrend.plots.map(p => p.u.cursor);
    const [ua, ub] = window.canopyTrend.plots.map(p => p.u);
    return a.idx !== null && b.idx === a.idx && b.left > 0 && {a: ua.posToVal(a.left, 'x'), b: ub.posToVal(b.left, 'x')};
  }), {what: 'the second chart to follow the cursor'});
  assert.ok(Math.abs(c.a - c.b) < 5, `the same time under both cursors (${c.a}, ${c.b})`);
  page.assertClean();
  await page.closeAll();
});

// Follow live: values pushed now are appended from /pull as they arrive,
// and the range ends at now; the toggle is in the URL.
test('follow live appends pushed values as they arrive', {skip}, async () => {
  await server.push({lv: {g: 1}});
  const page = await openPage(browser);
  await page.goto(server.url + '/trend/view/?key=lv,g&live=1');
  await loaded(page);
  assert.equal(await page.isChecked('#live'), true);
  assert.equal(new URL(page.url()).searchParams.get('live'), '1');
  await waitFor(async () => (await server.metric('canopy_waiters')) >= 1, {what: 'the long-poll to be parked'});
  for (const v of [41, 42.5]) {
    await server.push({lv: {g: v}});
    await waitFor(() => page.evaluate(v => {
      const d = window.canopyTrend.plots[0].u.data;
      return d[1][d[1].length - 1] === v;
    }, v), {timeout: 3000, what: `the value ${v} appended`});
  }
  const max = await page.evaluate(() => window.canopyTrend.plots[0].u.scales.x.max);
  assert.ok(Math.abs(max - Date.now() / 1000) < 5, 'the range ends at now');
  // Zooming leaves live mode.
  const cbox = await page.locator('.chart .u-over').first().boundingBox();
  await page.mouse.move(cbox.x + cbox.width * 0.2, cbox.y + 40);
  await page.mouse.down();
  await page.mouse.move(cbox.x + cbox.width * 0.5, cbox.y + 40, {steps: 5});
  await page.mouse.up();
  await waitFor(() => new URL(page.url()).searchParams.get('live') === null, {what: 'live off after a zoom'});
  page.assertClean();
  await page.closeAll();
});

// A marker on a node shows on the charts of the nodes under it; its text
// is text, never HTML; a text where a number was is a gap, not an error.
test('markers inherited from ancestors, shown as text; a text value', {skip}, async () => {
  await server.push({app: {requests: {home: 3, marker: 'deploy v1.4 <img src=x onerror="window.hacked=1">'}}});
  await server.push({app: {requests: {home: 'not a number'}}});
  const page = await openPage(browser);
  await page.goto(server.url + '/trend/view/?key=app,requests,home&range=1h');
  await loaded(page);
  await waitFor(async () => (await page.textContent('#marker-list')).includes('deploy v1.4 <img'), {what: 'the inherited marker'});
  assert.equal(await page.locator('#marker-list img').count(), 0);
  assert.equal(await page.evaluate(() => window.hacked), undefined);
  assert.match(await page.textContent('#marker-list'), /app,requests: deploy v1\.4/);
  page.assertClean();
  await page.closeAll();
});
