#include "server/server.h"

#include <event2/event.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "canopy/memory.h"
#include "server/durable_file.h"
#include "server/log.h"

namespace canopy {

Server::Server(ServerOptions options) : options_(std::move(options)) {
  Tree::Options t;
  t.step_seconds = options_.step_seconds;
  t.max_nodes = options_.max_nodes;
  t.history = options_.history;
  tree_ = std::make_unique<Tree>(t);
  stats_.start_time = time(nullptr);
}

Server::~Server() {
  // The workers first: their connections go, and the waiters with them.
  workers_.reset();
  listeners_.reset();
  cluster_.reset();
  StopTrend();
  if (tick_) event_free(tick_);
  if (sigterm_) event_free(sigterm_);
  if (sigint_) event_free(sigint_);
  if (base_) event_base_free(base_);
}

absl::Status Server::Start() {
  // Waiters each hold a socket: take every file descriptor we may.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    stats_.fd_limit = rl.rlim_cur;
    // Every descriptor is budgeted, so that a flood of one kind never takes
    // another's (issue 18): the HTTP connections and the reserve past them
    // (worker.h), then the TCP ingest connections, then kOtherFiles for the
    // listeners, LevelDB's tables (max_open_files) and the small files.
    constexpr size_t kOtherFiles = 512;
    const size_t limit = rl.rlim_cur;
    size_t http_room = limit > 3000 ? limit - 1500 : limit / 2;
    options_.max_connections = std::min(options_.max_connections, http_room);
    options_.max_waiters =
        std::min(options_.max_waiters, options_.max_connections);
    size_t used =
        options_.max_connections + Worker::kReserveConnections + kOtherFiles;
    size_t tcp_room = limit > used + 16 ? limit - used : 16;
    options_.max_tcp_connections =
        std::min(options_.max_tcp_connections, tcp_room);
    CANOPY_LOG(
        "open files: limit %d; HTTP connections %d (and %d more for /healthz "
        "and /metrics), waiters %d, TCP ingest connections %d",
        limit, options_.max_connections, Worker::kReserveConnections,
        options_.max_waiters, options_.max_tcp_connections);
  }
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create --data_dir=", options_.data_dir, ": ", ec.message()));
  }

  if (!options_.cluster.empty()) {
    // The NATS client adds and removes the loop's events from its own
    // threads too (server/cluster/nats_loop.h): a base with locks.
    NatsLoop::UseThreadSafeBases();
  }
  event_config* cfg = event_config_new();
  event_config_require_features(cfg, EV_FEATURE_EARLY_CLOSE);
  // Coalesce the epoll changes of one loop turn: a delivered waiter drops its
  // close watch and gains a write event in the same turn, one epoll_ctl.
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (base_ == nullptr) base_ = event_base_new();
  if (base_ == nullptr) return absl::InternalError("cannot create event base");
  // 0: signals; 1 (default): sockets and timers; 2: the comet flush, which
  // thus runs after every ready socket of an iteration has been served.
  event_base_priority_init(base_, 3);
  ingest_ = std::make_unique<LineIngest>(tree_.get(), &stats_);

  if (absl::Status s = RestoreSnapshot(); !s.ok()) return s;
  restored_seq_ = tree_->seq();
  if (absl::Status s = GuardSeq(); !s.ok()) return s;
  views_ = std::make_unique<ViewStore>(options_.data_dir + "/views.json");
  if (absl::Status s = views_->Load(); !s.ok()) return s;
  next_snapshot_ = time(nullptr) + options_.snapshot_interval;

  if (!options_.history && !options_.remote_write.empty()) {
    return absl::InvalidArgumentError(
        "--remote_write sends history: it needs --history");
  }
  if (options_.history) {
    absl::StatusOr<Retention> retention = Retention::Parse(options_.retention);
    if (!retention.ok()) return retention.status();
    absl::StatusOr<std::unique_ptr<TrendStore>> store = TrendStore::Open(
        options_.data_dir + "/trend", *retention,
        /*env=*/nullptr, options_.trend_repair,
        StoreMemory{
            .cache_bytes = static_cast<size_t>(options_.trend_cache_mb) << 20,
            .write_buffer_bytes =
                static_cast<size_t>(options_.trend_write_buffer_mb) << 20});
    if (!store.ok()) return store.status();
    absl::StatusOr<std::vector<std::string>> urls =
        ParseRemoteWrite(options_.remote_write);
    if (!urls.ok()) return urls.status();
    std::function<void(std::vector<ClosedWindow>*)> on_written;
    if (!urls->empty()) {
      absl::StatusOr<std::unique_ptr<Outbox>> outbox =
          Outbox::Open(options_.data_dir + "/remote_write");
      if (!outbox.ok()) return outbox.status();
      RemoteWriter::Options ro;
      ro.step = retention->levels[0].step;
      ro.timeout = options_.remote_write_timeout;
      remote_ = std::make_unique<RemoteWriter>(std::move(*outbox),
                                               std::move(*urls), ro);
      RemoteWriter* remote = remote_.get();
      on_written = [remote](std::vector<ClosedWindow>* w) {
        remote->Enqueue(w);
      };
    }
    trend_ =
        std::make_unique<TrendThread>(std::move(*store), std::move(on_written));
    trend_wake_ = event_new(base_, trend_->wake_fd(), EV_READ | EV_PERSIST,
                            &Server::OnTrendWake, this);
    event_add(trend_wake_, nullptr);
  }

  absl::StatusOr<Protection> protection = Protection::From(options_);
  if (!protection.ok()) return protection.status();
  protection_ = std::move(*protection);
  for (const Protection::Line& line : protection_.StartupLines()) {
    if (line.warning) {
      CANOPY_WARN("canopyd %s", line.text);
    } else {
      CANOPY_LOG("canopyd %s", line.text);
    }
  }

  if (options_.http != "off") {
    workers_ =
        std::make_unique<Workers>(base_, tree_.get(), &stats_, &options_,
                                  trend_.get(), [this] { return Context(); });
    if (absl::Status s = workers_->Start(); !s.ok()) return s;
  }

  if (!options_.cluster.empty()) {
    absl::StatusOr<ClusterConfig> config = ParseClusterConfig(
        options_.cluster, options_.node, options_.shards, options_.shard_depth,
        options_.cluster_batch_ms, options_.cluster_replica_idle_s);
    if (!config.ok()) return config.status();
    if (workers_) {
      // Where the other nodes reach this one's HTTP (/trend of keys it
      // owns): the --http host, or this machine's name if that is a
      // wildcard.
      std::string host = options_.http.substr(0, options_.http.rfind(':'));
      if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
        char name[256] = {};
        gethostname(name, sizeof name - 1);
        host = name;
      }
      config->http = absl::StrCat(host, ":", http_port());
    }
    config->journal_dir = options_.data_dir + "/cluster";
    absl::StatusOr<std::unique_ptr<Cluster>> cluster =
        Cluster::Start(*config, base_, ingest_.get(), tree_.get(), &stats_);
    if (!cluster.ok()) return cluster.status();
    cluster_ = std::move(*cluster);
    // What this shard acknowledged after its last snapshot.
    if (absl::Status s = cluster_->Recover(restored_seq_); !s.ok()) return s;
    ingest_->set_forwarder(cluster_.get());
    if (workers_) {
      cluster_->set_watched([this](absl::string_view key) {
        return workers_->hub().Watched(key);
      });
    }
  }

  listeners_ = std::make_unique<Listeners>(base_, tree_.get(), ingest_.get(),
                                           &stats_, &options_, &protection_);
  if (absl::Status s = listeners_->Start(); !s.ok()) return s;
  if (trend_) {
    listeners_->set_backlog(
        [this] {
          return tree_->ended_windows() + pending_windows_.size() +
                 trend_->queued_windows();
        },
        [this] { SubmitWindows(/*all=*/false); });
  }
  absl::StatusOr<std::vector<ExpireRule>> expire = ParseExpire(options_.expire);
  if (!expire.ok()) return expire.status();
  expire_ = std::move(*expire);
  for (const ExpireRule& r : expire_) {
    // Sweep a few times per shortest duration, at most every second.
    int64_t every = std::max<int64_t>(1, r.seconds / 4);
    expire_interval_ =
        expire_interval_ ? std::min(expire_interval_, every) : every;
  }
  tick_ = event_new(base_, -1, EV_PERSIST, &Server::OnTick, this);
  struct timeval tick = {1, 0};
  event_add(tick_, &tick);

  sigterm_ = evsignal_new(base_, SIGTERM, &Server::OnSignal, this);
  sigint_ = evsignal_new(base_, SIGINT, &Server::OnSignal, this);
  event_priority_set(sigterm_, 0);
  event_priority_set(sigint_, 0);
  event_add(sigterm_, nullptr);
  event_add(sigint_, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!options_.ready_file.empty()) {
    std::string tmp = options_.ready_file + ".tmp";
    {
      std::ofstream f(tmp);
      f << "http=" << http_port() << " udp=" << listeners_->udp_port()
        << " tcp=" << listeners_->tcp_port() << "\n";
      if (!f) {
        return absl::FailedPreconditionError(
            absl::StrCat("cannot write --ready_file=", options_.ready_file));
      }
    }
    std::rename(tmp.c_str(), options_.ready_file.c_str());
  }
  return absl::OkStatus();
}

