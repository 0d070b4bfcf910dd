// Units for the browser tests of the pages (trend, realtime, diff) while
// canopyd's GET /api/units is being written on another branch: when the
// server answers 404 (no such endpoint yet), the page's /api/units requests
// are answered here with `units` (a key -> unit object; the answer holds the
// keys the request's pattern selects), so that the pages' formatting is
// tested and the browser logs no 404. When canopyd has the endpoint and no
// units are given, its own answers are used.

export async function stubUnits(page, server, units = null) {
  const probe = await server.json('/api/units?key=' + encodeURIComponent('**'));
  if (probe.status !== 404 && units === null) return false;
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
