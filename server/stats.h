// The server's own figures, exported by /metrics. Owned by the event-loop
// thread like everything else in canopyd.
#ifndef CANOPY_SERVER_STATS_H_
#define CANOPY_SERVER_STATS_H_

#include <cstdint>
#include <map>
#include <string>

namespace canopy {

struct Stats {
  int64_t start_time = 0;
  uint64_t http_requests = 0;
  std::map<std::string, uint64_t> http_by_status;  // "200" -> count
  // Per protocol ("http", "udp", "tcp", and "cluster" for what other nodes
  // of a cluster forward here): leaves accepted, and rejects by
  // reason ("json", "key", "max_nodes", "max_body", "auth", ...).
  std::map<std::string, uint64_t> accepted;
  std::map<std::string, std::map<std::string, uint64_t>> rejected;
  uint64_t pushes = 0;
  uint64_t pull_replies = 0;
  uint64_t pull_timeouts = 0;
  uint64_t waiters_refused = 0;
  uint64_t waiters_gone = 0;  // clients that hung up while parked
  uint64_t stream_events = 0;
  uint64_t connections_refused = 0;
  uint64_t accept_errors = 0;
  uint64_t fd_limit = 0;
  uint64_t udp_datagrams = 0;
  uint64_t expired = 0;        // leaves removed by --expire
  uint64_t expire_slices = 0;  // --expire walks, each within one budget
  uint64_t trend_queries = 0;  // /trend and /graph queries
  // Tree queries stopped past --query_budget or --query_time_ms (413, or a
  // waiter's connection closed).
  uint64_t queries_refused = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_STATS_H_
