// /diff/: two subtrees side by side with deltas; keys that need escaping;
// a key that does not exist.

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

before(async () => {
  if (skip) return;
  server = await new Server().start();
  browser = await launchBrowser();
  await server.push({host: {
    web1: {cpu: {user: 10, idle: 80}, mem: 5, only1: 1, os: 'Debian'},
    web2: {cpu: {user: 15, idle: 60}, mem: 5, only2: 2, os: 'Debian'},
  }});
  await server.push({disk: {'/var': {used: 10}, '/home': {used: 25}}});
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

const cells = (page, table, path) => page.locator(`#${table} tr[data-path="${path}"] td`).allTextContents();

test('two subtrees side by side with deltas', {skip}, async () => {
  const page = await openPage(browser);
  await page.goto(server.url + '/diff/');
  await waitFor(() => page.locator('#pick').count(), {what: 'the prompt'});
  await page.fill('#key-a', 'host,web1');
  await page.fill('#key-b', 'host,web2');
  await page.click('#compare');
  await waitFor(() => page.locator('#both').count(), {what: 'the diff'});
  assert.deepEqual(await cells(page, 'both', 'cpu,user'), ['cpu,user', '10', '15', '+5', '+50.0 %']);
  assert.deepEqual(await cells(page, 'both', 'cpu,idle'), ['cpu,idle', '80', '60', '-20', '-25.0 %']);
  assert.deepEqual((await cells(page, 'both', 'os')).slice(0, 4), ['os', 'Debian', 'Debian', '']);
  assert.deepEqual(await cells(page, 'only-a', 'only1'), ['only1', '1']);
  assert.deepEqual(await cells(page, 'only-b', 'only2'), ['only2', '2']);
  const url = new URL(page.url());
  assert.equal(url.searchParams.get('a'), 'host,web1');
  assert.equal(url.searchParams.get('b'), 'host,web2');
  // Live: a change shows at the next refresh.
  await server.push({host: {web2: {mem: 9}}});
  await waitFor(async () => (await cells(page, 'both', 'mem'))[3] === '+4', {timeout: 8000, what: 'the refreshed delta'});
  await screenshot(page, 'diff');
  page.assertClean();
  await page.closeAll();
});

test('keys with "/" and keys that do not exist', {skip}, async () => {
  const page = await openPage(browser, {allow: [/Failed to load resource: the server responded with a status of 404/]});
  await page.goto(server.url + '/diff/?a=' + encodeURIComponent('disk,/var') + '&b=' + encodeURIComponent('disk,/home'));
  await waitFor(() => page.locator('#both').count(), {what: 'the diff of mount points'});
  assert.deepEqual(await cells(page, 'both', 'used'), ['used', '10', '25', '+15', '+150.0 %']);
  await page.goto(server.url + '/diff/?a=host,web1&b=host,nope');
  await waitFor(async () => /no node/.test(await page.textContent('#messages')), {what: 'the missing key'});
  await page.goto(server.url + '/diff/?a=host,,web1&b=host');
  await waitFor(async () => /not valid/.test(await page.textContent('#messages')), {what: 'the bad key'});
  page.assertClean();
  await page.closeAll();
});

// Deltas in the leaves' units, in neutral colours: a higher or lower figure
// is not good or bad by itself (idle CPU up, memory up...).
test('deltas carry units and neutral colours', {skip}, async () => {
  await server.push({box: {a: {ram: 2048, load: 1}, b: {ram: 6144, load: 0.5}}});
  const page = await openPage(browser, {}, {'box,a,ram': 'bytes', 'box,b,ram': 'bytes'});
  await page.goto(server.url + '/diff/?a=box,a&b=box,b');
  await waitFor(() => page.locator('#both').count(), {what: 'the diff'});
  assert.deepEqual(await cells(page, 'both', 'ram'), ['ram', '2 KiB', '6 KiB', '+4 KiB', '+200.0 %']);
  const colours = await page.evaluate(() => {
    const c = sel => getComputedStyle(document.querySelector(sel)).color;
    return {up: c('#both tr[data-path="ram"] td.delta'), down: c('#both tr[data-path="load"] td.delta'),
      text: c('#both tr[data-path="ram"] td.num')};
  });
  assert.equal(colours.up, colours.text, 'a rise in the text colour');
  assert.equal(colours.down, colours.text, 'a fall in the text colour');
  page.assertClean();
  await page.closeAll();
});
