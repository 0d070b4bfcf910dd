// Node and Aggregator: what one node of the tree holds and shows (its
// live value under an action), and how an interior node folds its
// children's values into an aggregate. The tree that creates and changes
// nodes is in core/tree.cc.
//
// Threads: nodes belong to their Tree, which belongs to one thread (the
// caller's; in canopyd the event-loop thread): everything here runs there.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <memory>
#include <vector>

#include "canopy/tree.h"

namespace canopy {
// ---------------------------------------------------------------- Node

Action Node::EffectiveAction() const {
  for (const Node* n = this; n != nullptr; n = n->parent_) {
    if (n->own_action_ != Action::kInherit) return n->own_action_;
  }
  return Action::kLast;
}

absl::string_view Node::StatedUnit() const {
  for (const Node* n = this; n != nullptr; n = n->parent_) {
    if (n->extra_ && n->extra_->unit) return *n->extra_->unit;
  }
  return {};
}

std::vector<const Node*> Node::SortedChildren() const {
  std::vector<const Node*> out;
  if (!children_) return out;
  // Sorted by (name, node) pairs: a comparison then reads the two names
  // only, not the two nodes first (half the cache misses on a wide node).
  std::vector<std::pair<absl::string_view, const Node*>> named;
  named.reserve(children_->size());
  for (Node* child : *children_) named.emplace_back(child->name(), child);
  std::sort(named.begin(), named.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  out.reserve(named.size());
  for (const auto& [name, child] : named) out.push_back(child);
  return out;
}

const Node* Node::FindChild(absl::string_view name) const {
  if (!children_) return nullptr;
  auto it = children_->find(name);
  return it == children_->end() ? nullptr : *it;
}

LiveValue Node::Live(Action action, int64_t now, int step) const {
  LiveValue v;
  if (!has_value_) return v;
  v.has = true;
  if (is_text_) {
    v.is_text = true;
    v.text = extra_->text;
    return v;
  }
  switch (action) {
    case Action::kAdd: {
      v.value = total_;
      v.has_rate = true;
      uint32_t now_w = static_cast<uint32_t>(now / step);
      if (cur_.index + 1 == now_w) {
        v.rate = cur_.sum / step;
      } else if (cur_.index == now_w && prev_index_ + 1 == now_w) {
        v.rate = prev_ / step;
      }
      break;
    }
    case Action::kTimer:
      if (extra_ && extra_->sketch && !extra_->sketch->empty()) {
        v.sketch = extra_->sketch.get();
        v.value = v.sketch->sum() / v.sketch->count();
        break;
      }
      v.value = cur_.count ? cur_.sum / cur_.count : cur_.last;
      break;
    case Action::kSet:
      v.value = extra_ && extra_->hll ? extra_->hll->Estimate() : 0;
      break;
    case Action::kAvg:
      v.value = cur_.count ? cur_.sum / cur_.count : cur_.last;
      break;
    case Action::kMax:
      v.value = cur_.max;
      break;
    case Action::kMin:
      v.value = cur_.min;
      break;
    default:
      v.value = cur_.last;
      break;
  }
  return v;
}

// ---------------------------------------------------------------- Aggregator

void Aggregator::Add(double v) {
  switch (action_) {
    case Action::kAdd:
    case Action::kAvg:
      acc_ += v;
      break;
    case Action::kMax:
      acc_ = n_ == 0 ? v : std::max<long double>(acc_, v);
      break;
    case Action::kMin:
      acc_ = n_ == 0 ? v : std::min<long double>(acc_, v);
      break;
    default:
      return;
  }
  ++n_;
}

void Aggregator::Add(const LiveValue& v) {
  if (!v.has || v.is_text) return;
  if (action_ == Action::kTimer) {
    const Sketch* child = v.merged ? v.merged.get() : v.sketch;
    if (child == nullptr) return;
    if (!merged_)
      merged_ = std::make_shared<Sketch>(child->relative_accuracy());
    if (merged_->Merge(*child).ok()) ++n_;
    return;
  }
  Add(v.value);
}

LiveValue Aggregator::Result() const {
  LiveValue out;
  if (action_ == Action::kTimer && merged_ && !merged_->empty()) {
    out.has = true;
    out.merged = merged_;
    out.value = merged_->sum() / merged_->count();
    return out;
  }
  if (has()) {
    out.has = true;
    out.value = value();
  }
  return out;
}

bool Aggregator::has() const {
  switch (action_) {
    case Action::kAdd:
    case Action::kAvg:
    case Action::kMax:
    case Action::kMin:
      return n_ > 0;
    default:
      return false;
  }
}

double Aggregator::value() const {
  const long double v = action_ == Action::kAvg && n_ > 0
                            ? acc_ / static_cast<long double>(n_)
                            : acc_;
  if (std::isnan(v)) return v;  // a NaN child (never made by the tree)
  return static_cast<double>(std::clamp<long double>(v, -DBL_MAX, DBL_MAX));
}

}  // namespace canopy
