// A comet worker (server/net/worker.h): its connections, reading and
// parsing requests, writing replies, deadlines and closing. The held
// requests and the hub's deliveries are in worker_held.cc.
#include "server/net/worker.h"

#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/net/request_parser.h"
#include "server/net/response_write.h"
#include "server/net/worker_conn.h"

namespace canopy {

using worker_internal::kCommonTimeouts;
using worker_internal::kMaxPendingInput;
using worker_internal::kReadBufferBytes;
using worker_internal::kReapPriority;
using worker_internal::kReserveSeconds;
using worker_internal::Seconds;
using worker_internal::SplitPullTarget;

Worker::Worker(uint32_t index, const ServerOptions* options,
               Mailbox<ToTree>* to_tree, std::atomic<size_t>* open_connections)
    : index_(index),
      options_(options),
      to_tree_(to_tree),
      open_connections_(open_connections),
      read_buffer_(new char[kReadBufferBytes]) {
  event_config* cfg = event_config_new();
  event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
  base_ = event_base_new_with_config(cfg);
  event_config_free(cfg);
  event_base_priority_init(base_, 2);
  mail_event_ = event_new(base_, mailbox_.fd(), EV_READ | EV_PERSIST,
                          &Worker::OnMail, this);
  event_add(mail_event_, nullptr);
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  reap_event_ = event_new(base_, -1, 0, &Worker::OnReap, this);
  event_priority_set(reap_event_, kReapPriority);
}

Worker::~Worker() {
  Stop();
  if (listener_) evconnlistener_free(listener_);
  event_free(mail_event_);
  event_free(reap_event_);
  event_base_free(base_);
  if (spare_fd_ >= 0) close(spare_fd_);
}

absl::StatusOr<int> Worker::Listen(const sockaddr* addr, socklen_t len) {
  int fd =
      socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (fd < 0 || bind(fd, addr, len) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return absl::UnavailableError(why);
  }
  // A deep backlog: thousands of long-poll clients reconnect at once after
  // a restart or a fan-out.
  listener_ = evconnlistener_new(base_, &Worker::OnAccept, this,
                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                 4096, fd);
  if (listener_ == nullptr) {
    close(fd);
    return absl::UnavailableError(std::strerror(errno));
  }
  // Out of file descriptors, libevent 2.1 would retry accept() in a busy
  // loop: pause accepting instead and try again shortly.
  evconnlistener_set_error_cb(listener_, &Worker::OnAcceptError);
  sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  return ntohs(ss.ss_family == AF_INET6
                   ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

void Worker::Start() {
  thread_ = std::thread([this] {
    event_base_dispatch(base_);
    // Stopping: every connection goes.
    std::vector<Conn*> all;
    for (auto& [id, c] : conns_) all.push_back(c);
    for (Conn* c : all) Close(c);
    OnReap(-1, 0, this);
  });
}

void Worker::Stop() {
  if (!thread_.joinable()) return;
  ToWorker stop;
  stop.kind = ToWorker::Kind::kStop;
  mailbox_.Post(std::move(stop));
  thread_.join();
}

void Worker::OnAccept(evconnlistener*, int fd, sockaddr* addr, int len,
                      void* arg) {
  Worker* self = static_cast<Worker*>(arg);
  size_t open = ++*self->open_connections_;
  if (open > self->options_->max_connections + kReserveConnections &&
      self->EvictReserve()) {
    open = self->options_->max_connections + 1;  // it took the freed place
  }
  if (open > self->options_->max_connections + kReserveConnections) {
    --*self->open_connections_;
    ++self->refused_;
    std::string reply;
    Response r = ErrorResponse(
        absl::UnavailableError("too many connections; try again later"));
    AppendResponseHead(r, /*keep_alive=*/false, &reply);
    reply += r.body;
    ssize_t ignored = write(fd, reply.data(), reply.size());
    (void)ignored;
    close(fd);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Conn* c = new Conn(self, self->next_conn_++, fd, self->options_->max_body);
  if (addr != nullptr && len > 0 &&
      static_cast<size_t>(len) <= sizeof c->peer) {
    std::memcpy(&c->peer, addr, static_cast<size_t>(len));
  }
  c->read_event =
      event_new(self->base_, fd, EV_READ | EV_PERSIST, &Worker::OnReadable, c);
  c->write_event =
      event_new(self->base_, fd, EV_WRITE | EV_PERSIST, &Worker::OnWritable, c);
  c->timer = evtimer_new(self->base_, &Worker::OnTimer, c);
  event_add(c->read_event, nullptr);
  if (open > self->options_->max_connections) {
    // One of the reserve: answered if it asks for /healthz or /metrics
    // quickly, so that a flood never hides the server's health.
    c->reserve = true;
    self->reserve_ids_.push_back(c->id);
    c->keep_alive = false;
    c->deadline = Conn::Deadline::kHeaders;
    self->ArmTimer(c, kReserveSeconds);
  } else {
    self->AwaitRequest(c);
  }
  self->conns_[c->id] = c;
  ++self->connections_;
}

bool Worker::EvictReserve() {
  // The oldest reserve connection that has not asked anything yet makes
  // room: a flood that fills the reserve only pushes itself out, and a
  // health check, which asks at once, gets through.
  while (!reserve_ids_.empty()) {
    uint64_t id = reserve_ids_.front();
    reserve_ids_.pop_front();
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second->state != Conn::State::kReading) {
      continue;
    }
    ++refused_;
    Close(it->second);
    return true;
  }
  return false;
}

void Worker::OnAcceptError(evconnlistener* listener, void* arg) {
  Worker* self = static_cast<Worker*>(arg);
  int err = EVUTIL_SOCKET_ERROR();
  if ((err == EMFILE || err == ENFILE) && self->spare_fd_ >= 0) {
    // Out of descriptors (the budget in server.cc should keep this from
    // happening): the spare one lets the waiting client in to be closed at
    // once, instead of hanging in the backlog, as nginx and Redis do.
    close(self->spare_fd_);
    int fd = accept4(evconnlistener_get_fd(listener), nullptr, nullptr,
                     SOCK_CLOEXEC);
    if (fd >= 0) {
      ++self->refused_;
      close(fd);
    }
    self->spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (self->accept_log_.Allow()) {
      CANOPY_LOG("accept failed: %s; a connection was closed unanswered",
                 evutil_socket_error_to_string(err));
    }
    return;
  }
  if (self->accept_log_.Allow()) {
    CANOPY_WARN("accept failed: %s; pausing accepts for 100 ms",
                evutil_socket_error_to_string(err));
  }
  evconnlistener_disable(listener);
  timeval tv = {0, 100 * 1000};
  event_base_once(
      self->base_, -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* l) {
        evconnlistener_enable(static_cast<evconnlistener*>(l));
      },
      listener, &tv);
}

void Worker::OnReadable(int, short, void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  c->worker->Read(c);
}

void Worker::Read(Conn* c) {
  while (!c->dead) {
    ssize_t n = read(c->fd, read_buffer_.get(), kReadBufferBytes);
    if (n > 0) {
      if (c->in.size() + n > kMaxPendingInput &&
          c->state != Conn::State::kReading) {
        Close(c);
        return;
      }
      c->in.append(read_buffer_.get(), static_cast<size_t>(n));
      if (c->state == Conn::State::kReading) Process(c);
      if (static_cast<size_t>(n) < kReadBufferBytes) return;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    Close(c);  // the client hung up (or the connection failed)
    return;
  }
}

void Worker::Process(Conn* c) {
  while (!c->dead && c->state == Conn::State::kReading && !c->in.empty()) {
    size_t used = c->parser.Feed(c->in);
    c->in.erase(0, used);
    switch (c->parser.state()) {
      case RequestParser::State::kNeedMore:
        // A request under way: its headers have --http_header_timeout
        // from its first byte, its body what --http_timeout allows after.
        if (!c->reserve && !c->parser.headers_complete() &&
            c->deadline == Conn::Deadline::kIdle) {
          c->deadline = Conn::Deadline::kHeaders;
          ArmTimer(c, std::min(options_->http_header_timeout,
                               options_->http_timeout));
        } else if (!c->reserve && c->parser.headers_complete() &&
                   c->deadline != Conn::Deadline::kBody) {
          c->deadline = Conn::Deadline::kBody;
          ArmTimer(c, options_->http_timeout);
        }
        if (c->parser.expects_continue() && !c->sent_continue) {
          c->sent_continue = true;
          iovec part = {const_cast<char*>(kContinueHead.data()),
                        kContinueHead.size()};
          Write(c, &part, 1);
        }
        return;
      case RequestParser::State::kError: {
        c->keep_alive = false;
        Reply(c, ErrorResponse(c->parser.error()));
        return;
      }
      case RequestParser::State::kComplete:
        break;
    }
    ++requests_;
    evtimer_del(c->timer);  // the request came in time
    c->keep_alive = c->parser.keep_alive();
    c->head_only = c->parser.head();
    c->sent_continue = false;
    if (c->waiter != 0) {
      if (Repoll(c)) continue;
      Release(c);
    }
    // A /pull: what its next poll looks like, should it be kept (only a
    // GET without a body; anything else keeps nothing).
    c->pull_target.clear();
    if (c->parser.get() && !c->parser.has_body()) {
      uint64_t since;
      bool has_since;
      if (SplitPullTarget(c->parser.target(), &since, &has_since,
                          [c](absl::string_view p) {
                            c->pull_target.append(p.data(), p.size());
                          })) {
        c->pull_authorization.assign(c->parser.authorization().data(),
                                     c->parser.authorization().size());
      } else {
        c->pull_target.clear();
      }
    }
    absl::StatusOr<Request> request = c->parser.TakeRequest();
    c->parser.Reset();
    if (!request.ok()) {
      Reply(c, ErrorResponse(request.status()));
      continue;
    }
    if (c->reserve && request->path != "/healthz" &&
        request->path != "/metrics") {
      ++refused_;
      Reply(c, ErrorResponse(absl::UnavailableError(
                   "too many connections; try again later")));
      return;
    }
    c->keep_alive = c->keep_alive && !c->reserve;
    if (request->path == "/healthz") {
      Response r;
      r.content_type = "text/plain";
      r.body = "OK\n";
      Reply(c, r);
      continue;
    }
    c->state = Conn::State::kCalling;
    ToTree call;
    call.kind = ToTree::Kind::kCall;
    call.worker = index_;
    call.id = c->id;
    call.request = std::move(*request);
    call.request.peer = c->peer;
    to_tree_->Post(std::move(call));
  }
}

void Worker::Reply(Conn* c, const Response& r) {
  std::string head;
  c->keep_alive = AppendResponseHead(r, c->keep_alive, &head);
  iovec parts[2] = {{head.data(), head.size()},
                    {const_cast<char*>(r.body.data()), r.body.size()}};
  c->state = Conn::State::kWriting;
  if (!Write(c, parts, c->head_only ? 1 : 2)) return;
  if (c->out.empty()) Written(c);
}

bool Worker::Write(Conn* c, const iovec* parts, int n) {
  if (c->dead) return false;
  if (!c->out.empty()) {
    for (int i = 0; i < n; ++i) {
      c->out.append(static_cast<const char*>(parts[i].iov_base),
                    parts[i].iov_len);
    }
    return true;
  }
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += parts[i].iov_len;
  ssize_t w;
  do {
    w = writev(c->fd, parts, n);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
    Close(c);
    return false;
  }
  size_t done = w < 0 ? 0 : static_cast<size_t>(w);
  if (done == total) return true;
  // Keep what the socket did not take and write it when it can.
  for (int i = 0; i < n; ++i) {
    size_t len = parts[i].iov_len;
    if (done >= len) {
      done -= len;
      continue;
    }
    c->out.append(static_cast<const char*>(parts[i].iov_base) + done,
                  len - done);
    done = 0;
  }
  event_add(c->write_event, nullptr);
  return true;
}

void Worker::OnWritable(int, short, void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  Worker* self = c->worker;
  ssize_t w = write(c->fd, c->out.data(), c->out.size());
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      self->Close(c);
    }
    return;
  }
  c->out.erase(0, static_cast<size_t>(w));
  if (!c->out.empty()) return;
  event_del(c->write_event);
  self->Written(c);
}

// Everything queued for `c` is written.
void Worker::Written(Conn* c) {
  if (c->dead) return;
  if (c->state == Conn::State::kStreaming) {
    if (c->backlogged) {
      c->backlogged = false;
      Tell(ToTree::Kind::kDrained, c->waiter);
    }
    return;
  }
  if (c->state != Conn::State::kWriting) return;
  if (!c->keep_alive) {
    Close(c);
    return;
  }
  c->state = Conn::State::kReading;
  AwaitRequest(c);
  Process(c);  // a pipelined request may be waiting
}

void Worker::ArmTimer(Conn* c, int seconds) {
  timeval tv = Seconds(seconds);
  const timeval* common = nullptr;
  if (seconds > 0) {
    auto it = common_timeouts_.find(seconds);
    if (it != common_timeouts_.end()) {
      common = it->second;
    } else if (common_timeouts_.size() < kCommonTimeouts) {
      common = event_base_init_common_timeout(base_, &tv);
      common_timeouts_[seconds] = common;
    }
  }
  evtimer_add(c->timer, common != nullptr ? common : &tv);
}

void Worker::AwaitRequest(Conn* c) {
  c->deadline = Conn::Deadline::kIdle;
  ArmTimer(c, options_->http_timeout);
}

void Worker::OnTimer(int, short, void* arg) {
  Conn* c = static_cast<Conn*>(arg);
  Worker* self = c->worker;
  if (c->dead) return;
  if (c->state == Conn::State::kStreaming) {
    // A comment line keeps proxies from closing an idle stream.
    iovec part = {const_cast<char*>(": keepalive\n\n"), 13};
    self->Write(c, &part, 1);
    return;
  }
  if (c->state == Conn::State::kReading) {
    // No whole request within --http_timeout: an idle keep-alive
    // connection, or a client too slow (or too sly) to finish one.
    ++self->timed_out_;
    self->Close(c);
    return;
  }
  if (c->state == Conn::State::kHeld) {
    // The tree answers with no items (and the waiter's seq).
    self->Tell(ToTree::Kind::kExpire, c->waiter);
  }
}

void Worker::Close(Conn* c) {
  if (c->dead) return;
  c->dead = true;
  if (c->waiter != 0) {
    by_waiter_.erase(c->waiter);
    if (c->state == Conn::State::kHeld || c->state == Conn::State::kStreaming) {
      --held_count_;
      Tell(ToTree::Kind::kGone, c->waiter);
    } else {
      Tell(ToTree::Kind::kRelease, c->waiter);  // between polls
    }
  }
  event_del(c->read_event);
  event_del(c->write_event);
  evtimer_del(c->timer);
  close(c->fd);
  conns_.erase(c->id);
  if (c->reserve && reserve_ids_.size() > 2 * kReserveConnections) {
    // Forget the reserve connections that closed on their own.
    std::deque<uint64_t> open;
    for (uint64_t id : reserve_ids_) {
      if (conns_.contains(id)) open.push_back(id);
    }
    reserve_ids_.swap(open);
  }
  --connections_;
  --*open_connections_;
  dead_.push_back(c);
  event_active(reap_event_, 0, 0);
}

void Worker::OnReap(int, short, void* arg) {
  Worker* self = static_cast<Worker*>(arg);
  std::vector<Conn*> dead;
  dead.swap(self->dead_);
  for (Conn* c : dead) {
    event_free(c->read_event);
    event_free(c->write_event);
    event_free(c->timer);
    delete c;
  }
}

}  // namespace canopy
