// Taking nodes out of the tree: Tree::Remove (a node and its subtree),
// Tree::Expire (leaves not sampled lately, and the interior nodes they
// leave empty), and the tombstones that let a watcher learn what was
// removed since its seq.
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/memory.h"
#include "canopy/tree.h"
#include "core/node_pool.h"

namespace canopy {

size_t Tree::ReleaseMemory() {
  size_t released = pool_->Release();
  ReleaseFreeMemory();
  return released;
}

size_t Tree::Expire(const Pattern& pattern, int64_t older_than,
                    QueryBudget* budget, std::string* resume) {
  uint32_t limit = static_cast<uint32_t>(std::max<int64_t>(0, older_than) /
                                         options_.step_seconds);
  std::vector<Node*> stale;
  std::string last;  // the last leaf looked at
  const absl::string_view after = resume ? *resume : absl::string_view();
  const bool done = Collect(
      pattern, 0,
      [&](const LeafView& leaf) {
        if (leaf.node->cur_.index < limit) {
          stale.push_back(const_cast<Node*>(leaf.node));
          if (budget != nullptr && !budget->Charge(kExpireCost)) {
            last.assign(leaf.key.data(), leaf.key.size());
            return false;
          }
        }
        if (resume != nullptr) last.assign(leaf.key.data(), leaf.key.size());
        return true;
      },
      budget, after);
  if (resume != nullptr) {
    // A slice that stopped before its first leaf keeps its place.
    if (done) {
      resume->clear();
    } else if (!last.empty()) {
      *resume = std::move(last);
    }
  }
  if (stale.empty()) return 0;
  SealLateWindows();
  key_cache_.clear();
  ++removal_epoch_;
  ++seq_;
  for (Node* leaf : stale) {
    if (options_.history && !leaf->flushed_ && leaf->cur_.count > 0) {
      EmitWindow(leaf, leaf->EffectiveAction());
    }
    tombstones_.push_back(Tombstone{seq_, KeyOf(leaf)});
    --leaf_count_;
    leaf->has_value_ = false;
    leaf->is_text_ = false;
    leaf->seq_ = 0;
    if (leaf->extra_) {
      leaf->extra_->text.clear();
      leaf->extra_->text.shrink_to_fit();
      leaf->extra_->sketch.reset();
      leaf->extra_->hll.reset();
    }
    // Give back the leaf and every ancestor it leaves empty.
    Node* n = leaf;
    while (n->parent_ != nullptr && n->child_count() == 0 && !n->has_value_ &&
           !(n->extra_ && (n->extra_->watch || !n->extra_->markers.empty()))) {
      Node* parent = n->parent_;
      parent->children_->erase(n);
      if (parent->children_->empty()) parent->children_.reset();
      --node_count_;
      ++nodes_removed_;
      if (n->listed_) removed_listed_.insert(n);
      FreeNode(n);
      n = parent;
    }
    Propagate(n);
  }
  ForgetRemoved();
  while (tombstones_.size() > options_.max_tombstones) {
    tombstone_floor_ = tombstones_.front().seq;
    tombstones_.pop_front();
  }
  return stale.size();
}

void Tree::DeleteSubtree(Node* node, std::string* path, size_t* leaves) {
  // Iterative post-order would be longer; depth is bounded by kMaxSegments.
  size_t keep = path->size();
  if (node->children_) {
    for (Node* child : *node->children_) {
      path->push_back(',');
      path->append(child->name().data(), child->name().size());
      DeleteSubtree(child, path, leaves);
      path->resize(keep);
    }
  }
  if (node->has_value_) {
    ++*leaves;
    --leaf_count_;
    tombstones_.push_back(Tombstone{seq_, *path});
    if (options_.history && !node->flushed_ && node->cur_.count > 0) {
      EmitWindow(node, node->EffectiveAction());
    }
  }
  if (node->listed_) removed_listed_.insert(node);
  if (node->extra_ && node->extra_->watch && observer_ != nullptr) {
    observer_->OnWatchRemoved(node->extra_->watch);
  }
  --node_count_;
  ++nodes_removed_;
  FreeNode(node);
}

absl::StatusOr<size_t> Tree::Remove(const KeySegments& segments) {
  if (segments.empty()) {
    return absl::InvalidArgumentError("the root cannot be removed");
  }
  Node* node = const_cast<Node*>(Find(segments));
  if (node == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no node \"", JoinKey(segments).substr(0, 200), "\""));
  }
  SealLateWindows();
  key_cache_.clear();
  ++removal_epoch_;
  ++seq_;
  Node* parent = node->parent_;
  parent->children_->erase(node);
  std::string path = JoinKey(segments);
  size_t leaves = 0;
  DeleteSubtree(node, &path, &leaves);
  ForgetRemoved();
  Propagate(parent);
  while (tombstones_.size() > options_.max_tombstones) {
    tombstone_floor_ = tombstones_.front().seq;
    tombstones_.pop_front();
  }
  return leaves;
}

}  // namespace canopy
