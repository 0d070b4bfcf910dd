// The thin adapter between comet (server/comet/hub.h) and evhttp: it holds
// the /pull and /stream requests that the hub's waiters stand for, writes
// what the hub delivers, and tells the hub when a client leaves or a pull's
// time is up.
//
// evhttp 2.1 stops reading a connection while its request is held, so a
// client that hangs up would not be noticed until we write: the socket is
// watched for the peer's close (EV_CLOSED) here, and evhttp's close callback
// is passed on too (ConnectionClosed). Either way the hub frees the waiter
// at its next Flush, which runs at the lowest event priority, after every
// ready socket of the loop turn. A stream whose output passes a high-water
// mark is backed up until it drains (evhttp's chunk callback), then gets
// one coalesced event; a comment line every 15 s keeps proxies from closing
// an idle stream.
//
//   canopy::HeldRequests held(base, &tree, &stats);
//   held.Take(req, std::move(hold));   // from the router's Hold
//   held.hub().waiters();
//
// Threads: the event-loop thread, which owns the tree, the hub and every
// held request.
#ifndef CANOPY_SERVER_NET_HELD_REQUESTS_H_
#define CANOPY_SERVER_NET_HELD_REQUESTS_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "canopy/tree.h"
#include "server/comet/hub.h"
#include "server/handlers/request.h"
#include "server/stats.h"

struct event;
struct event_base;
struct evhttp_request;
struct evhttp_connection;

namespace canopy {

class HeldRequests : public Hub::Sink {
 public:
  HeldRequests(event_base* base, Tree* tree, Stats* stats);
  ~HeldRequests() override;
  HeldRequests(const HeldRequests&) = delete;
  HeldRequests& operator=(const HeldRequests&) = delete;

  // Answers `req` now or parks it as `hold` says; takes over `req`.
  void Take(evhttp_request* req, Hold hold);
  // evhttp closed `evcon` (it noticed the client left, or is shutting down).
  void ConnectionClosed(evhttp_connection* evcon);
  // Frees every waiter (replying nothing); for shutdown.
  void CloseAll() { hub_.CloseAll(); }

  Hub& hub() { return hub_; }
  const Hub& hub() const { return hub_; }

  // Hub::Sink
  bool Deliver(Hub::WaiterId id, const std::string& body, uint64_t seq,
               bool stream) override;
  void Release(Hub::WaiterId id, bool close) override;
  void ScheduleFlush() override;

 private:
  struct Held;
  Held* NewHeld(Hub::WaiterId id, evhttp_request* req, bool stream);
  // The client is gone: no more events for it; the hub frees it.
  void Gone(Held* h);

  static void OnFlush(int fd, short what, void* arg);
  static void OnTimer(int fd, short what, void* arg);
  static void OnClosed(int fd, short what, void* arg);
  static void OnDrained(evhttp_connection* evcon, void* arg);

  event_base* base_;
  Tree* tree_;
  Stats* stats_;
  event* flush_event_;
  absl::flat_hash_map<Hub::WaiterId, Held*> held_;
  absl::flat_hash_map<evhttp_connection*, Held*> by_connection_;
  Hub hub_;  // last: its destructor releases the held requests above
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_HELD_REQUESTS_H_
