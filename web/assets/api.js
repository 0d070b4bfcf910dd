// canopy's browser client: requests with readable errors, key escaping, the
// long-poll loop (jittered reconnect, resume from seq, reset, hidden tabs),
// patterns, number formatting. No framework, no bundler.

export class ApiError extends Error {
  constructor(message, status = 0, body = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;  // 0: the server could not be reached
    this.body = body;
  }
}

export function isAbort(e) {
  return e && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

// Fetches JSON. Any failure becomes an ApiError with a message a person can
// read: the server's own {"error": ...} when there is one.
export async function request(url, {method = 'GET', body, signal, timeoutMs} = {}) {
  const init = {method, signal, cache: 'no-store', headers: {}};
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let timer = null;
  if (timeoutMs && !signal) {
    const ctl = new AbortController();
    init.signal = ctl.signal;
    timer = setTimeout(() => ctl.abort(new DOMException('timed out', 'TimeoutError')), timeoutMs);
  }
  let r;
  try {
    r = await fetch(url, init);
  } catch (e) {
    if (timer) clearTimeout(timer);
    if (isAbort(e) && e.name === 'AbortError' && signal && signal.aborted) throw e;
    if (e && e.name === 'TimeoutError') throw new ApiError('the server did not answer in time', 0);
    throw new ApiError('cannot reach the server', 0);
  }
  let text;
  try {
    text = await r.text();
  } catch (e) {
    if (timer) clearTimeout(timer);
    if (signal && signal.aborted) throw e;
    throw new ApiError('the connection to the server broke', 0);
  }
  if (timer) clearTimeout(timer);
  let parsed = null;
  if (text) {
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  }
  if (!r.ok) {
    const reason = parsed && typeof parsed.error === 'string' ? parsed.error
      : `${r.status} ${r.statusText || 'error'}`.trim();
    throw new ApiError(reason, r.status, parsed);
  }
  if (parsed === undefined) throw new ApiError(`${url.split('?')[0]} answered something that is not JSON`, r.status);
  return parsed;
}

// --- keys ---------------------------------------------------------------

// A key in a URL path (/api/q/<key>.json, /api/views/<name>, /diff/<a>/<b>):
// every reserved character is percent-encoded; commas stay readable.
export function pathKey(key) {
  return encodeURIComponent(key).replace(/%2C/gi, ',');
}

// Query strings: several key= allowed.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    if (Array.isArray(value)) { for (const v of value) if (v !== '') q.append(name, v); }
    else q.append(name, String(value));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export function splitKey(key) {
  return key === '' ? [] : key.split(',');
}

// Checks a key as the server would (segments 1-255 bytes, no control
// characters, at most 32 segments). Returns null or the reason.
export function keyProblem(key, {pattern = false} = {}) {
  if (key === '') return null;
  const segs = key.split(',');
  if (segs.length > 32) return 'a key has at most 32 segments';
  for (const s of segs) {
    if (s === '' && !pattern) return 'a key has an empty segment';
    if (new TextEncoder().encode(s).length > 255) return 'a segment is longer than 255 bytes';
    if (/[\u0000-\u001f\u007f]/.test(s)) return 'a key may not contain control characters';
  }
  return null;
}

// Patterns as the server reads them: '' or '*' matches one segment, '*' in a
// segment is a glob, '**' matches any number of segments. A key "matches" a
// pattern when the pattern matches it or one of its ancestors (reads return
// the leaves under every matched node).
export function compilePattern(pattern) {
  const segs = splitKey(pattern).map(s => {
    if (s === '**') return '**';
    if (s === '' || s === '*') return '*';
    if (!s.includes('*')) return s;
    const re = '^' + s.split('*').map(p => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$';
    return new RegExp(re);
  });
  const one = (p, s) => p === '*' || (p instanceof RegExp ? p.test(s) : p === s);
  // Does the pattern match a prefix of key (so key is at or under a match)?
  return function matches(key) {
    const ks = splitKey(key);
    const memo = new Map();
    const go = (i, j) => {  // pattern index i, key index j
      if (i === segs.length) return true;  // matched a prefix: key is under it
      const id = i * 64 + j;
      if (memo.has(id)) return memo.get(id);
      let ok;
      if (segs[i] === '**') {
        ok = false;
        for (let jj = j; jj <= ks.length && !ok; jj++) ok = go(i + 1, jj);
      } else {
        ok = j < ks.length && one(segs[i], ks[j]) && go(i + 1, j + 1);
      }
      memo.set(id, ok);
      return ok;
    };
    return go(0, 0);
  };
}

// --- values -------------------------------------------------------------

export function isTimer(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'count' in v;
}

export function fmtNum(v) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e15 || a < 1e-4)) return v.toExponential(3);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  const digits = a >= 1000 ? 1 : a >= 1 ? 3 : 5;
  return (+v.toFixed(digits)).toLocaleString('en-US', {maximumFractionDigits: digits});
}

