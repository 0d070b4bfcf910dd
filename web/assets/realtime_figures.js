// How the live tree page (realtime.js) writes its figures: a leaf's value
// with its unit (a timer as p50 and p99, a set as distinct members), an
// interior node's aggregate only where it means something, a counter's
// rate, the trend link of a node, and change flashes that fade. Runs on the
// browser's main thread; holds the units canopyd said (GET /api/units).

import {query, fmtValue, isTimer} from './api.js';
import {flash} from './page.js';
import {formatWithUnit} from './units.js';
import {unitUnder} from './trend_chart.js';

const FLASH_GAP_MS = 1500; // a value changing faster flashes at most this often

// A node's trend: counters as rates, timers as their p99.
export function trendHref(node) {
  const fn = node.action === 'add' ? 'rate' : node.action === 'timer' || isTimer(node.value) ? 'p99' : null;
  return '/trend/view/' + query({key: node.key, fn});
}

// Flashes a changed figure, but not more often than FLASH_GAP_MS: a value
// that changes faster than the flash lasts would stay lit and never fade.
export function flashNow(e) {
  const now = performance.now();
  if (e._flashAt !== undefined && now - e._flashAt < FLASH_GAP_MS) return;
  e._flashAt = now;
  flash(e);
}

// An interior node's aggregate, by its action: the sum of counters, the
// merged distribution of timers, the mean, min or max of leaves that share
// a unit. Never the mean of unrelated figures (idle, user and percent).
const AGG_LABEL = {add: 'Σ', avg: 'mean', max: 'max', min: 'min'};

export class Figures {
  constructor() {
    this.units = new Map();  // leaf key -> unit (empty until canopyd says)
    this.version = 0;        // bumped when the units change
  }

  // Takes a new map of units; true if it differs from the one held.
  setUnits(next) {
    const same = next.size === this.units.size && [...next].every(([k, u]) => this.units.get(k) === u);
    if (same) return false;
    this.units = next;
    this.version++;
    return true;
  }

  unitOf(node) {
    return this.units.get(node.key) || (isTimer(node.value) ? 'ms' : '');
  }

  // The unit every leaf under `node` shares: '' when none says one, null
  // when they differ. Cached on the node until the units or the tree
  // (`treeVersion`) change.
  subtreeUnit(node, treeVersion) {
    const ver = this.version + ':' + treeVersion;
    if (node._uVer === ver) return node._unit;
    let unit = node.hasValue ? this.units.get(node.key) || '' : undefined;
    for (const c of node.children.values()) {
      const u = this.subtreeUnit(c, treeVersion);
      if (u === null || (unit !== undefined && u !== unit)) { unit = null; break; }
      unit = u;
    }
    node._uVer = ver;
    node._unit = unit === undefined ? '' : unit;
    return node._unit;
  }

  leafText(node) {
    const v = node.value;
    if (isTimer(v)) {
      const u = this.unitOf(node);
      return `p50 ${formatWithUnit(v.p50, u)} · p99 ${formatWithUnit(v.p99, u)}`;
    }
    if (typeof v === 'number') {
      const t = formatWithUnit(v, this.unitOf(node));
      return node.action === 'set' ? `${t} distinct` : t;
    }
    return fmtValue(v);
  }

  interiorText(node, treeVersion) {
    const v = node.agg;
    if (v === undefined || v === null) return '';
    const unit = this.subtreeUnit(node, treeVersion);
    if (unit === null) return '';
    if (isTimer(v) && node.action === 'timer') {
      return `p50 ${formatWithUnit(v.p50, unit || 'ms')} · p99 ${formatWithUnit(v.p99, unit || 'ms')}`;
    }
    if (typeof v !== 'number') return '';
    if (node.action === 'add' || ((node.action === 'avg' || node.action === 'max' || node.action === 'min') && unit !== '')) {
      return `${AGG_LABEL[node.action]} ${formatWithUnit(v, unit)}`;
    }
    return '';
  }

  rateText(node) {
    if (node.rate === undefined || node.rate === null || node.children.size) return '';
    return formatWithUnit(node.rate, unitUnder('rate', this.unitOf(node)));
  }
}
