#include "server/cluster/ring.h"

#include <utility>

namespace canopy {
namespace {

// A segment boundary inside a prefix's hash, so that ("ab", "c") and
// ("a", "bc") differ.
constexpr char kBoundary = '\x1f';

uint64_t Mix(uint64_t h) {
  // The finalizer of MurmurHash3's 64-bit variant: every input bit reaches
  // every output bit, which FNV-1a alone does not do for short inputs.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

uint64_t Fnv1a(uint64_t h, absl::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

}  // namespace

uint64_t StableHash(absl::string_view s, uint64_t seed) {
  return Mix(Fnv1a(kFnvOffset ^ seed, s));
}

Ring::Ring(std::vector<std::string> shards, size_t depth)
    : shards_(std::move(shards)), depth_(depth == 0 ? 1 : depth) {
  for (const std::string& s : shards_) {
    shard_hashes_.push_back(StableHash(s));
  }
}

size_t Ring::OwnerOfPrefixHash(uint64_t prefix) const {
  size_t best = 0;
  uint64_t best_score = 0;
  for (size_t i = 0; i < shard_hashes_.size(); ++i) {
    const uint64_t score = Mix(prefix ^ shard_hashes_[i]);
    if (i == 0 || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

uint64_t Ring::PrefixHash(absl::string_view s, bool dots) const {
  // One pass, byte by byte, over the first depth_ segments only: names are
  // short, and this runs for every line a node of a cluster receives. A
  // line protocol's name ends at ':' (StatsD), ' ' (Graphite) or ';' (a
  // Graphite tag list), so a whole line may be given.
  uint64_t h = kFnvOffset;
  size_t taken = 1;
  for (unsigned char c : s) {
    if (dots && (c == ':' || c == ' ' || c == ';')) break;
    if (c == ',' || (dots && c == '.')) {
      if (taken == depth_) break;
      ++taken;
      c = static_cast<unsigned char>(kBoundary);
    }
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return Mix(h);
}

size_t Ring::OwnerOfSegments(
    absl::Span<const absl::string_view> segments) const {
  uint64_t h = kFnvOffset;
  for (size_t i = 0; i < segments.size() && i < depth_; ++i) {
    if (i > 0) h = Fnv1a(h, absl::string_view(&kBoundary, 1));
    h = Fnv1a(h, segments[i]);
  }
  return OwnerOfPrefixHash(Mix(h));
}

size_t Ring::OwnerOfKey(absl::string_view key) const {
  return OwnerOfPrefixHash(PrefixHash(key, /*dots=*/false));
}

size_t Ring::OwnerOfName(absl::string_view name) const {
  return OwnerOfPrefixHash(PrefixHash(name, /*dots=*/true));
}

}  // namespace canopy
