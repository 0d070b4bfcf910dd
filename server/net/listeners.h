// The UDP and TCP ingest listeners: StatsD, Graphite and JSON from
// datagrams (read with recvmmsg, a round at a time as one batch) and from
// newline-delimited TCP streams, checked against --allow and protected mode
// (server/net/protection.h) and handed to the
// line ingest (server/ingest/line_ingest.h) or, for a JSON datagram, to
// ApplyJsonPush.
//
//   canopy::Listeners listeners(base, &tree, &ingest, &stats, &options,
//                               &protection);
//   if (absl::Status s = listeners.Start(); !s.ok()) ...
//
// A TCP connection silent for --tcp_idle_timeout is closed; when
// --max_tcp_connections (ServerOptions) are open, a new one closes the
// connection silent the longest (both counted in /metrics).
//
// Back-pressure: while history has more than kPauseAboveWindows ended
// windows not yet written (set_backlog), TCP connections are not read (the
// sender's socket fills and it waits, as TCP makes it), and read again once
// the backlog is under half of that. A burst of dated lines then costs
// bounded memory instead of queuing every window it ends. UDP cannot wait
// (the kernel drops what overflows its buffer, counted); HTTP pushes are
// not held.
//
// Threads: the event-loop thread, which owns the tree, runs every callback;
// the listeners own their sockets and TCP connections.
#ifndef CANOPY_SERVER_NET_LISTENERS_H_
#define CANOPY_SERVER_NET_LISTENERS_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "canopy/tree.h"
#include "server/ingest/line_ingest.h"
#include "server/log.h"
#include "server/net/address.h"
#include "server/net/protection.h"
#include "server/options.h"
#include "server/stats.h"

struct event;
struct event_base;
struct evconnlistener;
struct bufferevent;

namespace canopy {

class Listeners {
 public:
  // `ingest` applies what arrives; it and the others outlive the
  // listeners.
  // `protection` says which peers are let in (--allow, protected mode).
  Listeners(event_base* base, Tree* tree, LineIngest* ingest, Stats* stats,
            const ServerOptions* options, const Protection* protection);
  ~Listeners();
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;

  absl::Status Start();
  // How many ended windows wait for history (the tree's, the hand-over's
  // and the trend thread's queue); unset: never paused.
  // `hand_over` is called as connections pause: the windows waiting in the
  // tree go to the trend thread now rather than at the next tick.
  void set_backlog(std::function<size_t()> backlog,
                   std::function<void()> hand_over) {
    backlog_ = std::move(backlog);
    hand_over_ = std::move(hand_over);
  }
  static constexpr size_t kPauseAboveWindows = 65536;
  // History that has not caught up after this long is taken as stuck:
  // connections are read again (see OnResume).
  static constexpr int64_t kMaxPauseSeconds = 5;
  // Times a TCP connection was paused for the backlog.
  uint64_t tcp_paused() const { return tcp_paused_; }
  int udp_port() const { return udp_port_; }
  int tcp_port() const { return tcp_port_; }
  size_t tcp_connections() const { return tcp_connections_; }
  // TCP connections closed for silence past --tcp_idle_timeout, and closed
  // to make room for a new one when the cap was reached.
  uint64_t tcp_idle_closed() const { return tcp_idle_closed_; }
  uint64_t tcp_evicted() const { return tcp_evicted_; }
  // Datagrams the kernel dropped on the UDP socket before we read them.
  uint64_t kernel_drops() const;
  int udp_rcvbuf() const { return udp_rcvbuf_; }

 private:
  struct TcpConn;
  static void OnUdp(int fd, short what, void* arg);
  static void OnUdpPoll(int fd, short what, void* arg);
  static void OnAccept(evconnlistener* l, int fd, sockaddr* addr, int len,
                       void* arg);
  static void OnTcpRead(bufferevent* bev, void* arg);
  static void OnTcpEvent(bufferevent* bev, short what, void* arg);
  // Once a second: closes the connections silent past --tcp_idle_timeout.
  static void OnTcpIdle(int fd, short what, void* arg);
  // Reads and applies what the socket holds, up to a limit; the number of
  // datagrams read.
  int ReadUdp();
  void CloseTcp(TcpConn* conn);
  // Stops reading `conn` until the backlog falls (OnResume).
  void Pause(TcpConn* conn);
  static void OnResume(int fd, short what, void* arg);

  event_base* base_;
  Tree* tree_;
  Stats* stats_;
  const ServerOptions* options_;
  LineIngest* ingest_;
  const Protection* protection_;
  RateLimit json_log_{10};  // rejected JSON datagrams, logged
  int udp_fd_ = -1;
  event* udp_event_ = nullptr;
  event* udp_poll_ = nullptr;  // the timer that reads under load
  evconnlistener* tcp_listener_ = nullptr;
  int udp_port_ = 0;
  int tcp_port_ = 0;
  int udp_rcvbuf_ = 0;
  size_t tcp_connections_ = 0;
  // Open connections, the least recently active first (freed at the end).
  std::list<TcpConn*> tcp_conns_;
  event* tcp_idle_ = nullptr;
  uint64_t tcp_idle_closed_ = 0;
  uint64_t tcp_evicted_ = 0;
  std::function<size_t()> backlog_;
  std::function<void()> hand_over_;
  event* resume_ = nullptr;  // polls the backlog while connections wait
  size_t paused_ = 0;        // connections not read for the backlog
  int64_t paused_at_ = 0;    // when the first of them was paused
  bool stuck_ = false;       // history stuck: no pausing until it catches up
  uint64_t tcp_paused_ = 0;
  // recvmmsg buffers.
  std::unique_ptr<char[]> bufs_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_LISTENERS_H_