int Server::Run() {
  event_base_dispatch(base_);
  CANOPY_LOG("canopyd stopping: %d waiters released, %d leaves in the tree",
             static_cast<int>(workers_ ? workers_->hub().waiters() : 0),
             static_cast<int>(tree_->leaf_count()));
  if (workers_) workers_->Stop();
  if (cluster_) {
    // What waits for other shards goes now; their acknowledgements are
    // awaited a little.
    cluster_->Drain(2000);
    ingest_->set_forwarder(nullptr);
  }
  if (trend_) {
    // A clean stop loses nothing: every open window goes to history, and
    // the trend thread writes all it holds before it ends.
    SubmitWindows(/*all=*/true);
    while (!pending_windows_.empty()) {
      if (!trend_->SubmitWindows(&pending_windows_)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
  }
  // The trend thread ends after writing everything queued (a periodic
  // snapshot among it); the last snapshot, written here, comes after.
  StopTrend();
  if (WriteSnapshot(/*now_here=*/true)) {
    // Every change is in the snapshot: the next start continues at its
    // seq, and the clients' cursors stay good.
    if (absl::Status s = seq_reservation_->Reserve(tree_->seq()); !s.ok()) {
      CANOPY_LOG("%s", std::string(s.message()));
    }
  }
  CANOPY_LOG("canopyd stopped: history flushed, tree saved");
  return 0;
}

namespace {

std::string SnapshotPath(const ServerOptions& o) {
  return o.data_dir + "/tree.snapshot";
}

}  // namespace

absl::Status Server::GuardSeq() {
  seq_reservation_ =
      std::make_unique<SeqReservation>(options_.data_dir + "/seq.reserved");
  absl::StatusOr<uint64_t> reserved = seq_reservation_->Load();
  if (!reserved.ok()) return reserved.status();
  if (*reserved > tree_->seq()) {
    // Seqs up to the mark may have been handed out and their changes lost
    // (kill -9, a crash, power): continue above them, and every cursor
    // from before answers with a reset.
    CANOPY_LOG(
        "canopyd did not stop cleanly: changes after seq %d are lost; the seq "
        "continues above %d and clients resynchronise",
        tree_->seq(), *reserved);
    tree_->StartAbove(*reserved);
  }
  return ReserveSeq();
}

absl::Status Server::ReserveSeq() {
  absl::Status s =
      seq_reservation_->Reserve(tree_->seq() + SeqReservation::kBlock);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot reserve seq numbers: ", s.message()));
  }
  return s;
}

bool Server::WriteSnapshot(bool now_here) {
  // One at a time: the next would write over the temporary file the trend
  // thread is still to sync and rename.
  if (!now_here && snapshot_in_flight_) return true;
  // Built here a few megabytes at a time into the page cache (the tree
  // belongs to this thread); made durable (fsync, rename) on the trend
  // thread unless `now_here`.
  auto file = std::make_shared<AtomicFile>(SnapshotPath(options_));
  std::string piece;
  const uint64_t seq = tree_->seq();
  // A cluster's write journal goes on in a file of this seq's: the older
  // ones are this snapshot's once it is on disk.
  if (cluster_) cluster_->BeginJournal(seq);
  tree_->Snapshot(&piece,
                  [&file](const std::string& bytes) { file->Append(bytes); });
  if (now_here || !trend_) {
    if (absl::Status s = file->Commit(); !s.ok()) {
      CANOPY_ERROR("snapshot failed: %s", std::string(s.message()));
      return false;
    }
    if (cluster_) cluster_->ForgetJournal(seq);
    return true;
  }
  // The outcome is read back on the loop.
  auto result = std::make_shared<absl::Status>();
  snapshot_in_flight_ = true;
  trend_->Run([file, result](TrendStore&) { *result = file->Commit(); },
              [this, result, seq] {
                snapshot_in_flight_ = false;
                if (result->ok()) {
                  snapshot_seq_ = seq;
                  if (cluster_) cluster_->ForgetJournal(seq);
                } else if (snapshot_log_.Allow()) {
                  CANOPY_ERROR("snapshot failed: %s",
                               std::string(result->message()));
                }
              });
  return true;
}

absl::Status Server::RestoreSnapshot() {
  std::string path = SnapshotPath(options_);
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::OkStatus();  // a first start
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
  fclose(f);
  auto start = std::chrono::steady_clock::now();
  if (absl::Status s = tree_->Restore(bytes); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": ", s.message(),
                     " (move it away to start with an empty tree)"));
  }
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  CANOPY_LOG("restored %d leaves (seq %d) from %s in %.0f ms",
             static_cast<int>(tree_->leaf_count()),
             static_cast<int>(tree_->seq()), path, ms);
  return absl::OkStatus();
}

