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

namespace canopy {
namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
// Bytes a connection may hold unparsed while its request is answered
// (pipelined requests); past it the client is not playing by the rules.
constexpr size_t kMaxPendingInput = 256 * 1024;
constexpr size_t kStreamHighWater = 1 << 20;
constexpr size_t kStreamHardLimit = 8 << 20;
constexpr int kStreamKeepaliveSeconds = 15;
constexpr size_t kMaxHeaderBytes = 64 * 1024;
// Timer durations given a queue of their own (libevent's common timeouts:
// adding and removing such a timer is O(1), not a heap operation); the
// ones past this many use the heap.
constexpr size_t kCommonTimeouts = 32;
// The reap event runs after every other event of a loop turn.
constexpr int kReapPriority = 1;
// A connection past --max_connections, one of the reserve, has this long
// to ask /healthz or /metrics.
constexpr int kReserveSeconds = 2;

// Appends `text` at `at` (the caller's buffer is large enough).
char* Put(char* at, absl::string_view text) {
  std::memcpy(at, text.data(), text.size());
  return at + text.size();
}

// The head of a comet reply, formatted without allocating (nor printf): a
// pull's answer is always 200 and JSON. `out` holds kReplyHeadBytes.
constexpr size_t kReplyHeadBytes = 160;
int FormatJsonReplyHead(size_t body_bytes, bool keep_alive, char* out) {
  char* at = Put(out,
                 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 "Content-Length: ");
  at = std::to_chars(at, out + kReplyHeadBytes, body_bytes).ptr;
  at = Put(at, keep_alive
                   ? absl::string_view("\r\nConnection: keep-alive\r\n\r\n")
                   : absl::string_view("\r\nConnection: close\r\n\r\n"));
  return static_cast<int>(at - out);
}

// Splits a request target "/pull?..." into its since= cursor and the rest,
// given to `piece` in order: "/pull?" and each other parameter (with its
// '&' if not the first), so that the rest can be kept or compared without
// allocating. False when the target is not a /pull with a query, or has
// more than one since=, or one that is not a number; `*has_since` says
// whether it had one.
template <class F>
bool SplitPullTarget(absl::string_view target, uint64_t* since, bool* has_since,
                     F&& piece) {
  *has_since = false;
  if (!absl::ConsumePrefix(&target, "/pull?")) return false;
  piece(absl::string_view("/pull?"));
  bool first = true;
  while (true) {
    const size_t amp = target.find('&');
    const absl::string_view p = target.substr(0, amp);
    if (absl::StartsWith(p, "since=")) {
      if (*has_since || !absl::SimpleAtoi(p.substr(6), since)) return false;
      *has_since = true;
    } else {
      if (!first) piece(absl::string_view("&"));
      piece(p);
      first = false;
    }
    if (amp == absl::string_view::npos) break;
    target.remove_prefix(amp + 1);
  }
  return true;
}

timeval Seconds(int s) {
  timeval tv;
  tv.tv_sec = s;
  tv.tv_usec = 0;
  return tv;
}

}  // namespace

struct Worker::Conn {
  enum class State {
    kReading,    // parsing requests
    kCalling,    // a request is with the tree's thread
    kWriting,    // a reply is being written
    kHeld,       // a /pull parked as a waiter
    kStreaming,  // a /stream
  };
  Worker* worker;
  uint64_t id;
  int fd;
  State state = State::kReading;
  bool keep_alive = true;
  bool head_only = false;      // the request was HEAD
  bool sent_continue = false;  // "100 Continue" written for this request
  bool backlogged = false;     // a stream past its high-water mark
  bool dead = false;
  bool reserve = false;  // past the cap: /healthz and /metrics only, once
  enum class Deadline { kIdle, kHeaders, kBody } deadline = Deadline::kIdle;
  uint64_t waiter = 0;
  // A pull's waiter kept between polls (worker.h): the cursor the client
  // has (the seq of the last reply written, or its hold's), a reply the
  // hub delivered before the client came back, and what a poll again must
  // be: its target without since=, and its Authorization.
  bool kept = false;
  int hold_timeout = 0;
  uint64_t written_seq = 0;
  std::shared_ptr<const std::string> pending;
  uint64_t pending_seq = 0;
  std::string pull_target;
  std::string pull_authorization;
  event* read_event = nullptr;
  event* write_event = nullptr;
  event* timer = nullptr;
  RequestParser parser;
  std::string in;              // read, not yet parsed
  std::string out;             // to write, not yet taken by the socket
  sockaddr_storage peer = {};  // the client's address

