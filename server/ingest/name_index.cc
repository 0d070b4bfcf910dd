#include "server/ingest/name_index.h"

#include <algorithm>
#include <random>
#include <utility>

namespace canopy {

NameIndex::NameIndex(size_t max_names)
    : seed_(std::random_device()() | (uint64_t{std::random_device()()} << 32)),
      max_names_(max_names < 1 ? 1 : max_names) {}

void NameIndex::Insert(absl::string_view name, size_t hash, const Node* leaf) {
  if (leaf == nullptr || name.empty() || name.size() > kMaxNameBytes) return;
  if (count_ >= max_names_ || names_.size() + name.size() > max_names_ * 64) {
    Clear();
  }
  if (slots_.empty() || (count_ + 1) * 2 > slots_.size()) Grow();
  size_t i = hash & mask_;
  for (; slots_[i].leaf != nullptr; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.hash == hash && s.size == name.size() &&
        std::memcmp(names_.data() + s.offset, name.data(), name.size()) == 0) {
      s.leaf = leaf;
      return;
    }
  }
  slots_[i] = Slot{hash, leaf, static_cast<uint32_t>(names_.size()),
                   static_cast<uint32_t>(name.size())};
  names_.append(name.data(), name.size());
  ++count_;
}

void NameIndex::Grow() {
  const size_t size = slots_.empty() ? 1024 : slots_.size() * 2;
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(size));
  mask_ = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.leaf == nullptr) continue;
    size_t i = s.hash & mask_;
    while (slots_[i].leaf != nullptr) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void NameIndex::Clear() {
  // Keeps the slots' memory: the names that keep coming fill them again.
  std::fill(slots_.begin(), slots_.end(), Slot{0, nullptr, 0, 0});
  names_.clear();
  count_ = 0;
}

}  // namespace canopy
