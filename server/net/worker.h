// A comet worker: one event loop on a thread of its own that owns its HTTP
// connections. Every worker listens on the --http port (SO_REUSEPORT: the
// kernel spreads connections over them), reads and parses requests
// (request_parse.h, over libhttp-parser) and sends each to the tree's thread
// as a ToTree::kCall; the answer comes back as a reply to write, or as a
// hold: the request is a comet waiter, and the hub's deliveries are written
// here, to a connection this worker owns — a pull's reply or a stream's
// event in one writev, the body shared with every waiter that gets the same
// bytes, no allocation but the connection's own.
//
// A pull's waiter is kept between polls (Hub::Park with keep; a pull the
// tree answered at once gets one too, kHold with its reply): when its
// client asks the same /pull again on the same connection (the same
// target but for since=, the same Authorization) from the seq of the last
// reply written to it, the worker parks it itself, with no Request made,
// no pattern parsed and nothing asked of the tree but a note (kResumed);
// a reply the hub delivered meanwhile is held (one at most) and written at
// once. Anything else the connection asks releases the waiter (kRelease)
// and goes the usual way: the tree answers from the cursor, so nothing is
// lost. Such a re-poll is not counted against --max_waiters again: its
// waiter kept its place.
//
// /healthz is answered here, without the tree. A connection has
// --http_timeout (60 s) to send each whole request, headers and body, and
// --http_header_timeout (10 s) from a request's first byte to the end of
// its headers: idle keep-alive connections, clients too slow to finish a
// request and slowloris senders are closed. Every open socket counts
// against --max_connections (over every worker); the kReserveConnections
// past it may ask /healthz or /metrics within 2 s (anything else gets 503),
// so that a flood never hides the server's health: when the reserve is
// full, a new connection closes the oldest reserve connection that has
// not asked yet (else it gets 503 and is closed). A
// client that hangs up while held is seen at once (its socket stays
// watched for reading) and the tree is told (kGone). A stream whose unsent
// output passes 1 MiB is reported backed up (kBacklogged) and drained
// (kDrained); past 8 MiB it is closed.
//
//   canopy::Worker w(0, &options, &to_tree, &open_connections);
//   if (absl::Status s = w.Listen(address, len); !s.ok()) ...   // at start
//   w.Start();                      // the thread
//   w.mailbox().Post(ToWorker...);  // from the tree's thread
//   w.Stop();                       // closes everything, joins
//
// Threads: Listen, Start and Stop are called by the thread that owns the
// Worker (the tree's); everything else runs on the worker's own thread.
// The figures are atomics, read from any thread.
#ifndef CANOPY_SERVER_NET_WORKER_H_
#define CANOPY_SERVER_NET_WORKER_H_

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "server/log.h"
#include "server/net/mailbox.h"
#include "server/net/messages.h"
#include "server/options.h"

struct event;
struct event_base;
struct evconnlistener;

namespace canopy {

class Worker {
 public:
  // Connections past --max_connections kept for /healthz and /metrics.
  static constexpr size_t kReserveConnections = 64;

  // `to_tree` and `open_connections` (shared by every worker) outlive it.
  Worker(uint32_t index, const ServerOptions* options, Mailbox<ToTree>* to_tree,
         std::atomic<size_t>* open_connections);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds and listens on `addr` with SO_REUSEPORT; the bound port.
  absl::StatusOr<int> Listen(const sockaddr* addr, socklen_t len);
  void Start();
  // Closes every connection and ends the thread.
  void Stop();

  Mailbox<ToWorker>& mailbox() { return mailbox_; }

  // Figures, for /metrics.
  size_t connections() const { return connections_.load(); }
  size_t held() const { return held_count_.load(); }
  uint64_t requests() const { return requests_.load(); }
  uint64_t deliveries() const { return deliveries_.load(); }
  uint64_t refused() const { return refused_.load(); }
  uint64_t timed_out() const { return timed_out_.load(); }

 private:
  struct Conn;

  static void OnAccept(evconnlistener* l, int fd, sockaddr* addr, int len,
                       void* arg);
  static void OnAcceptError(evconnlistener* l, void* arg);
  static void OnMail(int fd, short what, void* arg);
  static void OnReadable(int fd, short what, void* arg);
  static void OnWritable(int fd, short what, void* arg);
  static void OnTimer(int fd, short what, void* arg);
  static void OnReap(int fd, short what, void* arg);

  void Mail();
  void Read(Conn* c);
  // Parses what `c` holds while it is reading, answering what it can.
  void Process(Conn* c);
  void Reply(Conn* c, const Response& r);
  // A pull's reply: `body` as JSON, after a head formatted in place.
  void WriteJsonReply(Conn* c, const std::string& body);
  // The request just parsed is the kept waiter's /pull again from its
  // cursor: parks it (or answers it with the held reply); true if so.
  bool Repoll(Conn* c);
  // Lets go of the kept waiter of a connection between polls.
  void Release(Conn* c);
  void Hold(Conn* c, ToWorker& m);
  void Deliver(ToWorker& m);
  // Writes `parts` (after what is pending), queueing what the socket does
  // not take; false if the connection failed.
  bool Write(Conn* c, const struct iovec* parts, int n);
  void Written(Conn* c);
  // The one closing path: the connection leaves the maps now, its memory at
  // the end of the loop turn (OnReap).
  void Close(Conn* c);
  // Closes the oldest reserve connection still waiting for its request;
  // false if there is none.
  bool EvictReserve();
  // Starts `c`'s timer: `seconds` from now.
  void ArmTimer(Conn* c, int seconds);
  // Gives `c` --http_timeout to send a whole request.
  void AwaitRequest(Conn* c);
  // Tells the tree's thread what became of `waiter` (kGone, kExpire, ...).
  void Tell(ToTree::Kind kind, uint64_t waiter);

  const uint32_t index_;
  const ServerOptions* options_;
  Mailbox<ToTree>* to_tree_;
  std::atomic<size_t>* open_connections_;
  Mailbox<ToWorker> mailbox_;
  event_base* base_ = nullptr;
  evconnlistener* listener_ = nullptr;
  event* mail_event_ = nullptr;
  event* reap_event_ = nullptr;
  std::thread thread_;

  // Owned by the worker's thread:
  uint64_t next_conn_ = 1;
  absl::flat_hash_map<uint64_t, Conn*> conns_;
  absl::flat_hash_map<uint64_t, Conn*> by_waiter_;
  std::vector<Conn*> dead_;
  std::deque<uint64_t> reserve_ids_;  // reserve connections, oldest first
  int spare_fd_ = -1;  // given up to accept-and-close when out of fds
  RateLimit accept_log_;
  std::unique_ptr<char[]> read_buffer_;
  // Seconds -> libevent's common timeout for that duration (ArmTimer).
  absl::flat_hash_map<int, const struct timeval*> common_timeouts_;

  std::atomic<size_t> connections_{0};
  std::atomic<size_t> held_count_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> deliveries_{0};
  std::atomic<uint64_t> refused_{0};
  std::atomic<uint64_t> timed_out_{0};  // connections idle past --http_timeout
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_WORKER_H_
