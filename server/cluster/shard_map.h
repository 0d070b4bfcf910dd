// The shards of a cluster as a read across all of them needs them, copied
// off the tree's thread: the ring, which shard this node is, and where each
// other shard answers HTTP. Graphite's /render and /metrics/find gather
// their series from every shard with it, as graphite-web gathers from its
// CLUSTER_SERVERS (server/cluster/gather.h).
//
//   ShardMap map = cluster->Shards();  // on the tree's thread
//   // then on any thread:
//   bool mine = map.Owns(map.ring.OwnerOfKey("host,web1,cpu"));
//
// Threads: plain data, a copy; any thread.
#ifndef CANOPY_SERVER_CLUSTER_SHARD_MAP_H_
#define CANOPY_SERVER_CLUSTER_SHARD_MAP_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "server/cluster/ring.h"

namespace canopy {

struct ShardMap {
  Ring ring;
  std::optional<size_t>
      self;  // this node's index in ring.shards(); none on an edge
  // By shard index: HOST:PORT of its HTTP while it is heard from; "" for
  // this node and for a shard that is silent or not heard yet.
  std::vector<std::string> http;

  bool Owns(size_t owner) const { return self && *self == owner; }
};

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_SHARD_MAP_H_
