// Which shard owns a key. Every node of a cluster computes the same answer
// from the same --shards and --shard_depth, with nothing to agree on at run
// time: rendezvous (highest random weight) hashing of the key's first
// `depth` segments over the shard names. Adding or removing a shard moves
// only the prefixes that go to or come from it.
//
//   canopy::Ring ring({"a", "b", "c"}, 2);
//   size_t owner = ring.OwnerOfKey("host,web1,cpu,user");  // index in shards
//   // the same shard for every key under host,web1, and for the StatsD or
//   // Graphite name host.web1.cpu.user:
//   ring.OwnerOfName("host.web1.cpu.user") == owner;
//
// The hash is our own fixed function (FNV-1a, then a 64-bit finalizer), not
// absl::Hash, whose values change from one process to the next.
//
// Threads: immutable after construction; safe from any thread.
#ifndef CANOPY_SERVER_CLUSTER_RING_H_
#define CANOPY_SERVER_CLUSTER_RING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace canopy {

// A hash of `s` that is the same in every process, on every machine.
uint64_t StableHash(absl::string_view s, uint64_t seed = 0);

class Ring {
 public:
  // `shards`: at least one name, no duplicates (CheckShards says why not).
  Ring(std::vector<std::string> shards, size_t depth);

  // The owner of a key given as segments, as a comma key, or as a line
  // protocol's name (segments separated by '.' or ','; a Graphite tag list
  // after ';' is not part of it) or a whole line (the name ends at its
  // StatsD ':' or Graphite ' '). Keys shorter than the depth hash whole.
  size_t OwnerOfSegments(absl::Span<const absl::string_view> segments) const;
  size_t OwnerOfKey(absl::string_view key) const;
  size_t OwnerOfName(absl::string_view name) const;

  const std::vector<std::string>& shards() const { return shards_; }
  size_t depth() const { return depth_; }

 private:
  // The owner of a prefix already reduced to its hash.
  size_t OwnerOfPrefixHash(uint64_t prefix) const;
  // Hashes the first depth_ segments of `s`, separated by ',' (and by '.'
  // too if `dots`, which also ends the name at ':', ' ' or ';'), as
  // OwnerOfSegments hashes them.
  uint64_t PrefixHash(absl::string_view s, bool dots) const;

  std::vector<std::string> shards_;
  std::vector<uint64_t> shard_hashes_;
  size_t depth_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_RING_H_