export function fmtValue(v) {
  if (v === undefined) return '';
  if (v === null) return '—';
  if (typeof v === 'number') return fmtNum(v);
  if (isTimer(v)) return `${fmtNum(v.mean)} · p99 ${fmtNum(v.p99)}`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function fmtTime(t, withSeconds = true) {
  const d = new Date(t * 1000);
  const pad = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}` +
    (withSeconds ? ':' + pad(d.getSeconds()) : '');
}

export function fmtDuration(s) {
  s = Math.round(s);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${+(s / 3600).toFixed(1)} h`;
  if (s < 2 * 365 * 86400) return `${+(s / 86400).toFixed(1)} d`;
  return `${+(s / (365 * 86400)).toFixed(1)} y`;
}

// "Natural" order: numbers by value, then names.
const collator = new Intl.Collator('en', {numeric: true, sensitivity: 'base'});
export const naturalCompare = (a, b) => collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);

export function sleep(ms, signal) {
  return new Promise(resolve => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
  });
}

// Resolves when the tab is visible (at once if it is).
export function whenVisible(signal) {
  if (!document.hidden) return Promise.resolve();
  return new Promise(resolve => {
    const done = () => {
      if (document.hidden && !(signal && signal.aborted)) return;
      document.removeEventListener('visibilitychange', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    if (signal) signal.addEventListener('abort', done, {once: true});
  });
}

// --- the long-poll loop -------------------------------------------------
//
// new Live({keys, onItems, onState}).start()
//   onItems(items, {initial, reset, truncated}): items as the server sends
//     them ([{"key": value}], null for a removed leaf). initial and reset mean
//     "this is every leaf under the keys: drop what you have".
//   onState(state, detail): 'connecting' | 'live' | 'lost' | 'paused' | 'error'.
// Reads /get once, then loops on /pull from the returned seq. After a failure
// it waits 0.3 s, 0.6 s, ... up to 15 s, each times a random factor in
// [0.5, 1.5), and resumes from the seq it holds (a server restart keeps the
// seq; one it cannot honour answers "reset"). A hidden tab stops polling (the
// request in flight is aborted) and resumes from its seq when shown again.
export class Live {
  constructor({keys = [], onItems, onState, pullTimeout = 25}) {
    this.keys = keys;
    this.onItems = onItems;
    this.onState = onState || (() => {});
    this.pullTimeout = pullTimeout;
    this.seq = null;
    this.ctl = null;
    this.failures = 0;
    this.state = null;
    this.stopped = true;
    this._vis = () => { if (document.hidden && this.ctl) this.ctl.abort(); };
  }

  start() {
    this.stop();
    this.stopped = false;
    this.seq = null;
    this.failures = 0;
    document.addEventListener('visibilitychange', this._vis);
    const generation = this.generation = (this.generation || 0) + 1;
    this._loop(generation).catch(e => this._set('error', String(e && e.message || e)));
    return this;
  }

  stop() {
    this.stopped = true;
    this.generation = (this.generation || 0) + 1;
    document.removeEventListener('visibilitychange', this._vis);
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  _set(state, detail) {
    if (this.state === state && state !== 'lost' && state !== 'live') return;
    this.state = state;
    this.onState(state, detail);
  }

  async _loop(generation) {
    const alive = () => generation === this.generation;
    this._set('connecting');
    while (alive()) {
      if (document.hidden) {
        this._set('paused');
        await whenVisible();
        if (!alive()) return;
      }
      const ctl = this.ctl = new AbortController();
      try {
        if (this.seq === null) {
          const body = await request('/get' + query({key: this.keys}), {signal: ctl.signal});
          if (!alive()) return;
          this.seq = body.seq;
          this.onItems(body.items || [], {initial: true, truncated: !!body.truncated});
        } else {
          // After a failure the first poll answers at once (timeout=0), so
          // that the page shows it is live again without waiting for a change.
          const timeout = this.state === 'live' ? this.pullTimeout : 0;
          const body = await request('/pull' + query({key: this.keys, since: this.seq, timeout}),
            {signal: ctl.signal});
          if (!alive()) return;
          if (body.reset) this.onItems(body.items || [], {reset: true, truncated: !!body.truncated});
          else if (body.items && body.items.length) this.onItems(body.items, {});
          this.seq = body.seq;
        }
        this.failures = 0;
        this._set('live', {seq: this.seq});
      } catch (e) {
        if (!alive()) return;
        if (ctl.signal.aborted) continue;  // hidden: the loop pauses above
        if (e instanceof ApiError && e.status === 400) {
          // A bad pattern: retrying cannot help.
          this._set('error', e.message);
          return;
        }
        this.failures++;
        const base = Math.min(15000, 300 * 2 ** (this.failures - 1));
        const wait = Math.round(base * (0.5 + Math.random()));
        this._set('lost', {message: e.message, retryMs: wait, failures: this.failures});
        await sleep(wait);
      } finally {
        if (this.ctl === ctl) this.ctl = null;
      }
    }
  }
}
