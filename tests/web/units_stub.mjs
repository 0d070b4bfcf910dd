// Units for the browser tests of the pages (trend, realtime, diff, views).
// The page's /api/units requests are answered here with `units` (a key ->
// unit object; the answer holds the keys the request's pattern selects), so
// that what a page shows is what the test says, whatever units canopyd
// would infer from a key's name; the tests of the pages pass {} for "no
// units". With units null (pages.test.mjs), canopyd answers, unless it has
// no /api/units yet (404, before the units branch): then {} stands in, so
// that the browser logs no 404.

export async function stubUnits(page, server, units = null) {
  if (units === null && (await server.json('/api/units?key=' + encodeURIComponent('**'))).status !== 404) return false;
  await page.route(url => new URL(url).pathname === '/api/units', route => {
    const patterns = new URL(route.request().url()).searchParams.getAll('key');
    const matchers = patterns.map(compile);
    const out = {};
    for (const [k, u] of Object.entries(units || {})) {
      if (!matchers.length || matchers.some(m => m(k))) out[k] = u;
    }
    return route.fulfill({status: 200, contentType: 'application/json', body: JSON.stringify({units: out})});
  });
  return true;
}

// canopy's patterns for the tests' stand-ins: "*" or "" one segment, a glob
// in a segment, "**" any number of segments; a key is selected when the
// pattern matches it or one of its ancestors.

function compile(pattern) {
  const segs = pattern === '' ? [] : pattern.split(',').map(s => {
    if (s === '**') return '**';
    if (s === '' || s === '*') return '*';
    if (!s.includes('*')) return s;
    return new RegExp('^' + s.split('*').map(p => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  });
  const one = (p, s) => p === '*' || (p instanceof RegExp ? p.test(s) : p === s);
  return key => {
    const ks = key === '' ? [] : key.split(',');
    const go = (i, j) => {
      if (i === segs.length) return true;
      if (segs[i] === '**') {
        for (let jj = j; jj <= ks.length; jj++) if (go(i + 1, jj)) return true;
        return false;
      }
      return j < ks.length && one(segs[i], ks[j]) && go(i + 1, j + 1);
    };
    return go(0, 0);
  };
}
