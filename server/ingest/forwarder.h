// What ingest asks of a cluster: to take away the samples another node owns
// before this node applies the rest. Implemented by canopy::Cluster
// (server/cluster/cluster.h); ingest has none when canopyd runs alone.
//
// Threads: called on the tree's thread only.
#ifndef CANOPY_SERVER_INGEST_FORWARDER_H_
#define CANOPY_SERVER_INGEST_FORWARDER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "canopy/json_push.h"

namespace canopy {

class Forwarder {
 public:
  virtual ~Forwarder() = default;

  // A parsed JSON push, `text` its source: sends the parts other nodes own
  // to them and leaves in `push` the part this node owns (maybe nothing).
  virtual void RouteJson(absl::string_view text, Push* push, int64_t now) = 0;

  // StatsD or Graphite lines: sends the lines other nodes own to them and
  // returns the rest — `text` itself when every line is this node's, or
  // `*local` filled with them.
  virtual absl::string_view RouteLines(absl::string_view text, int64_t now,
                                       std::string* local) = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_INGEST_FORWARDER_H_
