// /setting/view and /realtime/view/<name>: a view saved survives a reload
// and a server restart; edit, delete; a malformed view document is refused
// with the reason; a view naming keys that are gone, or no view at all.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {skip, Server, launchBrowser, openPage as open, screenshot, waitFor, connState} from './harness.mjs';
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
  await server.push([
    {web: {hits: {'www.example.com': 3, 'api.example.com': 7}, errors: 1}, defaultaction: 'add'},
    {host: {web1: {cpu: {user: 9, idle: 32}}, web2: {cpu: {user: 12, idle: 50}}}},
  ]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.cleanup();
});

const viewRow = (page, name) => page.locator(`#views tr[data-name="${name}"]`);

test('a view saved survives a reload and a server restart; edit and delete', {skip}, async () => {
  const page = await openPage(browser, {allow: [/ERR_CONNECTION_REFUSED|Failed to load resource/]});
  await page.goto(server.url + '/setting/view');
  await waitFor(() => page.locator('#no-views').count(), {what: 'the empty list'});
  await page.fill('#view-name', 'web-hits');
  await page.fill('#view-title', 'Web hits');
  await page.fill('#view-keys', 'web,hits\nhost,*,cpu,user');
  await page.selectOption('#view-layout', 'grid');
  await page.click('#save');
  await waitFor(() => viewRow(page, 'web-hits').count(), {what: 'the saved view in the list'});
  assert.match(await page.textContent('#form-messages'), /Saved view web-hits/);
  await screenshot(page, 'settings');

  await page.reload();
  await waitFor(() => viewRow(page, 'web-hits').count(), {what: 'the view after a reload'});

  await server.restart();
  await page.reload();
  await waitFor(() => viewRow(page, 'web-hits').count(), {what: 'the view after a server restart'});
  assert.match(await viewRow(page, 'web-hits').textContent(), /Web hits/);
  const {body} = await server.json('/api/views/web-hits');
  assert.deepEqual(body.keys, ['web,hits', 'host,*,cpu,user']);

  // Open it: tiles with live values.
  await viewRow(page, 'web-hits').locator('a').first().click();
  await page.waitForURL(/\/realtime\/view\/web-hits$/);
  await waitFor(async () => (await page.textContent('#title')) === 'Web hits', {what: 'the title'});
  await waitFor(async () => (await page.locator('.tile').count()) === 4, {what: 'four tiles'});
  await waitFor(async () => (await connState(page)) === 'live', {what: 'live'});
  // In the view's key order (web,hits first), not alphabetical.
  assert.deepEqual(await page.$$eval('.tile', ts => ts.map(t => t.dataset.key)),
    ['web,hits,api.example.com', 'web,hits,www.example.com', 'host,web1,cpu,user', 'host,web2,cpu,user']);
  await server.push({web: {hits: {'www.example.com': 2}}});
  // A counter's tile shows its rate once known, its total under it.
  const tile = page.locator('.tile[data-key="web,hits,www.example.com"]');
  await waitFor(async () => (await tile.getAttribute('data-value')) === '5', {timeout: 2000, what: 'the live tile'});
  await waitFor(async () => /\/s$/.test(await tile.locator('.v').textContent()) && (await tile.locator('.sub').textContent()) === 'total 5',
    {what: 'the counter as a rate'});
  await screenshot(page, 'view');

  // Edit: list layout shows the tree.
  await page.goto(server.url + '/setting/view?edit=web-hits');
  await waitFor(async () => (await page.inputValue('#view-name')) === 'web-hits', {what: 'the edit form'});
  assert.equal(await page.inputValue('#view-keys'), 'web,hits\nhost,*,cpu,user');
  await page.selectOption('#view-layout', 'list');
  await page.fill('#view-title', 'Web hits (tree)');
  await page.click('#save');
  await waitFor(async () => /tree/.test(await viewRow(page, 'web-hits').textContent()), {what: 'the edited view'});
  await page.goto(server.url + '/realtime/view/web-hits');
  await waitFor(() => page.locator('#rows .row[data-key="web,hits,www.example.com"]').count(), {what: 'the tree of the view'});
  assert.equal(await page.textContent('#title'), 'Web hits (tree)');
  assert.equal(await page.locator('#rows .row[data-key="host,web2,cpu,idle"]').count(), 0, 'only the view\'s keys');

  // Delete.
  await page.goto(server.url + '/setting/view');
  await waitFor(() => viewRow(page, 'web-hits').count(), {what: 'the list'});
  await viewRow(page, 'web-hits').locator('button.delete').click();
  await waitFor(() => page.locator('#no-views').count(), {what: 'the view deleted'});
  assert.equal((await server.json('/api/views/web-hits')).status, 404);
  page.assertClean();
  await page.closeAll();
});

