// The server's own figures that live outside the tree and the Stats: the
// comet hub's, the listeners', the connections' and the trend thread's,
// gathered by the Server for GET /metrics (HandlerContext::figures).
//
// Plain values, copied on the event-loop thread.
#ifndef CANOPY_SERVER_HANDLERS_FIGURES_H_
#define CANOPY_SERVER_HANDLERS_FIGURES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/remote/sender.h"

namespace canopy {

// One comet worker's figures.
struct WorkerFigures {
  size_t connections = 0;
  size_t held = 0;  // parked /pull and open /stream requests
  uint64_t requests = 0;
  uint64_t deliveries = 0;
  uint64_t refused = 0;    // connections past --max_connections
  uint64_t timed_out = 0;  // connections closed past --http_timeout
};

struct ServerFigures {
  uint64_t snapshot_seq = 0;  // the seq of the last snapshot on disk
  size_t waiters = 0;
  size_t streams = 0;
  size_t watch_lists = 0;
  size_t connections = 0;  // open HTTP connections
  size_t max_waiters = 0;
  int udp_rcvbuf = 0;
  size_t tcp_connections = 0;
  uint64_t tcp_idle_closed = 0;  // silent past --tcp_idle_timeout
  uint64_t tcp_evicted = 0;      // closed for a new one at the cap
  uint64_t tcp_paused = 0;       // not read while history caught up
  uint64_t kernel_drops = 0;
  bool history = false;  // the trend figures below are set
  size_t trend_series = 0;
  size_t trend_queued_batches = 0;
  size_t trend_queued_windows = 0;
  size_t trend_pending_windows = 0;  // closed windows the queue refused
  uint64_t trend_queue_full = 0;     // times the queue refused a batch
  double trend_flush_lag = 0;
  uint64_t trend_disk_bytes = 0;
  uint64_t trend_cache_bytes = 0;
  uint64_t trend_windows_written = 0;
  uint64_t trend_write_errors = 0;
  uint64_t trend_corruptions = 0;  // damage found in the store
  uint64_t trend_retention_deleted = 0;
  std::vector<WorkerFigures> per_worker;
  std::vector<RemoteTargetFigures> remote_write;  // per --remote_write URL
  uint64_t remote_intake_dropped = 0;
};

// This process's resident set size in bytes (0 if it cannot be read).
size_t ResidentBytes();

}  // namespace canopy

#endif  // CANOPY_SERVER_HANDLERS_FIGURES_H_