  Conn(Worker* w, uint64_t i, int f, size_t max_body)
      : worker(w),
        id(i),
        fd(f),
        parser(RequestLimits{kMaxHeaderBytes, max_body}) {}
};

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

bool Worker::Repoll(Conn* c) {
  if (!c->kept || c->pull_target.empty() || !c->parser.get() ||
      c->parser.has_body() ||
      c->parser.authorization() != c->pull_authorization) {
    return false;
  }
  uint64_t since = 0;
  bool has_since = false;
  size_t at = 0;
  bool same = true;
  const absl::string_view want = c->pull_target;
  if (!SplitPullTarget(c->parser.target(), &since, &has_since,
                       [&](absl::string_view p) {
                         if (same && absl::StartsWith(want.substr(at), p)) {
                           at += p.size();
                         } else {
                           same = false;
                         }
                       }) ||
      !has_since || !same || at != want.size() || since != c->written_seq) {
    return false;
  }
  c->parser.Reset();
  if (c->pending != nullptr) {
    // A change came between the polls: its reply, at once.
    std::shared_ptr<const std::string> body = std::move(c->pending);
    c->pending = nullptr;
    c->written_seq = c->pending_seq;
    ++deliveries_;
    WriteJsonReply(c, *body);
    return true;
  }
  c->state = Conn::State::kHeld;
  ++held_count_;
  ArmTimer(c, c->hold_timeout);
  ToTree m;
  m.kind = ToTree::Kind::kResumed;
  m.worker = index_;
  m.id = c->waiter;
  m.seq = since;
  // Quiet: the hub needs it only before the next message it reads (the
  // waiter count, a timeout, a new pull against --max_waiters).
  to_tree_->PostQuiet(std::move(m));
  return true;
}

void Worker::Release(Conn* c) {
  by_waiter_.erase(c->waiter);
  // Quiet: its client is still there, and what it asks next wakes the
  // tree, which reads this first (deliveries to the waiter meanwhile are
  // dropped here: it is no longer in by_waiter_).
  ToTree m;
  m.kind = ToTree::Kind::kRelease;
  m.worker = index_;
  m.id = c->waiter;
  to_tree_->PostQuiet(std::move(m));
  c->waiter = 0;
  c->kept = false;
  c->pending = nullptr;
}