test('a malformed view is refused with the reason', {skip}, async () => {
  // The API: 400 and the reason.
  for (const doc of ['{"keys": []}', '{"keys": "web"}', 'not json', '{"keys": ["web"], "title": 5}']) {
    const {status, body} = await server.json('/api/views/bad', {method: 'PUT', body: doc, headers: {'Content-Type': 'application/json'}});
    assert.equal(status, 400, doc);
    assert.equal(typeof body.error, 'string', doc);
  }
  const page = await openPage(browser, {allow: [/Failed to load resource: the server responded with a status of 400/]});
  await page.goto(server.url + '/setting/view');
  await waitFor(() => page.locator('#views tr').count(), {what: 'the list'});
  // Caught on the page before it is sent.
  await page.fill('#view-name', 'bad name!');
  await page.fill('#view-keys', 'web');
  await page.click('#save');
  await waitFor(async () => /name must be/.test(await page.textContent('#form-messages')), {what: 'the name message'});
  await page.fill('#view-name', 'empty');
  await page.fill('#view-keys', '');
  await page.click('#save');
  await waitFor(async () => /at least one key/.test(await page.textContent('#form-messages')), {what: 'the keys message'});
  // Refused by the server, whose reason is shown.
  await page.fill('#view-name', 'deep');
  await page.fill('#view-keys', 'a,**,**,**,**,**');
  await page.click('#save');
  await waitFor(async () => /did not save the view: .*\*\*/.test(await page.textContent('#form-messages')), {what: 'the server\'s reason'});
  assert.equal((await server.json('/api/views/deep')).status, 404);
  page.assertClean();
  await page.closeAll();
});

test('a view naming keys that are gone, and a view that does not exist', {skip}, async () => {
  const put = await server.json('/api/views/gone', {method: 'PUT', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({title: 'Gone', keys: ['web,errors', 'old,host,**'], layout: 'grid'})});
  assert.equal(put.status, 200);
  const page = await openPage(browser, {allow: [/Failed to load resource: the server responded with a status of 404/]});
  await page.goto(server.url + '/realtime/view/gone');
  await waitFor(async () => /match nothing now: old,host,\*\*/.test(await page.textContent('#messages')), {what: 'the missing keys'});
  await waitFor(async () => (await page.locator('.tile').count()) === 1, {what: 'the tile that exists'});

  await page.goto(server.url + '/realtime/view/nope');
  await waitFor(async () => /no view named “nope”/.test(await page.textContent('#messages')), {what: 'no such view'});
  assert.equal(await page.getAttribute('#messages a', 'href'), '/setting/view?edit=nope');

  await page.goto(server.url + '/realtime/view/' + encodeURIComponent('bad name/../x'));
  await waitFor(() => page.locator('.msg.error').count(), {what: 'a bad view name'});
  page.assertClean();
  await page.closeAll();
});

// A timer's tile shows p50 and p99 whole (the text used to be cut: "p99 30…").
test('a timer tile shows p50 and p99 whole', {skip}, async () => {
  await server.push({api: {lat: {home: [1.5, 2, 30.25, 1200.5], search: [3, 4]}}, defaultaction: 'timer'});
  await server.json('/api/views/lat', {method: 'PUT', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({title: 'Latency', keys: ['api,lat,home', 'api,lat,search'], layout: 'grid'})});
  const page = await openPage(browser);
  await page.goto(server.url + '/realtime/view/lat');
  await waitFor(async () => (await page.locator('.tile').count()) === 2, {what: 'two tiles'});
  const v = page.locator('.tile[data-key="api,lat,home"] .v');
  await waitFor(async () => /p50 .* ms\np99 .*s$/.test(await v.textContent()), {what: 'p50 and p99'});
  const cut = await v.evaluate(e => e.scrollWidth > e.clientWidth);
  assert.equal(cut, false, `the timer text fits: ${await v.textContent()}`);
  await screenshot(page, 'view-timers');
  page.assertClean();
  await page.closeAll();
});
