// canopyd's settings, filled from flags by server/main.cc, and the parsing
// of the flags whose values are lists (--expire).
//
// Plain values; read by every room, written only before Server::Start.
#ifndef CANOPY_SERVER_OPTIONS_H_
#define CANOPY_SERVER_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "canopy/key.h"
#include "canopy/tree.h"

namespace canopy {

struct ServerOptions {
  std::string http = "127.0.0.1:7575";    // "off" to disable
  std::string udp = "127.0.0.1:8125";     // StatsD, Graphite, JSON datagrams
  std::string tcp = "127.0.0.1:2003";     // Graphite, StatsD, JSON lines
  std::string allow;                      // CIDRs UDP and TCP accept; "" = all
  std::string expire = "host,*,proc=5m";  // PATTERN=DURATION,...
  size_t max_line = 64 * 1024;            // longest TCP line
  std::string data_dir = "./var/canopy";
  std::string ready_file;  // written with the bound ports once listening
  std::string web_dir;     // the pages and assets; "" = only the built-in page
  size_t max_body = 32 << 20;
  size_t max_nodes = 10000000;
  size_t max_waiters = 18000;
  size_t max_connections = 19000;     // HTTP; lowered to fit the fd limit
  size_t max_tcp_connections = 4096;  // TCP ingest; likewise
  int http_timeout = 60;  // seconds a connection has to send a request
  // Seconds from a request's first byte to the end of its headers (a
  // slowloris sending a byte every few seconds is closed after this).
  int http_header_timeout = 10;
  int tcp_idle_timeout = 300;  // seconds a TCP ingest connection may be silent
  int comet_threads = 0;       // HTTP and comet worker threads; 0: one per core
  std::string write_token;
  std::string read_token;
  // Without --write_token (HTTP) or --allow (UDP, TCP), a non-loopback
  // listener takes writes only from this machine (server/net/protection.h).
  bool protected_mode = true;
  int step_seconds = 10;  // the window: the first step of --retention
  std::string retention = "10s:2d,1m:30d,1h:2y,1d:10y";
  bool history = true;               // keep trend history in data_dir/trend
  bool trend_repair = false;         // repair a damaged trend store (RepairDB)
  int trend_cache_mb = 64;           // LevelDB block cache of the trend store
  int trend_write_buffer_mb = 16;    // LevelDB memtable of the trend store
  int snapshot_interval = 60;        // seconds between snapshots of the tree
  std::string remote_write;          // URL,URL...: Prometheus remote_write
  double remote_write_timeout = 10;  // seconds per request
  int max_pull_timeout = 300;        // seconds
  size_t get_limit = 10000;          // default limit= of /get
  // What one tree query (/get, /pull, /stream, /metrics?key=, /api/q, /diff)
  // may spend: --query_budget and --query_time_ms.
  QueryBudget::Limits query;
  std::string pipes_dir;  // *.so log pipes for POST /push accesslog=; "" = none
  // A node of a cluster (server/cluster/cluster.h): NATS URLs, "" = alone.
  std::string cluster;
  std::string node;    // this node's name
  std::string shards;  // the shards' names, comma-separated
  int shard_depth = 2;
  int cluster_batch_ms = 25;
  int cluster_replica_idle_s = 60;  // a replica nobody reads is given up  //
                                    // how long a batch for another shard waits
};

// --expire=PATTERN=DURATION,...
struct ExpireRule {
  Pattern pattern;
  int64_t seconds = 0;
  // A sweep in progress (Server's tick): the key it stopped after, "" when
  // none is.
  std::string resume;
  bool sweeping = false;
};
absl::StatusOr<std::vector<ExpireRule>> ParseExpire(absl::string_view spec);

}  // namespace canopy

#endif  // CANOPY_SERVER_OPTIONS_H_
