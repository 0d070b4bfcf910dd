// GET /api/cluster: this node's view of its cluster, from the Cluster the
// server holds (server/cluster/cluster.h).
//
// Threads: the event-loop thread.
#include "server/cluster/cluster.h"

#include <string>

#include "absl/status/status.h"
#include "canopy/key.h"
#include "server/handlers/handlers.h"

namespace canopy {

absl::StatusOr<Response> HandleCluster(const Request& request,
                                       HandlerContext& ctx) {
  if (ctx.cluster == nullptr) {
    return absl::NotFoundError(
        "canopyd runs alone: start it with --cluster to join one");
  }
  const std::string key = request.Param("key");
  if (!key.empty()) {
    if (absl::StatusOr<KeySegments> k = SplitKey(key); !k.ok()) {
      return k.status();
    }
  }
  Response r;
  r.body = ctx.cluster->StatusJson(key);
  return r;
}

}  // namespace canopy
