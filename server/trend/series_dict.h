// SeriesDict: the trend store's dictionary of series, key -> id, held in
// memory for the writer. Ten million series must fit in a few hundred MB:
// the keys are packed one after another in 1 MiB chunks (two length bytes,
// then the key), an id finds its key through one offset, and the index is
// a hash set of 4-byte ids hashed by the key they name. About 14 bytes a
// series plus the key's length, where a hash map of std::string keys took
// 60 – 110.
//
//   SeriesDict dict;
//   dict.Insert("web,hits", 7);
//   dict.Find("web,hits");  // 7; 0 if absent
//
// Threads: one at a time (the trend thread's TrendStore).
#ifndef CANOPY_SERVER_TREND_SERIES_DICT_H_
#define CANOPY_SERVER_TREND_SERIES_DICT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"

namespace canopy {

class SeriesDict {
 public:
  SeriesDict() : ids_(0, Hash{this}, Eq{this}) {}
  // The hash set's functions point at this object: it stays where it is.
  SeriesDict(const SeriesDict&) = delete;
  SeriesDict& operator=(const SeriesDict&) = delete;

  // The id of `key`; 0 if it has none.
  uint32_t Find(absl::string_view key) const;
  // Gives `key` (not in the dictionary, at most 65 535 bytes) the id `id`
  // (not 0, not taken).
  void Insert(absl::string_view key, uint32_t id);
  // Forgets the series `id` (its key's bytes stay in the arena: for the
  // rare write that fails).
  void Erase(uint32_t id);
  size_t size() const { return ids_.size(); }
  // Bytes held: the arena, the offsets and the hash set's slots.
  size_t bytes() const;

 private:
  static constexpr size_t kChunkBytes = 1 << 20;
  static constexpr uint64_t kNone = ~uint64_t{0};
  absl::string_view KeyOf(uint32_t id) const;
  struct Hash {
    using is_transparent = void;
    const SeriesDict* dict;
    size_t operator()(absl::string_view key) const {
      return absl::Hash<absl::string_view>()(key);
    }
    size_t operator()(uint32_t id) const { return (*this)(dict->KeyOf(id)); }
  };
  struct Eq {
    using is_transparent = void;
    const SeriesDict* dict;
    absl::string_view Key(absl::string_view k) const { return k; }
    absl::string_view Key(uint32_t id) const { return dict->KeyOf(id); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Key(a) == Key(b);
    }
  };

  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_ = kChunkBytes;  // bytes used in the last chunk
  // By id: chunk index << 32 | offset in the chunk; kNone if no key.
  std::vector<uint64_t> where_;
  absl::flat_hash_set<uint32_t, Hash, Eq> ids_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_SERIES_DICT_H_
