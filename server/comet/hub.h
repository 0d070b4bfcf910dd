// Comet: the waiters of long-poll (/pull) and Server-Sent Events (/stream).
//
// A waiter wants the leaves under some patterns that changed after its seq.
// It is registered at the node each pattern's fixed prefix names (a
// WatchList, bound to the node through Tree::SetWatch, or waiting unbound
// until that node is created). A change walks from the leaf to the root
// (Tree::Touch) and marks the lists it passes; marked waiters are answered
// once per loop turn by Flush(), so a burst of pushes costs each waiter one
// coalesced reply, and waiters that share patterns and seq share one reply
// body.
//
// The hub holds no request and knows no socket: it talks to whoever holds
// the requests (the comet workers, server/net/workers.h) through a Sink,
// by waiter id. A waiter whose client left is marked dead (Gone) and freed
// in Flush(), and only there, never inside the callback that noticed.
//
//   canopy::Hub hub(&tree, &stats, &sink);
//   if (auto body = hub.PullNow(patterns, since, now)) { /* answer now */ }
//   canopy::Hub::WaiterId id = hub.Park(patterns, since, /*stream=*/false);
//   ... sink.ScheduleFlush() is called; at a safe point: hub.Flush(now);
//
// Threads: a Hub and its waiters belong to the thread that owns the tree
// (the event-loop thread); so do the Sink's calls.
#ifndef CANOPY_SERVER_COMET_HUB_H_
#define CANOPY_SERVER_COMET_HUB_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "canopy/key.h"
#include "canopy/tree.h"
#include "server/stats.h"

namespace canopy {

class Hub : public TreeObserver {
 public:
  using WaiterId = uint64_t;

  // What the hub asks of the one who holds the requests.
  class Sink {
   public:
    virtual ~Sink() = default;
    // Writes a pull's reply (the request is then answered) or a stream's
    // event with id `seq`. False when a stream's output is backed up: it
    // is not written, and the sink calls Hub::Drained when it drains.
    virtual bool Deliver(WaiterId id,
                         const std::shared_ptr<const std::string>& body,
                         uint64_t seq, bool stream) = 0;
    // The hub has freed waiter `id`; `close` when its request is still open
    // and its connection must be closed (its client went away).
    virtual void Release(WaiterId id, bool close) = 0;
    // Asks for Flush() soon, after the sockets ready in this loop turn.
    virtual void ScheduleFlush() = 0;
  };

  Hub(Tree* tree, Stats* stats, Sink* sink);
  ~Hub() override;
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // A /pull with a cursor: the reply to send at once when something under
  // `patterns` changed after `since`, or when the cursor cannot be honoured
  // (then every leaf, and "reset": true); nullopt when it should wait.
  // OutOfRange when reading the tree passed the query limits.
  absl::StatusOr<std::optional<std::string>> PullNow(
      const std::vector<Pattern>& patterns, uint64_t since, int64_t now);
  // Parks a /pull until a change under `patterns` after `since`. `route`
  // (below 2^16) is kept in the id's top 16 bits (RouteOf): which comet
  // worker holds the request.
  //
  // With `keep`, the waiter outlives its reply: it stays registered, its
  // seq moved to the reply's, "between polls" (not counted in waiters()),
  // and what changes meanwhile is delivered to it as well — the sink holds
  // that reply for the client's next poll, so that a client polling again
  // from its last reply's seq on the same connection is parked by the sink
  // alone (no request, no pattern parsing, no tree read), and nothing is
  // lost between polls. The sink says when the client polls again
  // (Resumed) and when it is done with the waiter (Gone). With `answered`
  // (and `keep`), the pull was answered at once (PullNow) with the
  // changes up to `since`: the waiter starts between polls.
  WaiterId Park(std::vector<Pattern> patterns, uint64_t since,
                uint32_t route = 0, bool keep = false, bool answered = false);
  // Opens a /stream: `*first` gets its first event (the current leaves, or
  // the changes after `since` when given and honoured) and `*seq` its id;
  // one event per coalesced change follows.
  // OutOfRange, opening nothing, when the first event passed the limits.
  absl::StatusOr<WaiterId> OpenStream(std::vector<Pattern> patterns,
                                      bool has_since, uint64_t since,
                                      int64_t now, std::string* first,
                                      uint64_t* seq, uint32_t route = 0);
  static uint32_t RouteOf(WaiterId id) {
    return static_cast<uint32_t>(id >> 48);
  }

  // A pull's time is up: answers it with no items and frees it.
  void Expire(WaiterId id);
  // The client of `id` went away: freed at the next Flush.
  void Gone(WaiterId id);
  // A kept waiter's client polled again from `since`: parked again, unless
  // a reply after `since` is already on its way to the sink (then it stays
  // between polls).
  void Resumed(WaiterId id, uint64_t since);
  // A stream's output passed its high-water mark (told by a sink that
  // delivers later, on another thread): it is offered nothing until Drained.
  void Backlogged(WaiterId id);
  // A backed-up stream drained: it gets what changed meanwhile.
  void Drained(WaiterId id);
  // Answers the marked waiters, frees the dead ones. A waiter whose reply
  // passes the query limits is freed with its connection closed (counted
  // in Stats::queries_refused): it never gets a partial reply.
  void Flush(int64_t now);
  // What one reply may spend reading the tree (--query_budget,
  // --query_time_ms).
  void SetQueryLimits(const QueryBudget::Limits& limits) { limits_ = limits; }
  // Frees every waiter (replying nothing); for shutdown.
  void CloseAll();

  // Parked pulls and open streams (kept waiters between polls are not).
  size_t waiters() const { return waiter_count_ - between_count_; }
  // Kept waiters between two polls of their client.
  size_t between_polls() const { return between_count_; }
  size_t streams() const { return stream_count_; }
  size_t watch_lists() const { return lists_.size(); }
  // Whether a waiter is registered under the fixed prefix `key` (a comma
  // key), whether or not its node exists.
  bool Watched(absl::string_view key) const;

  // TreeObserver
  void OnChange(void* watch) override;
  void OnWatchRemoved(void* watch) override;
  bool WantsCreates() const override { return unbound_ > 0; }
  void OnNodeCreated(Node* node) override;

 private:
  struct WatchList;
  struct Waiter;

  Waiter* NewWaiter(std::vector<Pattern> patterns, uint64_t since, bool stream,
                    uint32_t route);
  void Register(Waiter* w);
  void Mark(Waiter* w);
  void ScheduleFlush();
  // Frees a waiter and tells the sink (`close`: its connection too).
  void Finish(Waiter* w, bool close);
  Waiter* Find(WaiterId id) const;

  Tree* tree_;
  Stats* stats_;
  Sink* sink_;
  QueryBudget::Limits limits_;
  bool flush_scheduled_ = false;

  absl::flat_hash_map<std::string, std::unique_ptr<WatchList>> lists_;
  absl::flat_hash_map<WaiterId, Waiter*> by_id_;
  WaiterId next_id_ = 1;
  size_t unbound_ = 0;
  std::vector<Waiter*> marked_;
  std::vector<Waiter*> dead_;
  size_t waiter_count_ = 0;
  size_t stream_count_ = 0;
  size_t between_count_ = 0;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_COMET_HUB_H_
