// SeriesDict (server/trend/series_dict.h): the packed key arena and its
// index.
//
// Threads: the trend thread (one at a time).
#include "server/trend/series_dict.h"

#include <algorithm>
#include <cstring>

namespace canopy {

absl::string_view SeriesDict::KeyOf(uint32_t id) const {
  uint64_t w = where_[id];
  const char* p = chunks_[w >> 32].get() + (w & 0xffffffffu);
  size_t n = static_cast<unsigned char>(p[0]) |
             static_cast<size_t>(static_cast<unsigned char>(p[1])) << 8;
  return absl::string_view(p + 2, n);
}

uint32_t SeriesDict::Find(absl::string_view key) const {
  auto it = ids_.find(key);
  return it == ids_.end() ? 0 : *it;
}

void SeriesDict::Insert(absl::string_view key, uint32_t id) {
  const size_t need = key.size() + 2;
  if (used_ + need > kChunkBytes) {
    chunks_.emplace_back(new char[std::max(kChunkBytes, need)]);
    used_ = 0;
  }
  char* p = chunks_.back().get() + used_;
  p[0] = static_cast<char>(key.size() & 0xff);
  p[1] = static_cast<char>(key.size() >> 8);
  std::memcpy(p + 2, key.data(), key.size());
  if (where_.size() <= id) {
    // Ids come in order: grown by half, not doubled.
    if (id >= where_.capacity()) {
      where_.reserve(std::max<size_t>(id + 1, where_.capacity() * 3 / 2));
    }
    where_.resize(id + 1, kNone);
  }
  where_[id] = static_cast<uint64_t>(chunks_.size() - 1) << 32 | used_;
  used_ += need;
  ids_.insert(id);
}

void SeriesDict::Erase(uint32_t id) {
  if (id >= where_.size() || where_[id] == kNone) return;
  ids_.erase(id);
  where_[id] = kNone;
}

size_t SeriesDict::bytes() const {
  return chunks_.size() * kChunkBytes + where_.capacity() * sizeof(uint64_t) +
         ids_.capacity() * (sizeof(uint32_t) + 1);
}

}  // namespace canopy
