// canopyd: the canopy server. See docs/CONFIGURATION.md for every flag.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/install_dirs.h"
#include "canopy/pipe.h"
#include "canopy/program.h"
#include "server/ingest/line_ingest.h"
#include "server/log.h"
#include "server/server.h"
#include "server/trend/store.h"

ABSL_FLAG(std::string, config, "",
          "Read flags from this file: one flag=value per line, # comments; "
          "flags on the command line win.");
ABSL_FLAG(std::string, http, "127.0.0.1:7575",
          "HTTP address (HOST:PORT, port 0 picks a free one), or off.");
ABSL_FLAG(std::string, udp, "127.0.0.1:8125",
          "UDP address for StatsD, Graphite and JSON datagrams, or off.");
ABSL_FLAG(std::string, tcp, "127.0.0.1:2003",
          "TCP address for Graphite, StatsD and JSON lines, or off.");
ABSL_FLAG(std::string, allow, "",
          "CIDR ranges (a,b,...) whose UDP and TCP input is accepted (empty: "
          "any, but see --protected_mode); in protected mode, also those "
          "whose HTTP writes are.");
ABSL_FLAG(std::string, expire, "host,*,proc=5m",
          "PATTERN=DURATION,...: remove leaves under PATTERN not updated for "
          "DURATION. The default drops canopy-agent's per-process keys five "
          "minutes after the process ended or left its top N; a list of your "
          "own replaces it (keep host,*,proc=5m in it), and "
          "--expire= keeps everything.");
ABSL_FLAG(int64_t, max_line, 64 * 1024,
          "Longest line accepted over TCP; longer lines are dropped and "
          "counted.");
ABSL_FLAG(std::string, data_dir, "./var/canopy",
          "Where canopyd keeps its data.");
ABSL_FLAG(std::string, ready_file, "",
          "Once listening, write the bound ports here (http=P udp=P tcp=P).");
ABSL_FLAG(std::string, retention, "10s:2d,1m:30d,1h:2y,1d:10y",
          "Trend steps and how long each is kept; the first step is the "
          "window of the live values.");
ABSL_FLAG(std::string, web_dir, "",
          "Where the pages and their assets are (default: ../web beside the "
          "canopyd binary in the build tree, else ../share/canopy/web).");
ABSL_FLAG(bool, history, true,
          "Keep trend history in DATA_DIR/trend (LevelDB).");
ABSL_FLAG(std::string, remote_write, "",
          "Prometheus remote_write URLs (comma-separated, e.g. "
          "http://127.0.0.1:8428/api/v1/write): every closed window is sent "
          "to each, buffered in DATA_DIR/remote_write while a receiver is "
          "down. Needs --history.");
ABSL_FLAG(double, remote_write_timeout, 10,
          "Seconds a remote_write request may take before it is retried.");
ABSL_FLAG(int32_t, snapshot_interval, 60,
          "Seconds between snapshots of the live tree (also written at a "
          "clean stop); 0 writes one only at the stop.");
ABSL_FLAG(std::string, pipes_dir, "",
          "Load every *.so in this directory as a log pipe (the C ABI of "
          "canopy/pipe_plugin.h) for POST /push accesslog=; see "
          "docs/PIPES.md.");
ABSL_FLAG(int64_t, max_body, 32 << 20, "Largest HTTP body accepted (413).");
ABSL_FLAG(int64_t, max_nodes, 10000000,
          "Most nodes the tree may hold; a push past it gets 507.");
ABSL_FLAG(int64_t, max_waiters, 18000,
          "Most parked /pull and /stream requests; more get 503.");
ABSL_FLAG(int32_t, http_timeout, 60,
          "Seconds an HTTP connection has to send each whole request; idle "
          "or slower connections are closed.");
ABSL_FLAG(int32_t, http_header_timeout, 10,
          "Seconds from the first byte of a request to the end of its "
          "headers; slower clients (slowloris) are closed.");
ABSL_FLAG(int64_t, max_connections, 19000,
          "Most open HTTP connections; past it a connection may still ask "
          "/healthz or /metrics, anything else gets 503. Lowered to fit the "
          "open file limit.");
ABSL_FLAG(int64_t, max_tcp_connections, 4096,
          "Most open TCP ingest connections; at the cap a new one closes the "
          "one silent the longest. Lowered to fit the open file limit.");
ABSL_FLAG(int32_t, tcp_idle_timeout, 300,
          "Seconds a TCP ingest connection may stay silent before it is "
          "closed.");
ABSL_FLAG(bool, trend_repair, false,
          "If the trend store (DATA_DIR/trend) is damaged, repair it with "
          "LevelDB's RepairDB instead of refusing to start.");
