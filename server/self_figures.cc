// The server's own figures: what /metrics shows (Server::Figures, read
// by the handlers through HandlerContext::figures) and, once a window, the
// same kind of figures as leaves of the tree under canopy,self,...
// (canopy,self,NODE,... on a node of a cluster, sent to its owner like any
// push). Part of the Server (server.h); runs on the tree's thread.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "canopy/memory.h"
#include "canopy/number_text.h"
#include "server/cluster/cluster.h"
#include "server/ingest/json_ingest.h"
#include "server/log.h"
#include "server/server.h"

namespace canopy {

ServerFigures Server::Figures() const {
  ServerFigures f;
  f.snapshot_seq = snapshot_seq_;
  if (workers_) {
    const Hub& hub = workers_->hub();
    f.waiters = hub.waiters();
    f.streams = hub.streams();
    f.watch_lists = hub.watch_lists();
    f.connections = workers_->connections();
    for (size_t i = 0; i < workers_->workers(); ++i) {
      const Worker& w = workers_->worker(i);
      f.per_worker.push_back({w.connections(), w.held(), w.requests(),
                              w.deliveries(), w.refused(), w.timed_out()});
    }
  }
  f.max_waiters = options_.max_waiters;
  f.udp_rcvbuf = listeners_->udp_rcvbuf();
  f.tcp_connections = listeners_->tcp_connections();
  f.tcp_idle_closed = listeners_->tcp_idle_closed();
  f.tcp_evicted = listeners_->tcp_evicted();
  f.tcp_paused = listeners_->tcp_paused();
  f.kernel_drops = listeners_->kernel_drops();
  if (trend_) {
    f.history = true;
    f.trend_series = trend_->series();
    f.trend_queued_batches = trend_->queued_batches();
    f.trend_queued_windows = trend_->queued_windows();
    f.trend_queue_full = trend_->queue_full();
    f.trend_pending_windows = pending_windows_.size();
    f.trend_flush_lag = trend_->flush_lag();
    f.trend_disk_bytes = trend_->disk_bytes();
    f.trend_cache_bytes = TrendStore::CacheBytes();
    f.trend_windows_written = trend_->windows_written();
    f.trend_write_errors = trend_->write_errors();
    f.trend_corruptions = trend_->corruptions();
    f.trend_retention_deleted = trend_->retention_deleted();
  }
  if (remote_) {
    f.remote_write = remote_->Targets();
    f.remote_intake_dropped = remote_->intake_dropped();
  }
  return f;
}

void Server::WriteSelfFigures(int64_t now) {
  // The server's own figures, once per window, as leaves of the tree.
  int64_t window = now / options_.step_seconds;
  if (window == self_window_) return;
  self_window_ = window;
  std::vector<std::pair<std::string, double>> figures;  // keys below self
  for (const char* proto : {"http", "udp", "tcp"}) {
    auto it = stats_.accepted.find(proto);
    figures.emplace_back(
        absl::StrCat("ingest,", proto, ",accepted"),
        it == stats_.accepted.end() ? 0 : static_cast<double>(it->second));
    auto rej = stats_.rejected.find(proto);
    if (rej != stats_.rejected.end()) {
      for (const auto& [reason, n] : rej->second) {
        figures.emplace_back(
            absl::StrCat("ingest,", proto, ",rejected,", reason),
            static_cast<double>(n));
      }
    }
  }
  figures.emplace_back("ingest,udp,kernel_drops",
                       static_cast<double>(listeners_->kernel_drops()));
  figures.emplace_back("tree,nodes", static_cast<double>(tree_->node_count()));
  figures.emplace_back("tree,leaves", static_cast<double>(tree_->leaf_count()));
  figures.emplace_back(
      "comet,waiters",
      static_cast<double>(workers_ ? workers_->hub().waiters() : 0));
  figures.emplace_back("memory,rss", static_cast<double>(ResidentBytes()));
  if (cluster_ != nullptr) {
    // One tree for the cluster: each node's figures under its name, sent
    // to the owner of canopy,self like any push (its history keeps them,
    // every node reads them).
    std::string push = "{\"defaultaction\": \"last\"";
    for (const auto& [key, value] : figures) {
      absl::StrAppend(&push, ", \"canopy,self,", cluster_->config().node, ",",
                      key, "\": ", NumberText(value));
    }
    push += "}";
    JsonApplied r = ApplyJsonPush(tree_.get(), push, now, cluster_.get());
    if (!r.status.ok()) CANOPY_LOG("own figures: %s", r.status.message());
    return;
  }
  tree_->BeginChange();
  for (const auto& [key, value] : figures) {
    std::vector<absl::string_view> segs = {"canopy", "self"};
    for (absl::string_view seg : absl::StrSplit(key, ',')) segs.push_back(seg);
    LineSample s;
    s.action = Action::kLast;
    s.value = value;
    (void)tree_->AddSample(segs, s, now);
  }
}

}  // namespace canopy
