// SpaceSaving and TopKeys: see top_k.h.
//
// Threads: none of its own; an instance belongs to one pipe, used by one
// thread at a time.
#include "pipes/top_k.h"

#include <algorithm>
#include <utility>

namespace canopy {

SpaceSaving::SpaceSaving(size_t capacity)
    : capacity_(std::max<size_t>(1, capacity)) {
  entries_.reserve(capacity_);
  heap_.reserve(capacity_);
  index_.reserve(capacity_);
}

void SpaceSaving::Swap(uint32_t a, uint32_t b) {
  std::swap(heap_[a], heap_[b]);
  entries_[heap_[a]].heap_pos = a;
  entries_[heap_[b]].heap_pos = b;
}

void SpaceSaving::SiftDown(uint32_t pos) {
  const uint32_t n = static_cast<uint32_t>(heap_.size());
  while (true) {
    uint32_t smallest = pos;
    const uint32_t l = 2 * pos + 1, r = 2 * pos + 2;
    if (l < n && Less(heap_[l], heap_[smallest])) smallest = l;
    if (r < n && Less(heap_[r], heap_[smallest])) smallest = r;
    if (smallest == pos) return;
    Swap(pos, smallest);
    pos = smallest;
  }
}

uint64_t SpaceSaving::Add(absl::string_view item) {
  auto it = index_.find(item);
  if (it != index_.end()) {
    Entry& e = entries_[it->second];
    ++e.count;
    SiftDown(e.heap_pos);
    return e.count - e.error;
  }
  if (entries_.size() < capacity_) {
    const uint32_t i = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
    Entry& e = entries_.back();
    e.item = std::string(item);
    e.count = 1;
    e.heap_pos = static_cast<uint32_t>(heap_.size());
    heap_.push_back(i);
    index_.emplace(e.item, i);
    // The new leaf (count 1) may be below its parent: sift it up.
    uint32_t pos = e.heap_pos;
    while (pos > 0) {
      const uint32_t parent = (pos - 1) / 2;
      if (!Less(heap_[pos], heap_[parent])) break;
      Swap(pos, parent);
      pos = parent;
    }
    return 1;
  }
  // Replace the minimum.
  const uint32_t i = heap_[0];
  Entry& e = entries_[i];
  index_.erase(e.item);
  e.item = std::string(item);
  e.error = e.count;
  ++e.count;
  index_.emplace(e.item, i);
  SiftDown(0);
  return e.count - e.error;
}

uint64_t SpaceSaving::Count(absl::string_view item) const {
  auto it = index_.find(item);
  return it == index_.end() ? 0 : entries_[it->second].count;
}

TopKeys::TopKeys(size_t k, size_t min_hits)
    : k_(k), min_hits_(std::max<size_t>(1, min_hits)), summary_(4 * k + 16) {}

bool TopKeys::Hit(absl::string_view item, std::string* evicted) {
  evicted->clear();
  if (k_ == 0) return false;
  auto it = admitted_.find(item);
  if (it != admitted_.end()) {
    ++it->second;
    return true;
  }
  const uint64_t guaranteed = summary_.Add(item);
  if (guaranteed < min_hits_) return false;
  if (admitted_.size() < k_) {
    admitted_.emplace(item, guaranteed);
    return true;
  }
  // Full: look for a weak admitted item only at powers of two of the
  // newcomer's count, so a scan of the k admitted is rare.
  if ((guaranteed & (guaranteed - 1)) != 0) return false;
  auto weakest = admitted_.end();
  for (auto a = admitted_.begin(); a != admitted_.end(); ++a) {
    if (weakest == admitted_.end() || a->second < weakest->second) weakest = a;
  }
  if (weakest == admitted_.end() || guaranteed <= 2 * weakest->second) {
    return false;
  }
  *evicted = weakest->first;
  admitted_.erase(weakest);
  admitted_.emplace(item, guaranteed);
  return true;
}

}  // namespace canopy
