// Bounded heavy hitters for the pipes: which paths (or domains) may be keys
// in the tree.
//
//   TopKeys urls(/*k=*/100, /*min_hits=*/2);
//   std::string evicted;
//   if (urls.Hit("/index.html", &evicted)) { /* write <p>,url,/index.html */ }
//   if (!evicted.empty()) { /* remove <p>,url,<evicted> from the tree */ }
//
// Counting is the space-saving algorithm (Metwally, Agrawal, El Abbadi,
// "Efficient computation of frequent and top-k elements in data streams",
// 2005) over 4·k counters: every item's count is over-estimated by at most
// its recorded error, and any item seen more than N / (4k) times out of N is
// monitored. An item is *admitted* (may be a key) once its guaranteed count
// (count − error) reaches min_hits while fewer than k are admitted, or when
// that count is more than twice the count of the weakest admitted item
// (that one is evicted, so the caller removes its key). Admitted items keep
// their own exact count from admission on, so noise in the summary never
// makes them look weak. So at most k items are admitted at any time, and
// a stream of one-off items (a hostile log's random paths) admits none.
//
// Not thread-safe; memory is O(k) whatever the stream.
#ifndef CANOPY_PIPES_TOP_K_H_
#define CANOPY_PIPES_TOP_K_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace canopy {

// The space-saving summary.
class SpaceSaving {
 public:
  explicit SpaceSaving(size_t capacity);
  SpaceSaving(const SpaceSaving&) = delete;
  SpaceSaving& operator=(const SpaceSaving&) = delete;

  // Counts one occurrence of `item`; returns its guaranteed count
  // (count − error, at least 1).
  uint64_t Add(absl::string_view item);
  // The estimated count of `item` (0 if not monitored).
  uint64_t Count(absl::string_view item) const;
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::string item;
    uint64_t count = 0;
    uint64_t error = 0;
    uint32_t heap_pos = 0;
  };
  void SiftDown(uint32_t pos);
  bool Less(uint32_t a, uint32_t b) const {
    return entries_[a].count < entries_[b].count;
  }
  void Swap(uint32_t a, uint32_t b);

  size_t capacity_;
  std::vector<Entry> entries_;  // reserved once: views into items stay valid
  std::vector<uint32_t> heap_;  // entry indices, a min-heap by count
  absl::flat_hash_map<absl::string_view, uint32_t> index_;
};

class TopKeys {
 public:
  TopKeys(size_t k, size_t min_hits);

  // Counts one hit. True if `item` is admitted (now or before). When the
  // admission evicted another item, `*evicted` gets it (else it is cleared).
  bool Hit(absl::string_view item, std::string* evicted);
  bool IsAdmitted(absl::string_view item) const {
    return admitted_.contains(item);
  }
  size_t admitted() const { return admitted_.size(); }
  size_t k() const { return k_; }

 private:
  size_t k_;
  uint64_t min_hits_;
  SpaceSaving summary_;
  // Admitted items and their counts (the guaranteed count at admission,
  // exact since).
  absl::flat_hash_map<std::string, uint64_t> admitted_;
};

}  // namespace canopy

#endif  // CANOPY_PIPES_TOP_K_H_