void Worker::WriteJsonReply(Conn* c, const std::string& body) {
  char head[kReplyHeadBytes];
  int len = FormatJsonReplyHead(body.size(), c->keep_alive, head);
  iovec parts[2] = {{head, static_cast<size_t>(len)},
                    {const_cast<char*>(body.data()), body.size()}};
  c->state = Conn::State::kWriting;
  if (!Write(c, parts, c->head_only ? 1 : 2)) return;
  if (c->out.empty()) Written(c);
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

void Worker::OnMail(int, short, void* arg) {
  static_cast<Worker*>(arg)->Mail();
}

void Worker::Mail() {
  for (ToWorker& m : mailbox_.TakeAll()) {
    switch (m.kind) {
      case ToWorker::Kind::kStop:
        event_base_loopbreak(base_);
        return;
      case ToWorker::Kind::kDeliver:
        Deliver(m);
        break;
      case ToWorker::Kind::kReply: {
        auto it = conns_.find(m.id);
        if (it != conns_.end() && it->second->state == Conn::State::kCalling) {
          Reply(it->second, *m.response);
        }
        break;
      }
      case ToWorker::Kind::kHold: {
        auto it = conns_.find(m.id);
        if (it == conns_.end() || it->second->state != Conn::State::kCalling) {
          // Its client left while the tree parked it (or answered it).
          Tell(m.body != nullptr && !m.stream ? ToTree::Kind::kRelease
                                              : ToTree::Kind::kGone,
               m.waiter);
          break;
        }
        Hold(it->second, m);
        break;
      }
    }
  }
}

void Worker::Hold(Conn* c, ToWorker& m) {
  if (!m.stream && m.body != nullptr) {
    // A pull answered at once, its waiter kept for the client's next poll
    // (unless the request was not one the worker can recognise again).
    if (c->pull_target.empty()) {
      Tell(ToTree::Kind::kRelease, m.waiter);
    } else {
      c->waiter = m.waiter;
      by_waiter_[m.waiter] = c;
      c->kept = true;
      c->hold_timeout = m.timeout_seconds;
      c->written_seq = m.seq;
      c->pending = nullptr;
    }
    WriteJsonReply(c, *m.body);
    return;
  }
  c->waiter = m.waiter;
  by_waiter_[m.waiter] = c;
  ++held_count_;
  if (!m.stream) {
    c->state = Conn::State::kHeld;
    c->kept = !c->pull_target.empty();
    c->hold_timeout = m.timeout_seconds;
    c->written_seq = m.seq;
    c->pending = nullptr;
    ArmTimer(c, m.timeout_seconds);
    return;
  }
  c->state = Conn::State::kStreaming;
  c->keep_alive = false;  // a stream ends with its connection
  std::string head;
  AppendStreamHead(&head);
  std::string id = absl::StrCat("id: ", m.seq, "\ndata: ");
  iovec parts[4] = {{head.data(), head.size()},
                    {id.data(), id.size()},
                    {const_cast<char*>(m.body->data()), m.body->size()},
                    {const_cast<char*>("\n\n"), 2}};
  if (!Write(c, parts, 4)) return;
  timeval tv = Seconds(kStreamKeepaliveSeconds);
  event_assign(c->timer, base_, -1, EV_PERSIST, &Worker::OnTimer, c);
  evtimer_add(c->timer, &tv);
}

void Worker::Deliver(ToWorker& m) {
  auto it = by_waiter_.find(m.id);
  if (it == by_waiter_.end()) return;  // its client left
  Conn* c = it->second;
  if (c->state == Conn::State::kHeld) {
    ++deliveries_;
    --held_count_;
    if (c->kept) {
      c->written_seq = m.seq;  // the waiter stays, between polls
    } else {
      by_waiter_.erase(it);
      c->waiter = 0;
    }
    evtimer_del(c->timer);
    WriteJsonReply(c, *m.body);
    return;
  }
  if (c->state != Conn::State::kStreaming) {
    // Between polls: held for the client's next poll. A second one means
    // a client that does not poll again soon: let the waiter go, and its
    // next poll is answered by the tree from its cursor.
    if (!c->kept) return;
    if (c->pending == nullptr) {
      c->pending = m.body;
      c->pending_seq = m.seq;
    } else {
      Release(c);
    }
    return;
  }
  ++deliveries_;
  char id[48];
  char* at = Put(id, "id: ");
  at = std::to_chars(at, id + sizeof id, m.seq).ptr;
  at = Put(at, "\ndata: ");
  int len = static_cast<int>(at - id);
  iovec parts[3] = {{id, static_cast<size_t>(len)},
                    {const_cast<char*>(m.body->data()), m.body->size()},
                    {const_cast<char*>("\n\n"), 2}};
  if (!Write(c, parts, 3)) return;
  if (c->out.size() > kStreamHardLimit) {
    Close(c);  // a client that does not read its stream
  } else if (c->out.size() > kStreamHighWater && !c->backlogged) {
    c->backlogged = true;
    Tell(ToTree::Kind::kBacklogged, c->waiter);
  }
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

void Worker::Tell(ToTree::Kind kind, uint64_t waiter) {
  ToTree m;
  m.kind = kind;
  m.worker = index_;
  m.id = waiter;
  to_tree_->Post(std::move(m));
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
