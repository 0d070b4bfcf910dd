// GET /metrics: the server's own figures in Prometheus text exposition
// (ingest per protocol, rejects, waiters, nodes, memory, the trend thread,
// remote_write per target), and with ?key=K the live values of the leaves
// under K, named as remote_write names them (server/remote/prom_names.h).
//
// Threads: the event-loop thread.
#include <unistd.h>

#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "canopy/number_text.h"
#include "server/cluster/cluster.h"
#include "server/handlers/figures.h"
#include "server/handlers/handlers.h"
#include "server/remote/prom_names.h"

namespace canopy {
namespace {

// A sample value as Prometheus reads it: integers in full, others with
// enough digits to round-trip.
std::string PromNumber(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v > -9e15 &&
      v < 9e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return NumberText(v);
}

std::string PromEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return static_cast<size_t>(resident) * sysconf(_SC_PAGESIZE);
}

absl::StatusOr<Response> HandleMetrics(const Request& request,
                                       HandlerContext& ctx) {
  ServerFigures f = ctx.figures ? ctx.figures() : ServerFigures();
  const Tree* tree = ctx.tree;
  const Stats& stats = *ctx.stats;
  uint64_t worker_refused = 0;  // connections refused by the comet workers
  for (const WorkerFigures& w : f.per_worker) worker_refused += w.refused;
  std::string out;
  auto gauge = [&](const char* name, const char* help, double v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " gauge\n", name, " ", PromNumber(v), "\n");
  };
  auto counter = [&](const char* name, const char* help, double v) {
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name,
                    " counter\n", name, " ", PromNumber(v), "\n");
  };
  gauge("canopy_nodes", "Nodes in the live tree.",
        static_cast<double>(tree->node_count()));
  gauge("canopy_leaves", "Nodes that hold a value.",
        static_cast<double>(tree->leaf_count()));
  gauge("canopy_seq", "The tree's change counter.",
        static_cast<double>(tree->seq()));
  gauge("canopy_snapshot_seq", "The seq of the last snapshot on disk.",
        static_cast<double>(f.snapshot_seq));
  gauge("canopy_interned_bytes", "Bytes of interned segment names.",
        static_cast<double>(tree->interned_bytes()));
  gauge("canopy_waiters", "Parked /pull and /stream requests.",
        static_cast<double>(f.waiters));
  gauge("canopy_streams", "Open /stream connections.",
        static_cast<double>(f.streams));
  gauge("canopy_watch_lists", "Nodes watched by waiters.",
        static_cast<double>(f.watch_lists));
  gauge("canopy_connections", "Open HTTP connections.",
        static_cast<double>(f.connections));
  gauge("canopy_max_waiters", "Waiters allowed before 503.",
        static_cast<double>(f.max_waiters));
  gauge("canopy_fd_limit", "The process's open file limit.",
        static_cast<double>(stats.fd_limit));
  gauge("canopy_resident_memory_bytes", "Resident set size.",
        static_cast<double>(ResidentBytes()));
  gauge("canopy_uptime_seconds", "Seconds since start.",
        static_cast<double>(time(nullptr) - stats.start_time));
  gauge("canopy_udp_receive_buffer_bytes", "SO_RCVBUF of the UDP socket.",
        static_cast<double>(f.udp_rcvbuf));
  gauge("canopy_tcp_connections", "Open TCP ingest connections.",
        static_cast<double>(f.tcp_connections));
  counter("canopy_tcp_idle_closed_total",
          "TCP ingest connections closed for silence past "
          "--tcp_idle_timeout.",
          static_cast<double>(f.tcp_idle_closed));
  counter("canopy_tcp_evicted_total",
          "TCP ingest connections closed, silent the longest, to make room "
          "for a new one at the cap.",
          static_cast<double>(f.tcp_evicted));
  counter("canopy_tcp_paused_total",
          "Times a TCP ingest connection was not read while history caught "
          "up with the windows it ended (back-pressure).",
          static_cast<double>(f.tcp_paused));
  counter("canopy_udp_kernel_drops_total",
          "Datagrams the kernel dropped before canopyd read them "
          "(the socket's drop count, SO_MEMINFO).",
          static_cast<double>(f.kernel_drops));
  counter("canopy_udp_datagrams_total", "UDP datagrams read.",
          static_cast<double>(stats.udp_datagrams));
  counter("canopy_expired_leaves_total", "Leaves removed by --expire.",
          static_cast<double>(stats.expired));
  counter("canopy_expire_slices_total",
          "--expire walks, each within one query's budget (a sweep of a "
          "large tree takes several, one a second).",
          static_cast<double>(stats.expire_slices));
  if (f.history) {
    gauge("canopy_trend_series", "Series in the trend store.",
          static_cast<double>(f.trend_series));
    gauge("canopy_trend_queued_batches", "Window batches waiting for disk.",
          static_cast<double>(f.trend_queued_batches));
    gauge("canopy_trend_pending_windows",
          "Closed windows the trend queue could not take yet.",
          static_cast<double>(f.trend_pending_windows));
    gauge("canopy_trend_flush_lag_seconds",
          "Age of the oldest batch waiting for disk.", f.trend_flush_lag);
    gauge("canopy_trend_disk_bytes", "Approximate bytes of stored windows.",
          static_cast<double>(f.trend_disk_bytes));
    gauge("canopy_trend_cache_bytes",
          "Bytes of history blocks cached for queries (--trend_cache_mb).",
          static_cast<double>(f.trend_cache_bytes));
    gauge("canopy_open_windows", "Leaves with a window not yet in history.",
          static_cast<double>(tree->open_windows()));
    gauge("canopy_trend_queued_windows",
          "Closed windows waiting in the trend queue (bounded).",
          static_cast<double>(f.trend_queued_windows));
    counter("canopy_trend_queue_full_total",
            "Times the trend queue was full and refused a batch.",
            static_cast<double>(f.trend_queue_full));
    counter("canopy_trend_windows_written_total", "Windows written to history.",
            static_cast<double>(f.trend_windows_written));
    counter("canopy_trend_write_errors_total",
            "Failed history writes (retried).",
            static_cast<double>(f.trend_write_errors));
    counter("canopy_trend_corruptions_total",
            "Damage found in the trend store (at start, by a read, or "
            "repaired by --trend_repair); each is logged.",
            static_cast<double>(f.trend_corruptions));
    counter("canopy_trend_retention_deleted_total",
            "Windows deleted past retention.",
            static_cast<double>(f.trend_retention_deleted));
    counter("canopy_trend_queries_total", "Trend queries.",
            static_cast<double>(stats.trend_queries));
  }
  counter("canopy_pushes_total", "Pushes applied.",
          static_cast<double>(stats.pushes));
  counter("canopy_pull_replies_total", "Long-poll replies with changes.",
          static_cast<double>(stats.pull_replies));
  counter("canopy_pull_timeouts_total", "Long-polls that timed out.",
          static_cast<double>(stats.pull_timeouts));
  counter("canopy_waiters_gone_total", "Waiters whose client hung up.",
          static_cast<double>(stats.waiters_gone));
  counter("canopy_waiters_refused_total", "Waiters refused with 503.",
          static_cast<double>(stats.waiters_refused));
  counter("canopy_stream_events_total", "Server-sent events written.",
          static_cast<double>(stats.stream_events));
  counter("canopy_queries_refused_total",
          "Tree queries refused past --query_budget or --query_time_ms.",
          static_cast<double>(stats.queries_refused));
  counter("canopy_samples_overflow_total",
          "Samples refused because they would take a value, a total or a "
          "window's sum past the range of doubles.",
          static_cast<double>(tree->overflow_refused()));
  counter("canopy_connections_refused_total", "Connections refused (cap).",
          static_cast<double>(stats.connections_refused + worker_refused));
  if (ctx.cluster != nullptr) {
    const Cluster::Figures c = ctx.cluster->figures();
    gauge("canopy_cluster_nats_connected", "1 while NATS is connected.",
          c.connected ? 1 : 0);
    counter("canopy_cluster_batches_sent_total",
            "Write batches sent to their owners (first sendings).",
            static_cast<double>(c.batches_sent));
    counter("canopy_cluster_batches_resent_total",
            "Write batches sent again, not acknowledged in time.",
            static_cast<double>(c.batches_resent));
    counter("canopy_cluster_batches_acked_total",
            "Write batches their owners acknowledged.",
            static_cast<double>(c.batches_acked));
    counter("canopy_cluster_batches_dropped_total",
            "Write batches given up past --cluster_buffer.",
            static_cast<double>(c.batches_dropped));
    counter("canopy_cluster_batches_applied_total",
            "Write batches from other nodes applied here.",
            static_cast<double>(c.batches_applied));
    counter("canopy_cluster_batches_duplicate_total",
            "Write batches received again and not applied again.",
            static_cast<double>(c.batches_duplicate));
    counter("canopy_cluster_lines_forwarded_total",
            "StatsD and Graphite lines sent to their owners.",
            static_cast<double>(c.lines_forwarded));
    counter("canopy_cluster_pushes_forwarded_total",
            "JSON pushes (or parts) sent to their owners.",
            static_cast<double>(c.pushes_forwarded));
    counter("canopy_cluster_replica_windows_total",
            "Windows of replicated keys kept out of this node's history "
            "(their owner keeps them).",
            static_cast<double>(c.replica_windows));
    counter("canopy_cluster_journal_errors_total",
            "Write journal records that could not be written (a full disk); "
            "a batch received is then neither applied nor acknowledged.",
            static_cast<double>(c.journal_errors));
    gauge("canopy_cluster_unacked_bytes",
          "Bytes of write batches waiting for acknowledgement.",
          static_cast<double>(c.unacked_bytes));
  }

  absl::StrAppend(&out,
                  "# HELP canopy_http_requests_total HTTP replies by code.\n"
                  "# TYPE canopy_http_requests_total counter\n");
  for (const auto& [code, n] : stats.http_by_status) {
    absl::StrAppend(&out, "canopy_http_requests_total{code=\"", code, "\"} ", n,
                    "\n");
  }
  absl::StrAppend(&out,
                  "# HELP canopy_ingest_accepted_total Leaves accepted, by "
                  "protocol.\n# TYPE canopy_ingest_accepted_total counter\n");
  // The three protocols always; "cluster" (batches from other nodes of a
  // cluster) once there is one.
  std::map<std::string, uint64_t> accepted = {
      {"http", 0}, {"udp", 0}, {"tcp", 0}};
  for (const auto& [proto, n] : stats.accepted) accepted[proto] = n;
  if (ctx.cluster != nullptr) accepted.emplace("cluster", 0);
  for (const auto& [proto, n] : accepted) {
    absl::StrAppend(&out, "canopy_ingest_accepted_total{protocol=\"", proto,
                    "\"} ", n, "\n");
  }
  absl::StrAppend(&out,
                  "# HELP canopy_ingest_rejected_total Inputs rejected, by "
                  "protocol and reason.\n"
                  "# TYPE canopy_ingest_rejected_total counter\n");
  for (const auto& [proto, reasons] : stats.rejected) {
    for (const auto& [reason, n] : reasons) {
      absl::StrAppend(&out, "canopy_ingest_rejected_total{protocol=\"", proto,
                      "\",reason=\"", reason, "\"} ", n, "\n");
    }
  }
  // Per comet worker: one series a worker.
  auto per_worker = [&](const char* name, const char* help, const char* type,
                        uint64_t (*value)(const WorkerFigures&)) {
    if (f.per_worker.empty()) return;
    absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                    type, "\n");
    for (size_t i = 0; i < f.per_worker.size(); ++i) {
      absl::StrAppend(&out, name, "{worker=\"", i, "\"} ",
                      value(f.per_worker[i]), "\n");
    }
  };
  per_worker("canopy_worker_connections",
             "Open HTTP connections, by comet worker.", "gauge",
             [](const WorkerFigures& w) -> uint64_t { return w.connections; });
  per_worker("canopy_worker_waiters",
             "Parked /pull and open /stream requests, by comet worker.",
             "gauge",
             [](const WorkerFigures& w) -> uint64_t { return w.held; });
  per_worker("canopy_worker_requests_total",
             "HTTP requests read, by comet worker.", "counter",
             [](const WorkerFigures& w) { return w.requests; });
  per_worker("canopy_worker_timeouts_total",
             "Connections closed for sending no whole request within "
             "--http_timeout, by comet worker.",
             "counter", [](const WorkerFigures& w) { return w.timed_out; });
  per_worker("canopy_worker_deliveries_total",
             "Comet replies and events written, by comet worker.", "counter",
             [](const WorkerFigures& w) { return w.deliveries; });
  if (!f.remote_write.empty()) {
    auto per_target = [&](const char* name, const char* help, const char* type,
                          double (*value)(const RemoteTargetFigures&)) {
      absl::StrAppend(&out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ",
                      type, "\n");
      for (const RemoteTargetFigures& t : f.remote_write) {
        absl::StrAppend(&out, name, "{url=\"", PromEscape(t.url), "\"} ",
                        PromNumber(value(t)), "\n");
      }
    };
    per_target("canopy_remote_write_sent_samples_total",
               "Samples a remote_write receiver took.", "counter",
               [](const RemoteTargetFigures& t) {
                 return static_cast<double>(t.sent);
               });
    per_target("canopy_remote_write_requests_total",
               "remote_write requests a receiver took.", "counter",
               [](const RemoteTargetFigures& t) {
                 return static_cast<double>(t.requests);
               });
    per_target("canopy_remote_write_retried_total",
               "remote_write requests that failed (5xx, network) and are "
               "sent again.",
               "counter", [](const RemoteTargetFigures& t) {
                 return static_cast<double>(t.retried);
               });
    per_target("canopy_remote_write_dropped_samples_total",
               "Samples in remote_write requests refused with a 4xx.",
               "counter", [](const RemoteTargetFigures& t) {
                 return static_cast<double>(t.dropped);
               });
    per_target("canopy_remote_write_lag_seconds",
               "Age of the oldest window not yet sent.", "gauge",
               [](const RemoteTargetFigures& t) { return t.lag; });
    counter("canopy_remote_write_intake_dropped_total",
            "Windows remote_write could not queue (its outbox failing).",
            static_cast<double>(f.remote_intake_dropped));
  }
  std::vector<std::string> keys = request.Params("key");
  if (!keys.empty()) {
    // The leaves, named as remote_write names them (one mapping:
    // server/remote/prom_names.h), each family under one HELP and TYPE.
    std::vector<std::string> families(std::size(kPromFamilies));
    int64_t now = ctx.now;
    QueryBudget budget(ctx.options->query);
    for (const std::string& k : keys) {
      absl::StatusOr<Pattern> p = Pattern::Parse(k);
      if (!p.ok()) continue;
      size_t n = 0;
      tree->Collect(
          *p, 0,
          [&](const LeafView& leaf) {
            LiveValue v =
                leaf.node->Live(leaf.action, now, tree->step_seconds());
            PromFigures fig = FiguresOfLive(leaf.action, v);
            ForEachPromSample(fig, [&](const PromSample& s) {
              std::string& text = families[s.family];
              absl::StrAppend(&text, s.name, "{");
              bool first = true;
              for (const PromLabel& l : SampleLabels(leaf.key, s)) {
                if (l.name == "__name__") continue;
                absl::StrAppend(&text, first ? "" : ",", l.name, "=\"",
                                PromEscape(l.value), "\"");
                first = false;
              }
              absl::StrAppend(&text, "} ", PromNumber(s.value), "\n");
            });
            return ++n < ctx.options->get_limit;
          },
          &budget);
      if (budget.exceeded()) return QueryRefused(budget, ctx);
    }
    for (size_t i = 0; i < families.size(); ++i) {
      if (families[i].empty()) continue;
      const PromFamily& fam = kPromFamilies[i];
      absl::StrAppend(&out, "# HELP ", fam.name, " ", fam.help, "\n# TYPE ",
                      fam.name, " ", PromTypeName(fam.type), "\n", families[i]);
    }
  }
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = std::move(out);
  return r;
}

}  // namespace canopy
