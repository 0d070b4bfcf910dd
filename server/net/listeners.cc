#include "server/net/listeners.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <list>

#include "absl/strings/str_cat.h"
#include "server/ingest/json_ingest.h"
#include "server/log.h"

namespace canopy {
namespace {

constexpr size_t kUdpBatch = 64;
constexpr size_t kUdpBufferBytes = 65536;
// The receive buffers sit in one block, each 7 cache lines further from a
// 64 KiB boundary than the one before: at a 64 KiB stride every datagram
// would land in the same cache sets and evict the ones just received.
constexpr size_t kUdpBufferStride = kUdpBufferBytes + 7 * 64;
constexpr int kUdpRoundsPerEvent = 16;  // then let other sockets run
// Under load the socket is read on a timer instead of on every wake-up:
// a wake that finds this many datagrams waiting turns polling on, every
// kUdpPollInterval; a poll that finds fewer turns it off again. At 1 M
// lines/s that is a thousand wake-ups a second instead of tens of
// thousands, for at most a millisecond more before a line is applied.
constexpr int kUdpPollAbove = 8;
constexpr timeval kUdpPollInterval = {0, 1000};
constexpr int kUdpReceiveBuffer = 8 << 20;

}  // namespace

struct Listeners::TcpConn {
  Listeners* self = nullptr;
  bufferevent* bev = nullptr;
  bool discarding = false;              // inside a line longer than the limit
  bool paused = false;                  // not read until the backlog falls
  std::list<TcpConn*>::iterator place;  // in tcp_conns_, newest data last
  int64_t last_active = 0;              // when it last sent (or connected)
  sockaddr_storage peer = {};           // for the log of a rejected line
};

Listeners::Listeners(event_base* base, Tree* tree, LineIngest* ingest,
                     Stats* stats, const ServerOptions* options,
                     const Protection* protection)
    : base_(base),
      tree_(tree),
      stats_(stats),
      options_(options),
      ingest_(ingest),
      protection_(protection) {}

Listeners::~Listeners() {
  while (!tcp_conns_.empty()) CloseTcp(tcp_conns_.back());
  if (tcp_idle_) event_free(tcp_idle_);
  if (resume_) event_free(resume_);
  if (udp_event_) event_free(udp_event_);
  if (udp_poll_) event_free(udp_poll_);
  if (udp_fd_ >= 0) close(udp_fd_);
  if (tcp_listener_) evconnlistener_free(tcp_listener_);
}

absl::Status Listeners::Start() {
  if (options_->udp != "off") {
    sockaddr_storage ss;
    socklen_t len;
    if (absl::Status s = ParseSocketAddress(options_->udp, &ss, &len);
        !s.ok()) {
      return s;
    }
    udp_fd_ =
        socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(udp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(udp_fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on udp ", options_->udp, ": ", std::strerror(errno)));
    }
    // A large receive buffer rides out bursts; FORCE passes rmem_max when
    // we may.
    int want = kUdpReceiveBuffer;
    if (setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) !=
        0) {
      setsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    }
    socklen_t sl = sizeof udp_rcvbuf_;
    getsockopt(udp_fd_, SOL_SOCKET, SO_RCVBUF, &udp_rcvbuf_, &sl);
    udp_port_ = BoundPort(udp_fd_);
    // Not zeroed: a page is only touched once a datagram reaches it.
    bufs_.reset(new char[kUdpBatch * kUdpBufferStride]);
    udp_event_ = event_new(base_, udp_fd_, EV_READ | EV_PERSIST,
                           &Listeners::OnUdp, this);
    udp_poll_ = evtimer_new(base_, &Listeners::OnUdpPoll, this);
    event_add(udp_event_, nullptr);
    CANOPY_LOG("canopyd listening on udp %s (port %d, receive buffer %d)",
               options_->udp, udp_port_, udp_rcvbuf_);
  }
  if (options_->tcp != "off") {
    sockaddr_storage ss;
    socklen_t len;
    if (absl::Status s = ParseSocketAddress(options_->tcp, &ss, &len);
        !s.ok()) {
      return s;
    }
    tcp_listener_ = evconnlistener_new_bind(
        base_, &Listeners::OnAccept, this,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, -1,
        reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
    if (tcp_listener_ == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen on tcp ", options_->tcp, ": ", std::strerror(errno)));
    }
    tcp_port_ = BoundPort(evconnlistener_get_fd(tcp_listener_));
    // One deadline for every connection, checked against the least recently
    // active one (the front of tcp_conns_).
    tcp_idle_ = evtimer_new(base_, &Listeners::OnTcpIdle, this);
    timeval sweep = {1, 0};
    event_add(tcp_idle_, &sweep);
    resume_ = evtimer_new(base_, &Listeners::OnResume, this);
    CANOPY_LOG("canopyd listening on tcp %s (port %d)", options_->tcp,
               tcp_port_);
  }
  return absl::OkStatus();
}

void Listeners::OnUdp(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  if (self->ReadUdp() >= kUdpPollAbove) {
    event_del(self->udp_event_);
    event_add(self->udp_poll_, &kUdpPollInterval);
  }
}

void Listeners::OnUdpPoll(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  const int n = self->ReadUdp();
  if (n >= static_cast<int>(kUdpBatch) * kUdpRoundsPerEvent) {
    const timeval now = {0, 0};  // more is waiting: after the other events
    event_add(self->udp_poll_, &now);
  } else if (n >= kUdpPollAbove) {
    event_add(self->udp_poll_, &kUdpPollInterval);
  } else {
    event_add(self->udp_event_, nullptr);
  }
}

uint64_t Listeners::kernel_drops() const {
  // The socket's own count of datagrams dropped for want of buffer space.
  uint32_t info[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof info;
  if (udp_fd_ < 0 ||
      getsockopt(udp_fd_, SOL_SOCKET, SO_MEMINFO, info, &len) != 0 ||
      len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return 0;
  }
  return info[SK_MEMINFO_DROPS];
}

int Listeners::ReadUdp() {
  mmsghdr msgs[kUdpBatch];
  iovec iovs[kUdpBatch];
  sockaddr_storage addrs[kUdpBatch];
  int64_t now = time(nullptr);
  int total = 0;
  for (int round = 0; round < kUdpRoundsPerEvent; ++round) {
    for (size_t i = 0; i < kUdpBatch; ++i) {
      iovs[i].iov_base = bufs_.get() + i * kUdpBufferStride;
      iovs[i].iov_len = kUdpBufferBytes;
      std::memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      // The source: for --allow, protected mode and the log of a
      // rejected line.
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
    }
    int n = recvmmsg(udp_fd_, msgs, kUdpBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return total;
    total += n;
    // The lines of this round's datagrams are applied together.
    bool batch_open = false;
    for (int i = 0; i < n; ++i) {
      msghdr& h = msgs[i].msg_hdr;
      if (!protection_->Admits(Door::kUdp,
                               reinterpret_cast<sockaddr*>(&addrs[i]))) {
        ++stats_->rejected["udp"]["denied"];
        continue;
      }
      if (h.msg_flags & MSG_TRUNC) {
        ++stats_->rejected["udp"]["too_long"];
        continue;
      }
      absl::string_view dgram(bufs_.get() + i * kUdpBufferStride,
                              msgs[i].msg_len);
      ++stats_->udp_datagrams;
      if (StartsJson(dgram)) {
        if (batch_open) ingest_->Flush(now);  // in order with the lines
        JsonApplied applied =
            ApplyJsonPush(tree_, dgram, now, ingest_->forwarder());
        CountJsonPush(applied, "udp", stats_);
        uint64_t dropped = 0;
        if (!applied.status.ok() && json_log_.Allow(&dropped)) {
          CANOPY_WARN(
              "rejected udp JSON datagram from %s (%s): %s%s",
              PeerText(reinterpret_cast<sockaddr*>(&addrs[i])), applied.reason,
              std::string(applied.status.message()),
              dropped ? absl::StrCat(" (", dropped, " more not logged)") : "");
        }
      } else {
        if (!batch_open) {
          ingest_->Begin("udp");
          batch_open = true;
        }
        ingest_->Add(dgram, now, reinterpret_cast<sockaddr*>(&addrs[i]));
      }
    }
    if (batch_open) ingest_->End("udp", now);
    if (static_cast<size_t>(n) < kUdpBatch) return total;
  }
  return total;
}

void Listeners::OnAccept(evconnlistener*, int fd, sockaddr* addr, int,
                         void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  if (!self->protection_->Admits(Door::kTcp, addr)) {
    ++self->stats_->rejected["tcp"]["denied"];
    close(fd);
    return;
  }
  if (self->tcp_connections_ >= self->options_->max_tcp_connections) {
    // Full: the connection silent the longest makes room, so that idle
    // connections never lock new senders out.
    ++self->tcp_evicted_;
    self->CloseTcp(self->tcp_conns_.front());
  }
  bufferevent* bev =
      bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    close(fd);
    return;
  }
  TcpConn* conn = new TcpConn;
  conn->self = self;
  conn->bev = bev;
  if (addr != nullptr) {
    std::memcpy(&conn->peer, addr,
                addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                            : sizeof(sockaddr_in));
  }
  ++self->tcp_connections_;
  conn->place = self->tcp_conns_.insert(self->tcp_conns_.end(), conn);
  conn->last_active = time(nullptr);
  bufferevent_setcb(bev, &Listeners::OnTcpRead, nullptr, &Listeners::OnTcpEvent,
                    conn);
  bufferevent_enable(bev, EV_READ);
}

void Listeners::OnTcpRead(bufferevent* bev, void* arg) {
  TcpConn* conn = static_cast<TcpConn*>(arg);
  Listeners* self = conn->self;
  conn->last_active = time(nullptr);
  self->tcp_conns_.splice(self->tcp_conns_.end(), self->tcp_conns_,
                          conn->place);
  evbuffer* in = bufferevent_get_input(bev);
  size_t max_line = self->options_->max_line;
  while (true) {
    size_t len = evbuffer_get_length(in);
    if (len == 0) return;
    if (self->backlog_) {
      const size_t backlog = self->backlog_();
      if (backlog <= kPauseAboveWindows / 2) self->stuck_ = false;
      if (!self->stuck_ && backlog > kPauseAboveWindows) {
        self->Pause(conn);
        return;
      }
    }
    // Up to 1 MiB of complete lines at a time, in one contiguous piece.
    size_t window =
        std::min<size_t>(len, std::max<size_t>(1 << 20, max_line + 1));
    const char* data = reinterpret_cast<const char*>(
        evbuffer_pullup(in, static_cast<ev_ssize_t>(window)));
    const char* nl = static_cast<const char*>(memrchr(data, '\n', window));
    if (nl == nullptr) {
      if (len > max_line) {
        // A line past the limit is dropped up to its newline; the
        // connection stays open for the lines after it.
        if (!conn->discarding) ++self->stats_->rejected["tcp"]["too_long"];
        conn->discarding = true;
        evbuffer_drain(in, len);
      }
      return;
    }
    size_t take = static_cast<size_t>(nl - data) + 1;
    absl::string_view chunk(data, take);
    if (conn->discarding) {
      chunk.remove_prefix(chunk.find('\n') + 1);
      conn->discarding = false;
    }
    self->ingest_->ApplyLines(chunk, "tcp", time(nullptr),
                              reinterpret_cast<sockaddr*>(&conn->peer));
    evbuffer_drain(in, take);
  }
}

void Listeners::OnTcpEvent(bufferevent* bev, short what, void* arg) {
  TcpConn* conn = static_cast<TcpConn*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    // A last line without a newline still counts.
    evbuffer* in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    if (len > 0 && !conn->discarding && len <= conn->self->options_->max_line) {
      const char* data = reinterpret_cast<const char*>(evbuffer_pullup(in, -1));
      conn->self->ingest_->ApplyLines(absl::string_view(data, len), "tcp",
                                      time(nullptr),
                                      reinterpret_cast<sockaddr*>(&conn->peer));
    }
    conn->self->CloseTcp(conn);
  }
}

void Listeners::OnTcpIdle(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  int64_t before = time(nullptr) - self->options_->tcp_idle_timeout;
  while (!self->tcp_conns_.empty() &&
         self->tcp_conns_.front()->last_active <= before) {
    TcpConn* c = self->tcp_conns_.front();
    if (c->paused) {  // waiting for us, not silent
      c->last_active = time(nullptr);
      self->tcp_conns_.splice(self->tcp_conns_.end(), self->tcp_conns_,
                              c->place);
      continue;
    }
    ++self->tcp_idle_closed_;
    self->CloseTcp(c);
  }
  timeval sweep = {1, 0};
  event_add(self->tcp_idle_, &sweep);
}

void Listeners::Pause(TcpConn* conn) {
  if (conn->paused) return;
  if (paused_ == 0) paused_at_ = time(nullptr);
  conn->paused = true;
  ++paused_;
  ++tcp_paused_;
  bufferevent_disable(conn->bev, EV_READ);
  if (hand_over_) hand_over_();
  if (!evtimer_pending(resume_, nullptr)) {
    timeval soon = {0, 5000};
    evtimer_add(resume_, &soon);
  }
}

void Listeners::OnResume(int, short, void* arg) {
  Listeners* self = static_cast<Listeners*>(arg);
  if (self->paused_ == 0) return;
  timeval soon = {0, 5000};
  if (self->backlog_() > kPauseAboveWindows / 2) {
    // History that does not catch up within kMaxPauseSeconds is stuck (a
    // full disk, a store being reopened): ingest goes on, the live tree
    // with it, and the windows wait in memory as they did before, until
    // the backlog is down to half again.
    if (time(nullptr) - self->paused_at_ < kMaxPauseSeconds) {
      if (self->hand_over_) self->hand_over_();
      evtimer_add(self->resume_, &soon);
      return;
    }
    self->stuck_ = true;
  }
  // Each paused connection once (reading one may pause it again, and it
  // moves to the back of tcp_conns_ as it is read).
  std::vector<TcpConn*> waiting;
  for (TcpConn* c : self->tcp_conns_) {
    if (c->paused) waiting.push_back(c);
  }
  const int64_t now = time(nullptr);
  for (TcpConn* c : waiting) {
    c->paused = false;
    --self->paused_;
    c->last_active = now;  // a pause is not silence (--tcp_idle_timeout)
    bufferevent_enable(c->bev, EV_READ);
    OnTcpRead(c->bev, c);  // what was read before the pause
  }
  if (self->paused_ > 0 && !evtimer_pending(self->resume_, nullptr)) {
    evtimer_add(self->resume_, &soon);
  }
}

void Listeners::CloseTcp(TcpConn* conn) {
  if (conn->paused) --paused_;
  bufferevent_free(conn->bev);
  --tcp_connections_;
  tcp_conns_.erase(conn->place);
  delete conn;
}

}  // namespace canopy
