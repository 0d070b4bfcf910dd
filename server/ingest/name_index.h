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
// Only names that were checked (ScanPlainName, canopy/line_name.h) go in, so a
// name found here is known to be plain. The pointers are the tree's: whoever
// holds the index clears it when Tree::removal_epoch() moves. Bounded: past
// max_names names (or their bytes past 64 per name on average) it forgets
// everything and fills again from the names that keep coming.
#ifndef CANOPY_SERVER_INGEST_NAME_INDEX_H_
#define CANOPY_SERVER_INGEST_NAME_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "canopy/tree.h"

namespace canopy {

class NameIndex {
 public:
  static constexpr size_t kDefaultMaxNames = 1 << 18;
  // Longer names are not kept (the slow path takes them every time).
  static constexpr size_t kMaxNameBytes = 512;

  explicit NameIndex(size_t max_names = kDefaultMaxNames);

  // The hash Find and Insert take. Names are short, so this is inline
  // (absl::Hash of a string is a call into the shared library): words of
  // the name folded by 64x64->128-bit multiplies, the way wyhash mixes,
  // from a seed drawn per index so that nobody can aim names at one slot.
  size_t Hash(absl::string_view name) const {
    const char* p = name.data();
    const size_t n = name.size();
    uint64_t h = seed_ ^ n;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      h = Mix(Load64(p + i) ^ kK1 ^ h, Load64(p + i + 8) ^ kK2);
    }
    uint64_t a = 0, b = 0;
    const size_t left = n - i;
    if (left >= 8) {
      a = Load64(p + i);
      b = Load64(p + n - 8);  // overlaps a when fewer than 16 are left
    } else if (left >= 4) {
      a = Load32(p + i);
      b = Load32(p + n - 4);
    } else if (left > 0) {
      a = (uint64_t{static_cast<unsigned char>(p[i])} << 16) |
          (uint64_t{static_cast<unsigned char>(p[i + left / 2])} << 8) |
          static_cast<unsigned char>(p[n - 1]);
    }
    return Mix(a ^ kK1 ^ h, b ^ kK2 ^ n);
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

  static constexpr uint64_t kK1 = 0xa0761d6478bd642full;
  static constexpr uint64_t kK2 = 0xe7037ed1a0b428dbull;
  static uint64_t Mix(uint64_t a, uint64_t b) {
    const unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
    return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
  }
  static uint64_t Load64(const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  }
  static uint64_t Load32(const char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  }

  uint64_t seed_;
  size_t max_names_;
  std::vector<Slot> slots_;  // a power of two, at most half full
  size_t mask_ = 0;
  size_t count_ = 0;
  std::string names_;  // every name, back to back
};

}  // namespace canopy

#endif  // CANOPY_SERVER_INGEST_NAME_INDEX_H_
