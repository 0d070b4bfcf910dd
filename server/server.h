// canopyd's lifecycle: it owns the tree, the line ingest, comet's held
// requests and hub, the HTTP front, the UDP/TCP listeners and the trend
// thread, wires them together, and starts and stops them.
//
//   canopy::ServerOptions options;
//   options.http = "127.0.0.1:0";
//   canopy::Server server(options);
//   if (absl::Status s = server.Start(); !s.ok()) { /* one line, exit 1 */ }
//   server.Run();  // until SIGTERM or SIGINT
//
// The rooms it wires (each file opens with what it owns):
//   server/net/       the network edge: the comet workers (HTTP connections
//                     on threads of their own), the route table and tokens,
//                     the UDP and TCP listeners
//   server/ingest/    line ingest (StatsD, Graphite), the name index, the
//                     one function that applies a JSON push
//   server/comet/     waiters, watch lists, coalescing, reply bodies
//   server/handlers/  a file per endpoint family, plain functions
//   server/trend/     history in LevelDB and the thread that owns it
//
// Threads: Run() runs the loop on the calling thread (the tree's thread),
// which then owns the tree, the hub's waiters, the stats and the UDP/TCP
// sockets; --comet_threads workers own the HTTP connections and talk to it
// through mailboxes (server/net/workers.h); the trend thread owns the trend
// store and gets closed windows through a bounded queue.
#ifndef CANOPY_SERVER_SERVER_H_
#define CANOPY_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "canopy/tree.h"
#include "server/cluster/cluster.h"
#include "server/durable_file.h"
#include "server/handlers/figures.h"
#include "server/handlers/request.h"
#include "server/handlers/view_store.h"
#include "server/ingest/line_ingest.h"
#include "server/log.h"
#include "server/net/listeners.h"
#include "server/net/protection.h"
#include "server/net/workers.h"
#include "server/options.h"
#include "server/remote/sender.h"
#include "server/stats.h"
#include "server/trend/thread.h"

struct event;
struct event_base;

namespace canopy {

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Raises the fd limit, restores the tree, binds the listeners and writes
  // --ready_file.
  absl::Status Start();
  // Runs until SIGTERM/SIGINT; returns the process exit code.
  int Run();

  int http_port() const { return workers_ ? workers_->port() : 0; }
  Tree& tree() { return *tree_; }

 private:
  static void OnSignal(int sig, short what, void* arg);
  static void OnTick(int fd, short what, void* arg);
  static void OnTrendWake(int fd, short what, void* arg);
  // Frees the trend thread after it has written all it holds.
  void StopTrend();
  // Every second: closed windows to the trend thread, the snapshot when it
  // is due, the expire sweep; every step: the server's own figures into
  // canopy,self,... (canopy,self,NODE,... in a cluster, sent to its owner)
  void Tick();
  void WriteSelfFigures(int64_t now);

  // What a handler may use, for a request arriving now.
  HandlerContext Context();
  ServerFigures Figures() const;

  void SubmitWindows(bool all);
  // Writes the tree's snapshot: through the trend thread, or here when
  // `now_here` (at the stop) or when there is no trend thread.
  // False if it failed (only known when `now_here`).
  bool WriteSnapshot(bool now_here);
  absl::Status RestoreSnapshot();
  // After the restore: continues above the seq reservation on disk if the
  // last stop was not clean, and reserves the next block.
  absl::Status GuardSeq();
  absl::Status ReserveSeq();

  ServerOptions options_;
  Stats stats_;
  std::unique_ptr<Tree> tree_;
  event_base* base_ = nullptr;
  event* sigterm_ = nullptr;
  event* sigint_ = nullptr;
  event* tick_ = nullptr;
  event* trend_wake_ = nullptr;  // the trend thread's answers are ready
  std::unique_ptr<LineIngest> ingest_;
  AccessLogRunners access_logs_;  // POST /push accesslog=
  // remote_write (before trend_: the trend thread hands it windows, so it
  // is destroyed after the trend thread).
  std::unique_ptr<RemoteWriter> remote_;
  std::unique_ptr<TrendThread> trend_;
  std::unique_ptr<Workers> workers_;  // HTTP and comet
  Protection protection_;             // built by Start, before any door opens
  std::unique_ptr<Listeners> listeners_;
  uint64_t restored_seq_ = 0;  // the tree's seq as its snapshot restored it
  std::unique_ptr<Cluster> cluster_;  // a node of a cluster, or none
  std::unique_ptr<ViewStore> views_;
  std::vector<ClosedWindow> pending_windows_;  // not yet taken by trend_
  // Ended windows go to history in slices of this many (Tree::CloseWindows),
  // the next slice built once the trend thread has written the one before:
  // so the windows in flight cost ~20 MB, not 1.3 GB at ten million leaves.
  static constexpr size_t kHandOverSlice = 131072;
  bool handing_over_ = false;  // a slice in the trend thread, more to come
  // Tree::nodes_removed() when memory was last given back
  // (ReleaseAfterRemovals, once a tick).
  uint64_t removed_mark_ = 0;
  void ReleaseAfterRemovals();
  int64_t next_snapshot_ = 0;
  uint64_t snapshot_seq_ = 0;
  // A periodic snapshot is written and waits for the trend thread to make
  // it durable (WriteSnapshot skips the next until it is).
  bool snapshot_in_flight_ = false;
  RateLimit snapshot_log_;  // failed snapshots, logged
  std::unique_ptr<SeqReservation> seq_reservation_;
  RateLimit seq_log_;  // failed reservations, logged
  void Expire(int64_t now);
  std::vector<ExpireRule> expire_;
  int64_t next_expire_ = 0;
  int64_t expire_interval_ = 0;
  int64_t self_window_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_SERVER_H_
