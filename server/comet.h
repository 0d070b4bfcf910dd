// Comet: long-poll (/pull) and Server-Sent Events (/stream) waiters.
//
// A waiter is a held request that wants the leaves under some patterns that
// changed after its seq. It is registered at the node each pattern's fixed
// prefix names (a WatchList, bound to the node through Tree::SetWatch, or
// waiting unbound until that node is created). A change walks from the leaf
// to the root (Tree::Touch) and marks the lists it passes; marked waiters are
// answered once per loop iteration by Flush(), which runs at the lowest event
// priority, so a burst of pushes costs each waiter one coalesced reply, and
// waiters that share patterns and seq share one reply body.
//
// A client that hangs up is seen through EV_CLOSED on its socket (evhttp 2.1
// stops reading a held connection, so it would not notice by itself) or
// through evhttp's close callback; the waiter is then freed in Flush(), and
// only there, never inside the callback that noticed.
//
// Threads: a Hub and its waiters belong to the event-loop thread.
#ifndef CANOPY_SERVER_COMET_H_
#define CANOPY_SERVER_COMET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "server/options.h"
#include "server/stats.h"

struct event;
struct event_base;
struct evhttp_request;
struct evhttp_connection;

namespace canopy {

class Hub : public TreeObserver {
 public:
  Hub(event_base* base, Tree* tree, Stats* stats, const ServerOptions* options);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Answers a /pull now if something under `patterns` changed after `since`
  // (or the cursor cannot be honoured), else parks it until a change or
  // `timeout_s`. Takes over `req`.
  void Pull(evhttp_request* req, std::vector<Pattern> patterns, bool has_since,
            uint64_t since, int timeout_s);

  // Starts an SSE stream: a first event with the current leaves (or the
  // changes after `since`), then one event per coalesced change.
  void Stream(evhttp_request* req, std::vector<Pattern> patterns,
              bool has_since, uint64_t since);

  // evhttp closed `evcon` (it noticed the client left, or is shutting down).
  void ConnectionClosed(evhttp_connection* evcon);

  size_t waiters() const { return waiter_count_; }
  size_t streams() const { return stream_count_; }
  size_t watch_lists() const { return lists_.size(); }
  bool Full() const { return waiter_count_ >= options_->max_waiters; }

  // Frees every waiter (replying nothing); for shutdown.
  void CloseAll();

  // TreeObserver
  void OnChange(void* watch) override;
  void OnWatchRemoved(void* watch) override;
  bool WantsCreates() const override { return unbound_ > 0; }
  void OnNodeCreated(Node* node) override;

 private:
  struct WatchList;
  struct Waiter;

  Waiter* NewWaiter(evhttp_request* req, std::vector<Pattern> patterns,
                    uint64_t since, bool stream);
  void Register(Waiter* w);
  void Mark(Waiter* w);
  void ScheduleFlush();
  void Flush();
  // Writes a reply (pull) or an event (stream); false if a stream is
  // backed up and must wait for its buffer to drain.
  bool Deliver(Waiter* w, const std::string& body, uint64_t seq);
  void Finish(Waiter* w);  // detaches and frees a waiter
  void Kill(Waiter* w);    // the client is gone: free at the next Flush

  static void OnFlush(int fd, short what, void* arg);
  static void OnTimer(int fd, short what, void* arg);
  static void OnClosed(int fd, short what, void* arg);
  static void OnDrained(evhttp_connection* evcon, void* arg);

  event_base* base_;
  Tree* tree_;
  Stats* stats_;
  const ServerOptions* options_;
  event* flush_event_;
  bool flush_scheduled_ = false;

  absl::flat_hash_map<std::string, std::unique_ptr<WatchList>> lists_;
  size_t unbound_ = 0;
  std::vector<Waiter*> marked_;
  std::vector<Waiter*> dead_;
  absl::flat_hash_map<evhttp_connection*, Waiter*> by_connection_;
  size_t waiter_count_ = 0;
  size_t stream_count_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_COMET_H_