ABSL_FLAG(int32_t, trend_cache_mb, 64,
          "MB of LevelDB block cache for the trend store (reads of history: "
          "/trend, /render). A fixed amount, whatever the number of series.");
ABSL_FLAG(int32_t, trend_write_buffer_mb, 16,
          "MB of LevelDB write buffer (memtable) for the trend store; LevelDB "
          "holds up to two while one is written out.");
ABSL_FLAG(int32_t, comet_threads, 0,
          "Threads that hold the HTTP connections and write comet replies "
          "(0: one per core).");
ABSL_FLAG(std::string, cluster, "",
          "Join a cluster through NATS: nats://HOST:PORT[,nats://...] "
          "(docs/CLUSTER.md). Empty: canopyd runs alone.");
ABSL_FLAG(std::string, node, "",
          "This node's name in the cluster (letters, digits, '-', '_').");
ABSL_FLAG(std::string, shards, "",
          "The cluster's shards, comma-separated names; a --node not among "
          "them is an edge.");
ABSL_FLAG(int32_t, shard_depth, 2,
          "How many leading segments of a key choose its shard.");
ABSL_FLAG(int32_t, cluster_replica_idle_s, 60,
          "How long an edge (or shard) keeps a replica of another shard's "
          "keys that no request reads and no waiter waits on, in seconds "
          "(1-86400; docs/CLUSTER.md).");
ABSL_FLAG(int32_t, cluster_batch_ms, 25,
          "Under a stream of writes for another shard, how often a batch "
          "leaves for it, in ms (1-1000; a write after a quiet spell leaves "
          "at once): longer costs less CPU a line, shorter shows them sooner "
          "(docs/CLUSTER.md).");
ABSL_FLAG(std::string, write_token, "",
          "If set, every HTTP write needs Authorization: Bearer TOKEN.");
ABSL_FLAG(bool, protected_mode, true,
          "On an --http, --udp or --tcp address other machines can reach, "
          "take writes only from this machine unless --write_token (HTTP) or "
          "--allow (which also admits those ranges' HTTP writes) is set; "
          "false takes them from anyone.");
ABSL_FLAG(std::string, read_token, "",
          "If set, every HTTP read but /healthz needs this token.");
ABSL_FLAG(int64_t, query_budget, 2000000,
          "Work one tree query may do (node-steps: nodes visited times "
          "pattern positions); past it the query gets 413.");
ABSL_FLAG(int32_t, query_time_ms, 50,
          "Milliseconds one tree query may hold the tree's thread; past it "
          "the query gets 413.");

namespace {

constexpr canopy::ProgramInfo kProgram = {
    "canopyd",
    "canopyd: canopy's server, a live metric tree pushed over HTTP, UDP and "
    "TCP (JSON, StatsD, Graphite) and watched by long-poll.\n\n"
    "Usage: canopyd [--http=127.0.0.1:7575] [--data_dir=./var/canopy] "
    "[--config=FILE] ...\n\nEndpoints: POST /push, GET /get, /pull, "
    "/stream, /api/q/<key>.json, /diff/<a>/<b>, /trend, /graph/<key>.svg, "
    "/metrics, /healthz; pages at /realtime/. See docs/CONFIGURATION.md.",
    "server/main.cc"};

[[noreturn]] void Die(const std::string& message) {
  canopy::Die(kProgram.name, message);
}

}  // namespace

