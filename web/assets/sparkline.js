// Small sparklines of the last 10 minutes, from /trend. Only canvases on
// screen are fetched (an IntersectionObserver), in batches of keys per
// request, refreshed every 30 s while the tab is visible; between fetches
// the values the page reads live are appended (live()), so that a
// sparkline moves as values arrive.

import {request, query} from './api.js';

const RANGE = '-10m';
const BATCH = 40;
const REFRESH_MS = 30000;

export class Sparklines {
  constructor() {
    this.entries = new Map();      // canvas -> {key, fn}
    this.data = new Map();         // fn + '\n' + key -> {points, at}
    this.byKey = new Map();        // fn + '\n' + key -> Set(canvas)
    this.visible = new Set();
    this.queue = new Set();
    this.timer = null;
    this.inflight = 0;
    this.observer = new IntersectionObserver(list => {
      for (const e of list) {
        if (e.isIntersecting) { this.visible.add(e.target); this._want(e.target); }
        else this.visible.delete(e.target);
      }
    });
    setInterval(() => {
      if (document.hidden) return;
      for (const c of this.visible) this._want(c);
    }, REFRESH_MS / 3);
  }

  attach(canvas, key, fn = 'avg') {
    this.detach(canvas);
    const id = fn + '\n' + key;
    this.entries.set(canvas, {key, fn, id});
    if (!this.byKey.has(id)) this.byKey.set(id, new Set());
    this.byKey.get(id).add(canvas);
    const d = this.data.get(id);
    if (d) draw(canvas, d.points);
    this.observer.observe(canvas);
  }

  detach(canvas) {
    const e = this.entries.get(canvas);
    if (!e) return;
    this.entries.delete(canvas);
    const set = this.byKey.get(e.id);
    if (set) { set.delete(canvas); if (!set.size) this.byKey.delete(e.id); }
    this.visible.delete(canvas);
    this.observer.unobserve(canvas);
  }

  // A value read live for `key`: appended to its avg or p99 sparkline
  // (a rate needs a window: it waits for the next fetch), drawn at the next
  // frame, once however many values came.
  live(key, value, t = Date.now() / 1000) {
    for (const fn of ['avg', 'p99']) {
      const id = fn + '\n' + key;
      const d = this.data.get(id);
      if (!d || !this.byKey.has(id)) continue;
      const v = fn === 'p99' ? (value && typeof value === 'object' ? value.p99 : undefined) : value;
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      d.points = d.points.concat([[t, v]]);
      if (d.points.length > 2000) d.points = d.points.slice(-1000);
      this.dirty = this.dirty || new Set();
      this.dirty.add(id);
    }
    if (this.dirty && this.dirty.size && !this.frame) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        for (const id of this.dirty) {
          const d = this.data.get(id);
          for (const c of this.byKey.get(id) || []) if (this.visible.has(c)) draw(c, d.points);
        }
        this.dirty.clear();
      });
    }
  }

  _want(canvas) {
    const e = this.entries.get(canvas);
    if (!e) return;
    const d = this.data.get(e.id);
    if (d && Date.now() - d.at < REFRESH_MS) return;
    this.queue.add(e.id);
    if (!this.timer) this.timer = setTimeout(() => this._flush(), 250);
  }

  async _flush() {
    this.timer = null;
    if (this.inflight >= 2) { this.timer = setTimeout(() => this._flush(), 250); return; }
    const byFn = new Map();
    for (const id of this.queue) {
      const [fn, key] = [id.slice(0, id.indexOf('\n')), id.slice(id.indexOf('\n') + 1)];
      if (!byFn.has(fn)) byFn.set(fn, []);
      byFn.get(fn).push(key);
    }
    this.queue.clear();
    const jobs = [];
    for (const [fn, keys] of byFn) {
      for (let i = 0; i < keys.length; i += BATCH) jobs.push([fn, keys.slice(i, i + BATCH)]);
    }
    for (const [fn, keys] of jobs) {
      // Mark as fetched now so that a failure does not retry in a tight loop.
      for (const k of keys) {
        const id = fn + '\n' + k;
        const old = this.data.get(id);
        this.data.set(id, {points: old ? old.points : [], at: Date.now()});
      }
      this.inflight++;
      request('/trend' + query({key: keys, from: RANGE, to: 'now', fn}), {timeoutMs: 20000})
        .then(body => {
          const got = new Map();
          for (const s of body.series || []) got.set(s.key, s.points || []);
          for (const k of keys) {
            const id = fn + '\n' + k;
            const points = got.get(k) || [];
            this.data.set(id, {points, at: Date.now()});
            for (const c of this.byKey.get(id) || []) draw(c, points);
          }
        })
        .catch(e => {
          for (const k of keys) {
            for (const c of this.byKey.get(fn + '\n' + k) || []) c.title = 'no history: ' + e.message;
          }
        })
        .finally(() => { this.inflight--; });
    }
  }
}

export function draw(canvas, points) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 90, h = canvas.clientHeight || 20;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const pts = points.filter(p => typeof p[1] === 'number' && Number.isFinite(p[1]));
  canvas.dataset.points = String(pts.length);
  if (!pts.length) { canvas.title = canvas.title || 'no history in the last 10 minutes'; return; }
  canvas.title = `${pts.length} points, last 10 minutes`;
  const now = Date.now() / 1000;
  const t0 = now - 600, t1 = now;
  let lo = Infinity, hi = -Infinity;
  for (const [, v] of pts) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = t => ((t - t0) / (t1 - t0)) * (w - 2) + 1;
  const y = v => h - 2 - ((v - lo) / (hi - lo)) * (h - 4);
  ctx.lineWidth = 1.25;
  ctx.strokeStyle = '#2463eb';
  ctx.beginPath();
  pts.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
  ctx.stroke();
  if (pts.length === 1) {
    ctx.fillStyle = '#2463eb';
    ctx.fillRect(x(pts[0][0]) - 1, y(pts[0][1]) - 1, 2, 2);
  }
}
