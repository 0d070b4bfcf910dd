// Reads of history across a cluster. Each shard keeps the history of the
// keys it owns (and, as a reader, of the replicas it held), so a read that
// any node answers over keys of several shards gathers: this node's store
// gives the series whose keys it owns, every other shard gives its own,
// asked over HTTP with the same request marked forwarded=1 (which it
// answers from its store alone, again only what it owns). graphite-web
// gathers from its CLUSTER_SERVERS the same way. Used by Graphite's
// /render, /metrics/find, /metrics/expand and /metrics/index.json, and by
// /trend for patterns no single shard owns. A shard that is silent fails
// the read (503, naming it) rather than answer without its series.
//
//   ShardScope scope = ShardScopeOf(request, ctx);  // on the loop thread
//   // then on the trend thread:
//   if (scope.Own(key)) ...  // a series read from this store
//   absl::Status s = scope.AskOthers("/render?target=a.*&from=...",
//       [&](absl::string_view body) { ...; return absl::OkStatus(); });
//
// Alone the scope owns every key and asks nobody; for a forwarded request
// it owns this shard's keys and asks nobody.
//
// Threads: ShardScopeOf on the event-loop thread (it reads the Cluster); a
// ShardScope is plain data, and its calls run on the trend thread
// (AskOthers asks the shards at once, a short-lived thread each, and waits
// at most kAskSeconds).
#ifndef CANOPY_SERVER_CLUSTER_GATHER_H_
#define CANOPY_SERVER_CLUSTER_GATHER_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/cluster/shard_map.h"
#include "server/handlers/request.h"

namespace canopy {

inline constexpr double kAskSeconds = 10;

struct ShardScope {
  std::optional<ShardMap> shards;  // none: canopyd runs alone
  bool gather = false;             // ask the other shards too
  std::string authorization;       // the request's, passed on

  // Whether the series of `key` (a comma key) is read from this store.
  bool Own(absl::string_view key) const {
    return !shards || shards->Owns(shards->ring.OwnerOfKey(key));
  }
  bool OwnSegments(absl::Span<const absl::string_view> segments) const {
    return !shards || shards->Owns(shards->ring.OwnerOfSegments(segments));
  }
  // With `gather`: GETs `target` (a path and maybe a query; forwarded=1
  // is added) from every other shard at once and hands each 200 answer's
  // body to `on_body`, in shard order. The first shard that is silent,
  // fails or answers another status ends it with an error naming it.
  absl::Status AskOthers(
      absl::string_view target,
      const std::function<absl::Status(absl::string_view body)>& on_body) const;
};

ShardScope ShardScopeOf(const Request& request, const HandlerContext& ctx);

}  // namespace canopy

#endif  // CANOPY_SERVER_CLUSTER_GATHER_H_
