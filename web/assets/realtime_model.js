// The live tree page's model (realtime.js): the leaves read from /get and
// /pull as a tree of nodes, each with its value, the action, rate and
// aggregate canopyd's meta gives, and the row showing it (if on screen).
// Runs on the browser's main thread.

import {splitKey, naturalCompare} from './api.js';

export class TNode {
  constructor(name, key, parent) {
    this.name = name;
    this.key = key;
    this.parent = parent;
    this.depth = parent ? parent.depth + 1 : 0;
    this.children = new Map();
    this.hasValue = false;
    this.value = undefined;
    this.agg = undefined;     // an interior node's aggregate, from meta
    this.action = undefined;
    this.rate = undefined;
    this.leaves = 0;          // leaves at or under this node
    this.row = null;
    this.sorted = null;       // children in display order, cached
  }
  sortedChildren() {
    if (!this.sorted) this.sorted = [...this.children.values()].sort((a, b) => naturalCompare(a.name, b.name));
    return this.sorted;
  }
}

export class Model {
  // onDrop(node): a node left the tree (its row, if any, is to go).
  constructor(onDrop = () => {}) {
    this.onDrop = onDrop;
    this.root = new TNode('', '', null);
    this.byKey = new Map([['', this.root]]);
    this.version = 0;         // bumped whenever a node comes or goes
  }
  get leafCount() { return this.root.leaves; }

  // Sets a leaf; returns [node, structureChanged]. Nodes made on the way
  // are added to this.created (when it is a Set).
  set(key, value) {
    let node = this.byKey.get(key);
    let changed = false;
    if (!node) {
      let parent = this.root;
      const segs = splitKey(key);
      let k = '';
      for (const s of segs) {
        k = k === '' ? s : k + ',' + s;
        let child = parent.children.get(s);
        if (!child) {
          child = new TNode(s, k, parent);
          parent.children.set(s, child);
          parent.sorted = null;
          this.byKey.set(k, child);
          if (this.created) this.created.add(child);
          changed = true;
        }
        parent = child;
      }
      node = parent;
    }
    if (!node.hasValue) {
      node.hasValue = true;
      for (let n = node; n; n = n.parent) n.leaves++;
      changed = true;
    }
    if (changed) this.version++;
    node.value = value;
    return [node, changed];
  }

  // Removes a leaf's value and prunes emptied nodes; returns true if anything went.
  remove(key) {
    const node = this.byKey.get(key);
    if (!node || !node.hasValue) return false;
    node.hasValue = false;
    node.value = undefined;
    this.version++;
    for (let n = node; n; n = n.parent) n.leaves--;
    let n = node;
    while (n !== this.root && n.leaves === 0) {
      const p = n.parent;
      p.children.delete(n.name);
      p.sorted = null;
      this.dropSubtree(n);
      n = p;
    }
    return true;
  }

  dropSubtree(n) {
    this.byKey.delete(n.key);
    this.onDrop(n);
    for (const c of n.children.values()) this.dropSubtree(c);
  }

  leaves() {
    const out = [];
    const walk = n => {
      if (n.hasValue) out.push(n);
      for (const c of n.sortedChildren()) walk(c);
    };
    walk(this.root);
    return out;
  }
}
