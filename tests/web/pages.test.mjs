// Every page loads without a console error or a page error, on an empty
// server and on one with data, and / goes to the overview.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {skip, Server, launchBrowser, openPage, waitFor} from './harness.mjs';
import {stubUnits} from './units_stub.mjs';

let server, browser;

before(async () => {
  if (skip) return;
  server = await new Server().start();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

const pages = ['/overview/', '/host/web1', '/realtime/', '/trend/view/', '/trend/view/?key=web', '/setting/view', '/diff/', '/diff/?a=web&b=web'];

async function visitAll() {
  for (const p of pages) {
    // /diff/?a=web&b=web: 404 on purpose; /host/web1: no such host yet (the
    // page says so).
    const page = await openPage(browser, {allow: /^\/(diff\/\?|host\/)/.test(p) ? [/status of 404/] : []});
    await stubUnits(page, server);  // while canopyd has no /api/units
    await page.goto(server.url + p);
    await waitFor(async () => (await page.locator('main').innerText()).trim().length > 20, {what: `content on ${p}`});
    await page.settled();
    assert.ok(await page.isVisible('.topbar'), `the top bar on ${p}`);
    page.assertClean();
    await page.closeAll();
  }
}

test('every page, on an empty server', {skip}, visitAll);

test('every page, with data', {skip}, async () => {
  await server.push({web: {hits: 1, lat: [1, 2, 3], defaultaction: 'timer'}, name: 'text leaf'});
  await visitAll();
});

test('/ goes to the overview', {skip}, async () => {
  const page = await openPage(browser);
  await stubUnits(page, server);
  await page.goto(server.url + '/');
  assert.match(page.url(), /\/overview\/$/);
  await waitFor(() => page.locator('section.group .live-chart').count(), {what: 'charts'});
  page.assertClean();
  await page.closeAll();
});