void Server::SubmitWindows(bool all) {
  int64_t now = time(nullptr);
  if (all) {
    tree_->CloseAllWindows(&pending_windows_);
    if (cluster_) cluster_->DropReplicaWindows(&pending_windows_);
    if (!pending_windows_.empty()) trend_->SubmitWindows(&pending_windows_);
    return;
  }
  // A slice is being written: when it is, its done callback goes on.
  if (handing_over_) return;
  bool more = false;
  while (pending_windows_.empty()) {
    more = tree_->CloseWindows(now, &pending_windows_, kHandOverSlice);
    // A replica's windows are its owner's to keep.
    if (cluster_) cluster_->DropReplicaWindows(&pending_windows_);
    if (!more) break;
  }
  if (pending_windows_.empty()) return;
  // When the queue is full the windows stay here and go with the next tick.
  if (!trend_->SubmitWindows(&pending_windows_)) return;
  if (more) {
    // Queued behind the slice: runs once it is written (or set aside for
    // a retry: then the queue's bounds stop the chain).
    handing_over_ = true;
    trend_->Run([](TrendStore&) {},
                [this] {
                  handing_over_ = false;
                  SubmitWindows(/*all=*/false);
                });
  }
}

HandlerContext Server::Context() {
  HandlerContext ctx;
  ctx.tree = tree_.get();
  ctx.stats = &stats_;
  ctx.options = &options_;
  ctx.now = static_cast<int64_t>(time(nullptr));
  ctx.lines = ingest_.get();
  ctx.cluster = cluster_.get();
  ctx.access_logs = &access_logs_;
  ctx.views = views_.get();
  ctx.history = trend_ != nullptr;
  ctx.waiters = workers_ ? workers_->hub().waiters() : 0;
  ctx.protection = &protection_;
  ctx.figures = [this] { return Figures(); };
  return ctx;
}

