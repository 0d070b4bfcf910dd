// The tree's side of history: the windows of leaves that have ended (or
// were closed early, by a later sample, a removal or a clean stop), late
// samples merged per leaf and window, and the hand-over of all of these to
// the trend store as batches of ClosedWindow (Tree::CloseWindows).
//
// Threads: a Tree belongs to one thread (the caller's; in canopyd the
// event-loop thread); everything here runs there. The batches it hands
// over are plain values, free to move to another thread.
#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/tree.h"

namespace canopy {

void Tree::OpenWindow(Node* leaf, uint32_t window) {
  leaf->cur_ = Window{};
  leaf->cur_.index = window;
  leaf->flushed_ = false;
  leaf->replayed_ = false;
  if (options_.history && !leaf->listed_) {
    leaf->listed_ = true;
    open_windows_.push_back(leaf);
  }
}

void Tree::EmitWindow(Node* leaf, Action action) {
  const Window& cur = leaf->cur_;
  ClosedWindow cw;
  cw.key = KeyOf(leaf);
  cw.start = static_cast<int64_t>(cur.index) * options_.step_seconds;
  cw.action = action;
  cw.count = cur.count;
  cw.sum = cur.sum;
  cw.min = cur.min;
  cw.max = cur.max;
  cw.last = cur.last;
  if (leaf->extra_) {
    if (action == Action::kTimer && leaf->extra_->sketch) {
      cw.count = leaf->extra_->sketch->count();
      cw.sum = leaf->extra_->sketch->sum();
      leaf->extra_->sketch->Serialize(&cw.blob);
    } else if (action == Action::kSet && leaf->extra_->hll) {
      leaf->extra_->hll->Serialize(&cw.blob);
    }
  }
  cw.replayed = leaf->replayed_;
  closed_.push_back(std::move(cw));
  leaf->flushed_ = true;
}

// Moves closed_ to `out`: whole when `out` is empty (no copy, and the
// batch leaves with the exact capacity it was reserved at), else appended.
void Tree::HandOver(std::vector<ClosedWindow>* out) {
  if (out->empty()) {
    out->swap(closed_);
  } else {
    out->reserve(out->size() + closed_.size());
    for (ClosedWindow& cw : closed_) out->push_back(std::move(cw));
  }
  // Whatever capacity is left goes too: a batch of ten million windows
  // would otherwise stay reserved here between window ends.
  std::vector<ClosedWindow>().swap(closed_);
}

void Tree::SettleOpenWindows() {
  if (close_read_ == close_keep_) {
    close_read_ = close_keep_ = 0;
    return;
  }
  open_windows_.erase(open_windows_.begin() + static_cast<long>(close_keep_),
                      open_windows_.begin() + static_cast<long>(close_read_));
  close_read_ = close_keep_ = 0;
}

bool Tree::CloseWindows(int64_t now, std::vector<ClosedWindow>* out,
                        size_t max_windows) {
  uint32_t w_now = static_cast<uint32_t>(now / options_.step_seconds);
  // Counted first, so that the batch is reserved at its size: grown by
  // doubling it would hold up to twice its windows (and three times while
  // it moves).
  size_t ending = 0;
  for (size_t i = close_read_; i < open_windows_.size() && ending < max_windows;
       ++i) {
    const Node* n = open_windows_[i];
    ending += n->cur_.index < w_now && !n->flushed_ && n->cur_.count > 0;
  }
  closed_.reserve(closed_.size() + ending);
  // Compacted in place, resumable: leaves listed meanwhile are appended
  // behind the pass and met by it.
  size_t emitted = 0;
  while (close_read_ < open_windows_.size() && emitted < max_windows) {
    Node* n = open_windows_[close_read_++];
    if (n->cur_.index < w_now) {
      if (!n->flushed_ && n->cur_.count > 0) {
        EmitWindow(n, n->EffectiveAction());
        ++emitted;
      }
      n->listed_ = false;
    } else {
      open_windows_[close_keep_++] = n;
    }
  }
  const bool more = close_read_ < open_windows_.size();
  if (!more) {
    open_windows_.resize(close_keep_);
    close_read_ = close_keep_ = 0;
  }
  SealLateWindows();
  HandOver(out);
  return more;
}

void Tree::SealLateWindows() {
  for (auto& [where, lw] : late_) {
    ClosedWindow& cw = closed_[lw.index];
    if (lw.sketch) lw.sketch->Serialize(&cw.blob);
    if (lw.hll) lw.hll->Serialize(&cw.blob);
  }
  late_.clear();
}

void Tree::CloseAllWindows(std::vector<ClosedWindow>* out) {
  SettleOpenWindows();
  closed_.reserve(closed_.size() + open_windows_.size());
  for (Node* n : open_windows_) {
    if (!n->flushed_ && n->cur_.count > 0) {
      EmitWindow(n, n->EffectiveAction());
    }
  }
  SealLateWindows();
  HandOver(out);
}

void Tree::ForgetRemoved() {
  if (removed_listed_.empty()) return;
  SettleOpenWindows();
  size_t keep = 0;
  for (Node* n : open_windows_) {
    if (!removed_listed_.contains(n)) open_windows_[keep++] = n;
  }
  open_windows_.resize(keep);
  removed_listed_.clear();
}

// A sample dated into a window already handed over (or ended): history
// merges it; the live value shows the open window and is left alone. Late
// samples of one window are merged here first (as the store would merge
// them: counts and sums add, the last one is the latest).
void Tree::AddLateSample(Node* leaf, Action action, double value, double weight,
                         absl::string_view member, uint32_t window) {
  const double v = action == Action::kAdd ? value * weight : value;
  const double count = action == Action::kTimer ? weight : 1;
  const double sum = action == Action::kTimer ? value * weight
                     : action == Action::kSet ? 1
                                              : v;
  const double point = action == Action::kSet ? 1 : v;
  auto [it, fresh] = late_.try_emplace(std::make_pair(leaf, window));
  LateWindow& lw = it->second;
  if (fresh) {
    ClosedWindow cw;
    cw.key = KeyOf(leaf);
    cw.start = static_cast<int64_t>(window) * options_.step_seconds;
    cw.action = action;
    cw.late = true;
    cw.count = count;
    cw.sum = sum;
    cw.min = cw.max = cw.last = point;
    lw.index = closed_.size();
    closed_.push_back(std::move(cw));
  } else {
    ClosedWindow& cw = closed_[lw.index];
    cw.count += count;
    cw.sum += sum;
    cw.min = std::min(cw.min, point);
    cw.max = std::max(cw.max, point);
    cw.last = point;
  }
  if (action == Action::kTimer) {
    if (!lw.sketch) lw.sketch = std::make_unique<Sketch>();
    lw.sketch->Add(value, weight);
  } else if (action == Action::kSet) {
    if (!lw.hll) lw.hll = std::make_unique<Hll>();
    lw.hll->Add(member.empty() ? absl::string_view(absl::StrCat(value))
                               : member);
  }
  if (action == Action::kAdd) leaf->total_ += value * weight;
  if (leaf->cur_.count == 0) leaf->cur_.last = value;
}

}  // namespace canopy