int main(int argc, char** argv) {
  canopy::StartProgram(argc, argv, kProgram);

  canopy::ServerOptions options;
  options.http = absl::GetFlag(FLAGS_http);
  options.udp = absl::GetFlag(FLAGS_udp);
  options.tcp = absl::GetFlag(FLAGS_tcp);
  options.allow = absl::GetFlag(FLAGS_allow);
  options.expire = absl::GetFlag(FLAGS_expire);
  if (absl::GetFlag(FLAGS_max_line) < 64) Die("--max_line must be at least 64");
  options.max_line = static_cast<size_t>(absl::GetFlag(FLAGS_max_line));
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.ready_file = absl::GetFlag(FLAGS_ready_file);
  options.web_dir = absl::GetFlag(FLAGS_web_dir);
  if (options.web_dir.empty()) options.web_dir = canopy::SharedPath("web");
  int64_t max_body = absl::GetFlag(FLAGS_max_body);
  int64_t max_nodes = absl::GetFlag(FLAGS_max_nodes);
  int64_t max_waiters = absl::GetFlag(FLAGS_max_waiters);
  if (max_body <= 0) Die("--max_body must be positive");
  if (max_nodes <= 0) Die("--max_nodes must be positive");
  if (max_waiters < 0) Die("--max_waiters must not be negative");
  options.max_body = static_cast<size_t>(max_body);
  options.max_nodes = static_cast<size_t>(max_nodes);
  options.max_waiters = static_cast<size_t>(max_waiters);
  options.http_timeout = absl::GetFlag(FLAGS_http_timeout);
  if (options.http_timeout < 1) Die("--http_timeout must be at least 1");
  options.http_header_timeout = absl::GetFlag(FLAGS_http_header_timeout);
  if (options.http_header_timeout < 1) {
    Die("--http_header_timeout must be at least 1");
  }
  int64_t max_connections = absl::GetFlag(FLAGS_max_connections);
  if (max_connections < 1) Die("--max_connections must be at least 1");
  options.max_connections = static_cast<size_t>(max_connections);
  int64_t max_tcp = absl::GetFlag(FLAGS_max_tcp_connections);
  if (max_tcp < 1) Die("--max_tcp_connections must be at least 1");
  options.max_tcp_connections = static_cast<size_t>(max_tcp);
  options.tcp_idle_timeout = absl::GetFlag(FLAGS_tcp_idle_timeout);
  if (options.tcp_idle_timeout < 1)
    Die("--tcp_idle_timeout must be at least 1");
  options.trend_repair = absl::GetFlag(FLAGS_trend_repair);
  options.trend_cache_mb = absl::GetFlag(FLAGS_trend_cache_mb);
  if (options.trend_cache_mb < 1 || options.trend_cache_mb > 65536) {
    Die("--trend_cache_mb must be 1 to 65536");
  }
  options.trend_write_buffer_mb = absl::GetFlag(FLAGS_trend_write_buffer_mb);
  if (options.trend_write_buffer_mb < 1 ||
      options.trend_write_buffer_mb > 1024) {
    Die("--trend_write_buffer_mb must be 1 to 1024");
  }
  options.comet_threads = absl::GetFlag(FLAGS_comet_threads);
  if (options.comet_threads < 0 || options.comet_threads > 64) {
    Die("--comet_threads must be 0 to 64");
  }
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.node = absl::GetFlag(FLAGS_node);
  options.shards = absl::GetFlag(FLAGS_shards);
  options.shard_depth = absl::GetFlag(FLAGS_shard_depth);
  options.cluster_batch_ms = absl::GetFlag(FLAGS_cluster_batch_ms);
  options.cluster_replica_idle_s = absl::GetFlag(FLAGS_cluster_replica_idle_s);
  options.write_token = absl::GetFlag(FLAGS_write_token);
  options.read_token = absl::GetFlag(FLAGS_read_token);
  options.protected_mode = absl::GetFlag(FLAGS_protected_mode);
  int64_t query_budget = absl::GetFlag(FLAGS_query_budget);
  int32_t query_time_ms = absl::GetFlag(FLAGS_query_time_ms);
  if (query_budget <= 0) Die("--query_budget must be positive");
  if (query_time_ms <= 0) Die("--query_time_ms must be positive");
  options.query.work = static_cast<uint64_t>(query_budget);
  options.query.time = absl::Milliseconds(query_time_ms);

  // The retention's steps: validated whole; the first is the live window.
  std::string retention = absl::GetFlag(FLAGS_retention);
  absl::StatusOr<canopy::Retention> parsed =
      canopy::Retention::Parse(retention);
  if (!parsed.ok()) Die(std::string(parsed.status().message()));
  options.step_seconds = static_cast<int>(parsed->levels[0].step);
  options.retention = retention;
  options.history = absl::GetFlag(FLAGS_history);
  options.snapshot_interval = absl::GetFlag(FLAGS_snapshot_interval);
  options.remote_write = absl::GetFlag(FLAGS_remote_write);
  options.remote_write_timeout = absl::GetFlag(FLAGS_remote_write_timeout);
  if (!(options.remote_write_timeout > 0)) {
    Die("--remote_write_timeout must be positive");
  }
  if (options.snapshot_interval < 0) Die("--snapshot_interval must be >= 0");

  options.pipes_dir = absl::GetFlag(FLAGS_pipes_dir);
  if (!options.pipes_dir.empty()) {
    // Refuse a directory that will not load now rather than at each push.
    auto loaded = canopy::LoadPipePlugins(options.pipes_dir);
    if (!loaded.ok()) Die(std::string(loaded.status().message()));
  }

  canopy::Server server(options);
  if (absl::Status s = server.Start(); !s.ok()) {
    Die(std::string(s.message()));
  }
  return server.Run();
}