void Server::OnSignal(int sig, short, void* arg) {
  Server* self = static_cast<Server*>(arg);
  CANOPY_LOG("canopyd got %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  event_base_loopexit(self->base_, nullptr);
}

void Server::OnTrendWake(int, short, void* arg) {
  static_cast<Server*>(arg)->trend_->RunDone();
}

void Server::StopTrend() {
  if (trend_wake_) event_free(trend_wake_);
  trend_wake_ = nullptr;
  trend_.reset();
  remote_.reset();  // appends what the trend thread handed it to the outbox
}

void Server::OnTick(int, short, void* arg) {
  static_cast<Server*>(arg)->Tick();
}

void Server::Tick() {
  int64_t now = time(nullptr);
  if (tree_->seq() + SeqReservation::kBlock / 2 >
      seq_reservation_->reserved()) {
    if (absl::Status s = ReserveSeq(); !s.ok() && seq_log_.Allow()) {
      CANOPY_LOG("%s", std::string(s.message()));
    }
  }
  if (trend_) SubmitWindows(/*all=*/false);
  if (options_.snapshot_interval > 0 && now >= next_snapshot_) {
    next_snapshot_ = now + options_.snapshot_interval;
    WriteSnapshot(/*now_here=*/false);
  }
  if (!expire_.empty()) Expire(now);
  ReleaseAfterRemovals();
  WriteSelfFigures(now);
}

// --expire: each rule's sweep in slices of one query's budget a tick, so
// that a sweep of millions of leaves never holds the loop for long.
void Server::Expire(int64_t now) {
  const bool start = now >= next_expire_;
  if (start) next_expire_ = now + expire_interval_;
  for (ExpireRule& r : expire_) {
    if (!r.sweeping && !start) continue;
    r.sweeping = true;
    QueryBudget budget(options_.query);
    const std::string before = r.resume;
    stats_.expired +=
        tree_->Expire(r.pattern, now - r.seconds, &budget, &r.resume);
    if (budget.exceeded() && r.resume == before) {
      // Not one leaf within a budget (a node wider than it): this sweep
      // goes whole, once, rather than never.
      stats_.expired +=
          tree_->Expire(r.pattern, now - r.seconds, nullptr, &r.resume);
    }
    ++stats_.expire_slices;
    r.sweeping = budget.exceeded() && !r.resume.empty();
    if (!r.sweeping) r.resume.clear();
  }
}

void Server::ReleaseAfterRemovals() {
  // Once DELETE of subtrees or --expire removed an eighth of the tree or
  // more (and 10 000 nodes) since the last time, the memory they held goes
  // back to the system.
  const size_t nodes = tree_->node_count();
  const uint64_t removed = tree_->nodes_removed() - removed_mark_;
  if (removed < std::max<uint64_t>((nodes + removed) / 8, 10000)) return;
  removed_mark_ = tree_->nodes_removed();
  const uint64_t before = ReadProcessMemory().rss;
  size_t slabs = tree_->ReleaseMemory();
  CANOPY_LOG(
      "%d nodes left after removals: %d MB of node slabs given back, "
      "RSS %d -> %d MB",
      static_cast<int>(nodes), static_cast<int>(slabs >> 20),
      static_cast<int>(before >> 20),
      static_cast<int>(ReadProcessMemory().rss >> 20));
}

}  // namespace canopy
