// The line protocols' names as sent ("web.hits", dots and all) to the
// leaves they name, for the ingest hot path: a line whose name is here
// needs no key built, no check and no walk down the tree, one hash of the
// bytes in the datagram and one comparison.
//
//   NameIndex index;
//   size_t hash = NameIndex::Hash("web.hits");
//   const Node* leaf = index.Find("web.hits", hash);  // nullptr: not here
//   index.Insert("web.hits", hash, leaf_made_by_the_slow_path);
//
// Only names that were checked (text::ScanPlainName) go in, so a name
// found here is known to be plain. The pointers are the tree's: whoever
// holds the index clears it when Tree::removal_epoch() moves. Bounded: past
// max_names names (or their bytes past 64 per name on average) it forgets
// everything and fills again from the names that keep coming.
#ifndef CANOPY_SERVER_NAME_INDEX_H_
#define CANOPY_SERVER_NAME_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "canopy/tree.h"

namespace canopy {

class NameIndex {
 public:
  static constexpr size_t kDefaultMaxNames = 1 << 18;
  // Longer names are not kept (the slow path takes them every time).
  static constexpr size_t kMaxNameBytes = 512;

  explicit NameIndex(size_t max_names = kDefaultMaxNames)
      : max_names_(max_names < 1 ? 1 : max_names) {}

  static size_t Hash(absl::string_view name) {
    return absl::Hash<absl::string_view>()(name);
  }

  // Hints the CPU to load the slot Find(hash) starts at.
  void Prefetch(size_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }

  // Once the slot is in: hints the CPU to load the name and the leaf a
  // Find(hash) will compare and return.
  void PrefetchEntry(size_t hash) const {
    if (slots_.empty()) return;
    const Slot& s = slots_[hash & mask_];
    if (s.hash == hash) {
      __builtin_prefetch(names_.data() + s.offset);
      __builtin_prefetch(s.leaf);
    }
  }

  const Node* Find(absl::string_view name, size_t hash) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.leaf == nullptr) return nullptr;
      if (s.hash == hash && s.size == name.size() &&
          std::memcmp(names_.data() + s.offset, name.data(), name.size()) ==
              0) {
        return s.leaf;
      }
    }
  }

  // Remembers that `name` (checked plain) names `leaf`.
  void Insert(absl::string_view name, size_t hash, const Node* leaf);

  void Clear();
  size_t size() const { return count_; }
  // Bytes held (slots and names).
  size_t memory() const {
    return slots_.capacity() * sizeof(Slot) + names_.capacity();
  }

 private:
  struct Slot {
    size_t hash;
    const Node* leaf;  // nullptr: empty
    uint32_t offset;   // of the name in names_
    uint32_t size;
  };
  void Grow();

  size_t max_names_;
  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t mask_ = 0;
  size_t count_ = 0;
  std::string names_;  // every name, back to back
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NAME_INDEX_H_
