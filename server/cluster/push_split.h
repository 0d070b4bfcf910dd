// A JSON push cut along the cluster's shards: which shards own something in
// it, and the part of it one shard owns. A push names keys through a stack
// of enters and leaves (canopy/json_push.h); a key's owner is the ring's
// owner of its first --shard_depth segments.
//
//   canopy::Ring ring({"a", "b", "c"}, 2);
//   std::vector<bool> owners = canopy::OwnersOfPush(push, ring);
//   canopy::KeepOwned(&push, ring, 1);  // only what "b" owns is left
//
// KeepOwned emits an enter only when something under it is kept, so a shard
// never creates empty nodes for keys it does not own. Markers and units go
// with the node they mark: to its owner, or to every shard for a node above
// the shard depth (whose descendants are on every shard); a top-level
// "time" stays for every part.
//
// Threads: functions of their arguments only.
#ifndef CANOPY_SERVER_CLUSTER_PUSH_SPLIT_H_
#define CANOPY_SERVER_CLUSTER_PUSH_SPLIT_H_

#include <cstddef>
#include <vector>

#include "canopy/json_push.h"
#include "server/cluster/ring.h"

namespace canopy {

// owners[i] is true if shard i owns at least one key the push writes.
std::vector<bool> OwnersOfPush(const Push& push, const Ring& ring);

// Leaves in `push` only what shard `owner` owns; its `leaves` counts them.
void KeepOwned(Push* push, const Ring& ring, size_t owner);

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_PUSH_SPLIT_H_
