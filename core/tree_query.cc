// Reading the tree: a node's value (its own or its children's aggregate),
// the leaves changed under a pattern since a seq (Tree::Collect, what
// /get and /pull answer from), and the keys removed since a seq.
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "canopy/tree.h"

namespace canopy {

LiveValue Tree::ValueOf(const Node* node, Action action, int64_t now) const {
  if (node->child_count() == 0) {
    return node->Live(action, now, options_.step_seconds);
  }
  Aggregator agg(action);
  for (Node* child : *node->children_) {
    Action a =
        child->own_action_ != Action::kInherit ? child->own_action_ : action;
    agg.Add(ValueOf(child, a, now));
  }
  return agg.Result();
}

namespace {

struct MatchContext {
  const std::vector<Pattern::Segment>* pattern;
  uint64_t since;
  std::vector<const Node*>* matched;
};

void FindMatches(const MatchContext& ctx, const Node* node, size_t pi) {
  if (node->max_seq() <= ctx.since) return;
  const std::vector<Pattern::Segment>& pat = *ctx.pattern;
  if (pi == pat.size()) {
    ctx.matched->push_back(node);
    return;
  }
  const Pattern::Segment& seg = pat[pi];
  switch (seg.kind) {
    case Pattern::Kind::kLiteral:
      if (const Node* c = node->FindChild(seg.text)) {
        FindMatches(ctx, c, pi + 1);
      }
      return;
    case Pattern::Kind::kAnyDepth:
      FindMatches(ctx, node, pi + 1);
      for (const Node* c : node->SortedChildren()) FindMatches(ctx, c, pi);
      return;
    case Pattern::Kind::kAnyOne:
      for (const Node* c : node->SortedChildren()) FindMatches(ctx, c, pi + 1);
      return;
    case Pattern::Kind::kGlob:
      for (const Node* c : node->SortedChildren()) {
        if (GlobMatch(seg.text, c->name())) FindMatches(ctx, c, pi + 1);
      }
      return;
  }
}

// Emits the leaves of a subtree changed after `since`, in key order.
bool EmitSubtree(const Node* node, Action action, uint64_t since,
                 std::string* key,
                 const std::function<bool(const LeafView&)>& fn) {
  if (node->max_seq() <= since) return true;
  if (node->has_value() && node->seq() > since) {
    if (!fn(LeafView{*key, node, action})) return false;
  }
  if (node->child_count() == 0) return true;
  size_t keep = key->size();
  for (const Node* c : node->SortedChildren()) {
    if (c->max_seq() <= since) continue;
    if (!key->empty()) key->push_back(',');
    key->append(c->name().data(), c->name().size());
    Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
    bool go_on = EmitSubtree(c, a, since, key, fn);
    key->resize(keep);
    if (!go_on) return false;
  }
  return true;
}

}  // namespace

bool Tree::Collect(const Pattern& pattern, uint64_t since,
                   const std::function<bool(const LeafView&)>& fn) const {
  std::vector<const Node*> matched;
  MatchContext ctx{&pattern.segments(), since, &matched};
  FindMatches(ctx, root_, 0);
  if (matched.size() > 1) {
    // "**" can reach a node twice, or a node and its ancestor: keep each
    // subtree once.
    absl::flat_hash_set<const Node*> set(matched.begin(), matched.end());
    std::vector<const Node*> kept;
    absl::flat_hash_set<const Node*> emitted;
    for (const Node* n : matched) {
      bool under = false;
      for (const Node* p = n->parent(); p != nullptr; p = p->parent()) {
        if (set.contains(p)) {
          under = true;
          break;
        }
      }
      if (!under && emitted.insert(n).second) kept.push_back(n);
    }
    matched.swap(kept);
  }
  std::string key;
  for (const Node* n : matched) {
    key = KeyOf(n);
    if (!EmitSubtree(n, n->EffectiveAction(), since, &key, fn)) return false;
  }
  return true;
}

void Tree::CollectRemoved(
    const Pattern& pattern, uint64_t since,
    const std::function<void(absl::string_view key)>& fn) const {
  size_t first = tombstones_.size();
  while (first > 0 && tombstones_[first - 1].seq > since) --first;
  for (size_t i = first; i < tombstones_.size(); ++i) {
    const std::string& key = tombstones_[i].key;
    absl::StatusOr<KeySegments> segs = SplitKey(key);
    if (!segs.ok()) continue;
    for (size_t len = 0; len <= segs->size(); ++len) {
      if (pattern.Matches(absl::MakeConstSpan(segs->data(), len))) {
        fn(key);
        break;
      }
    }
  }
}

}  // namespace canopy
