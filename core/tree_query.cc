// Reading the tree: a node's value (its own or its children's aggregate),
// the leaves changed under a pattern since a seq (Tree::Collect, what
// /get and /pull answer from), and the keys removed since a seq.
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "canopy/tree.h"

namespace canopy {

LiveValue Tree::ValueOf(const Node* node, Action action, int64_t now,
                        QueryBudget* budget) const {
  if (node->child_count() == 0) {
    return node->Live(action, now, options_.step_seconds);
  }
  Aggregator agg(action);
  for (Node* child : *node->children_) {
    if (budget != nullptr && !budget->Charge(1)) break;
    Action a =
        child->own_action_ != Action::kInherit ? child->own_action_ : action;
    agg.Add(ValueOf(child, a, now, budget));
  }
  return agg.Result();
}

QueryBudget::QueryBudget(const Limits& limits)
    : limits_(limits),
      left_(limits.work),
      deadline_(absl::Now() + limits.time) {}

bool QueryBudget::Exceed(bool by_work) {
  exceeded_ = true;
  by_work_ = by_work;
  return false;
}

bool QueryBudget::CheckClock() {
  checked_ = 0;
  if (absl::Now() > deadline_) return Exceed(false);
  return true;
}

absl::Status QueryBudget::Refusal() const {
  if (by_work_) {
    return absl::OutOfRangeError(absl::StrCat(
        "query too costly: it would visit more than ", limits_.work,
        " node-steps of the tree (--query_budget); narrow its key= patterns"));
  }
  return absl::OutOfRangeError(absl::StrCat(
      "query too costly: it ran past ", absl::FormatDuration(limits_.time),
      " (--query_time_ms); narrow its key= patterns"));
}

namespace {

// One walk of Collect: the pattern advanced down the tree a segment at a
// time (Pattern::Step), each node visited at most once, whatever the
// number of "**"; a matched node's subtree is emitted whole, once.
//
// A walk may resume after a key (`after`, its segments): children are in
// key order, so along that key's path the children before it are skipped
// and the nodes on it do not emit themselves (a node comes before its
// children in key order).
struct Walk {
  const Pattern& pattern;
  uint64_t since;
  const std::function<bool(const LeafView&)>& fn;
  QueryBudget* budget;
  // The cost of stepping the pattern once: its positions, at most.
  uint64_t step_cost;
  const std::vector<absl::string_view>& after;

  // Where a node stands against `after`: kFree past it (or no `after`),
  // kOnPath a strict prefix of it, kAt the key itself.
  enum Resume { kFree, kOnPath, kAt };
  // Child `c`, the segment `depth` of its key, of a parent kOnPath: false
  // if it comes before `after`, else its own place in *r.
  bool Place(const Node* c, size_t depth, Resume* r) const {
    const int cmp = c->name().compare(after[depth]);
    if (cmp < 0) return false;
    *r = cmp > 0 ? kFree : depth + 1 == after.size() ? kAt : kOnPath;
    return true;
  }

  bool Charge(uint64_t units) const {
    return budget == nullptr || budget->Charge(units);
  }

  // Sorting a node's children: a million take over a second. Charged first.
  bool ChargeSort(const Node* node) const {
    return budget == nullptr || budget->ChargeSort(node->child_count());
  }

  // Emits the leaves of a subtree changed after `since`, in key order.
  // `depth`: the node's number of segments.
  bool EmitSubtree(const Node* node, Action action, std::string* key,
                   size_t depth, Resume resume) const {
    if (node->max_seq() <= since) return true;
    if (!Charge(1)) return false;
    if (node->has_value() && node->seq() > since && resume == kFree) {
      if (!fn(LeafView{*key, node, action})) return false;
    }
    if (node->child_count() == 0) return true;
    if (!ChargeSort(node)) return false;
    size_t keep = key->size();
    for (const Node* c : node->SortedChildren()) {
      if (c->max_seq() <= since) continue;
      Resume r = kFree;
      if (resume == kOnPath && !Place(c, depth, &r)) continue;
      if (!key->empty()) key->push_back(',');
      key->append(c->name().data(), c->name().size());
      Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
      bool go_on = EmitSubtree(c, a, key, depth + 1, r);
      key->resize(keep);
      if (!go_on) return false;
    }
    return true;
  }

  // `node` (named `key`, of effective action `action`) reached with the
  // pattern at `state`.
  bool Visit(const Node* node, Action action, Pattern::State state,
             std::string* key, size_t depth, Resume resume) const {
    if (node->max_seq() <= since) return true;
    if (pattern.Accepts(state)) {
      return EmitSubtree(node, action, key, depth, resume);
    }
    if (node->child_count() == 0) return true;
    if (!Charge(step_cost)) return false;
    size_t keep = key->size();
    auto descend = [&](const Node* c) {
      if (c->max_seq() <= since) return true;
      Resume r = kFree;
      if (resume == kOnPath && !Place(c, depth, &r)) return true;
      Pattern::State next = pattern.Step(state, c->name());
      if (next == 0) return true;
      if (!key->empty()) key->push_back(',');
      key->append(c->name().data(), c->name().size());
      Action a = c->own_action() != Action::kInherit ? c->own_action() : action;
      bool go_on = Visit(c, a, next, key, depth + 1, r);
      key->resize(keep);
      return go_on;
    };
    if (const std::string* literal = pattern.OnlyLiteral(state)) {
      const Node* c = node->FindChild(*literal);
      return c == nullptr || descend(c);
    }
    // Each child is stepped: charge them, and their sorting, first.
    if (!Charge(node->child_count() * step_cost) || !ChargeSort(node)) {
      return false;
    }
    for (const Node* c : node->SortedChildren()) {
      if (!descend(c)) return false;
    }
    return true;
  }
};

}  // namespace

bool Tree::Collect(const Pattern& pattern, uint64_t since,
                   const std::function<bool(const LeafView&)>& fn,
                   QueryBudget* budget, absl::string_view after) const {
  std::vector<absl::string_view> after_segments;
  if (!after.empty()) after_segments = absl::StrSplit(after, ',');
  Walk walk{pattern,       since, fn, budget, pattern.segments().size() + 1,
            after_segments};
  std::string key;
  return walk.Visit(root_, root_->EffectiveAction(), pattern.Start(), &key, 0,
                    after_segments.empty() ? Walk::kFree : Walk::kOnPath);
}

void Tree::CollectRemoved(const Pattern& pattern, uint64_t since,
                          const std::function<void(absl::string_view key)>& fn,
                          QueryBudget* budget) const {
  size_t first = tombstones_.size();
  while (first > 0 && tombstones_[first - 1].seq > since) --first;
  const uint64_t step_cost = pattern.segments().size() + 1;
  for (size_t i = first; i < tombstones_.size(); ++i) {
    const std::string& key = tombstones_[i].key;
    absl::StatusOr<KeySegments> segs = SplitKey(key);
    if (!segs.ok()) continue;
    if (budget != nullptr && !budget->Charge((segs->size() + 1) * step_cost)) {
      return;
    }
    if (pattern.Selects(*segs)) fn(key);
  }
}

}  // namespace canopy
