// The comet workers (worker.h), seen from the tree's thread: it starts them
// on the --http address, answers the requests they send (the route table,
// router.h; Deferred work through the trend thread), parks holds with the
// hub (server/comet/hub.h) and is the hub's sink: what the hub delivers is
// gathered per worker during a flush and posted to each worker once, every
// body shared by the waiters that get the same bytes.
//
//   canopy::Workers workers(base, &tree, &stats, &options, trend,
//                           [&] { return Context(); });
//   if (absl::Status s = workers.Start(); !s.ok()) ...
//   workers.hub().waiters();
//
// Threads: everything here but the workers themselves runs on the tree's
// thread (the event loop of `base`), which owns the tree and the hub.
#ifndef CANOPY_SERVER_NET_WORKERS_H_
#define CANOPY_SERVER_NET_WORKERS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "canopy/tree.h"
#include "server/comet/hub.h"
#include "server/handlers/request.h"
#include "server/net/mailbox.h"
#include "server/net/messages.h"
#include "server/net/worker.h"
#include "server/options.h"
#include "server/stats.h"
#include "server/trend/thread.h"

struct event;
struct event_base;

namespace canopy {

class Workers : public Hub::Sink {
 public:
  // `trend` may be null (no history). Every pointer outlives the Workers.
  Workers(event_base* base, Tree* tree, Stats* stats,
          const ServerOptions* options, TrendThread* trend,
          std::function<HandlerContext()> context);
  // Stops the workers (closing their connections) and frees the waiters.
  ~Workers() override;
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // Listens on --http with --comet_threads workers and starts them.
  absl::Status Start();
  // Stops the workers; the hub's waiters are freed.
  void Stop();

  int port() const { return port_; }
  Hub& hub() { return hub_; }
  const Hub& hub() const { return hub_; }
  size_t connections() const { return open_connections_.load(); }
  size_t workers() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_[i]; }

  // Hub::Sink
  bool Deliver(Hub::WaiterId id, const std::shared_ptr<const std::string>& body,
               uint64_t seq, bool stream) override;
  void Release(Hub::WaiterId id, bool close) override {}
  void ScheduleFlush() override;

 private:
  static void OnMail(int fd, short what, void* arg);
  static void OnFlush(int fd, short what, void* arg);
  void Mail();
  void Call(ToTree& m);
  void Park(uint32_t worker, uint64_t conn, Hold hold, int64_t now);
  void Send(uint32_t worker, ToWorker m);
  // Posts what each worker's outbox holds.
  void PostOutboxes();

  event_base* base_;
  Tree* tree_;
  Stats* stats_;
  const ServerOptions* options_;
  TrendThread* trend_;
  std::function<HandlerContext()> context_;
  Mailbox<ToTree> mailbox_;
  event* mail_event_ = nullptr;
  event* flush_event_ = nullptr;
  std::atomic<size_t> open_connections_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::vector<ToWorker>> outboxes_;  // one per worker
  int port_ = 0;
  Hub hub_;  // last: freed first, while the workers are still there
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_WORKERS_H_
