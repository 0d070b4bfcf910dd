// The agent's transport. See agent/sender.h.
//
// Threads: Enqueue() runs on the collecting thread, Stop() on the thread
// that ends the agent; Run() and everything it calls (the socket, the
// spool, the backoff) on the sender thread, started by Start().
#include "agent/sender.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "canopy/http_client.h"

namespace canopy {
namespace agent {
namespace {

constexpr size_t kMaxQueue = 16;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(500);
constexpr absl::Duration kMaxBackoff = absl::Seconds(30);

}  // namespace

absl::StatusOr<ServerAddress> ParseServerAddress(absl::string_view url) {
  ServerAddress a;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "udp://")) {
    a.scheme = ServerAddress::Scheme::kUdp;
    a.port = 8125;
  } else if (absl::ConsumePrefix(&rest, "tcp://")) {
    a.scheme = ServerAddress::Scheme::kTcp;
    a.port = 2003;
  } else if (absl::ConsumePrefix(&rest, "http://")) {
    a.scheme = ServerAddress::Scheme::kHttp;
    a.port = 7575;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--server=", url,
        ": expected udp://HOST:PORT, tcp://HOST:PORT or http://HOST:PORT"));
  }
  absl::ConsumeSuffix(&rest, "/");
  if (absl::StartsWith(rest, "[")) {  // [::1]:8125
    size_t close = rest.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--server=", url, ": bad host"));
    }
    a.host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) {
      return absl::InvalidArgumentError(
          absl::StrCat("--server=", url, ": bad port"));
    }
  } else {
    size_t colon = rest.rfind(':');
    a.host = std::string(rest.substr(0, colon));
    rest = colon == absl::string_view::npos ? "" : rest.substr(colon + 1);
  }
  if (!rest.empty() &&
      (!absl::SimpleAtoi(rest, &a.port) || a.port <= 0 || a.port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server=", url, ": bad port"));
  }
  if (a.host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--server=", url, ": no host"));
  }
  return a;
}

Sender::Sender(ServerAddress to, Spool* spool, ErrorLog* log,
               absl::Duration interval)
    : to_(std::move(to)),
      spool_(to_.scheme == ServerAddress::Scheme::kUdp ? nullptr : spool),
      log_(log),
      interval_(interval),
      io_timeout_(std::clamp(interval, absl::Seconds(1), absl::Seconds(5))),
      rng_(std::random_device{}()) {}

Sender::~Sender() {
  if (thread_.joinable()) Stop(absl::ZeroDuration());
  CloseSocket();
}

void Sender::Start() { thread_ = std::thread(&Sender::Run, this); }

void Sender::Enqueue(std::vector<std::string> pieces) {
  MutexLock lock(&mu_);
  if (queue_.size() >= kMaxQueue) {
    queue_.pop_front();
    ++queue_dropped_;
  }
  queue_.push_back(std::move(pieces));
}

void Sender::Stop(absl::Duration grace) {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    stop_deadline_ = absl::Now() + grace;
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Sender::dropped() const {
  return queue_dropped_.load() + (spool_ ? spool_->dropped() : 0);
}

void Sender::CloseSocket() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void Sender::Failed(absl::string_view why) {
  CloseSocket();
  backoff_ = backoff_ == absl::ZeroDuration()
                 ? kFirstBackoff
                 : std::min(backoff_ * 2, kMaxBackoff);
  std::uniform_real_distribution<double> jitter(0.5, 1.0);
  retry_at_ = absl::Now() + backoff_ * jitter(rng_);
  log_->Report("push", absl::StrCat("push to ", to_.host, ":", to_.port,
                                    " failed: ", why,
                                    "; spooling and retrying with backoff"));
}

bool Sender::EnsureConnected() {
  if (fd_ >= 0 && to_.scheme == ServerAddress::Scheme::kTcp) {
    // A server that went away has closed its end: find out before writing
    // into a dead connection, whose first write would "succeed".
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) > 0) {
      char c;
      if ((p.revents & (POLLERR | POLLHUP | POLLRDHUP)) ||
          recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0) {
        CloseSocket();
      } else {
        char drain[512];
        while (recv(fd_, drain, sizeof drain, MSG_DONTWAIT) > 0) {
        }
      }
    }
  }
  if (fd_ >= 0) return true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype =
      to_.scheme == ServerAddress::Scheme::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = absl::StrCat(to_.port);
  if (getaddrinfo(to_.host.c_str(), port.c_str(), &hints, &res) != 0) {
    return false;
  }
  for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    if (to_.scheme == ServerAddress::Scheme::kUdp) {
      int buf = 1 << 20;
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
      if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        fd_ = fd;
      } else {
        close(fd);
      }
      continue;
    }
    // TCP: connect with a timeout, then blocking writes with one.
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      if (poll(&p, 1,
               static_cast<int>(absl::ToInt64Milliseconds(io_timeout_))) == 1 &&
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
        rc = 0;
      }
    }
    if (rc != 0) {
      close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, flags);
    timeval tv = absl::ToTimeval(io_timeout_);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    fd_ = fd;
  }
  freeaddrinfo(res);
  return fd_ >= 0;
}

bool Sender::SendUdp(const std::vector<std::string>& pieces) {
  if (!EnsureConnected()) {
    log_->Report("push",
                 absl::StrCat("cannot reach udp ", to_.host, ":", to_.port));
    return false;
  }
  bool ok = true;
  for (const std::string& p : pieces) {
    if (send(fd_, p.data(), p.size(), 0) < 0) {
      // ECONNREFUSED: an earlier datagram found no listener. Nothing to
      // spool: UDP cannot tell what arrived.
      log_->Report("push", absl::StrCat("udp send to ", to_.host, ":", to_.port,
                                        ": ", strerror(errno)));
      ok = false;
    }
  }
  if (ok) ++sent_;
  return ok;
}

bool Sender::SendRecord(absl::string_view record) {
  if (to_.scheme == ServerAddress::Scheme::kHttp) {
    HttpClient http(to_.host, to_.port, absl::ToDoubleSeconds(io_timeout_));
    absl::StatusOr<HttpReply> r = http.Request(
        "POST", "/push", record, {{"Content-Type", "application/json"}});
    if (!r.ok()) {
      Failed(r.status().message());
      return false;
    }
    if (r->status == 200) {
      backoff_ = absl::ZeroDuration();
      ++sent_;
      return true;
    }
    if (r->status >= 400 && r->status < 500 && r->status != 408 &&
        r->status != 429) {
      // Refused for good (a bad tree, a wrong token): sending it again would
      // not help. Counted as an error, not spooled.
      log_->Report(
          "rejected",
          absl::StrCat("server refused the push: ", r->status, " ", r->body));
      return true;
    }
    Failed(absl::StrCat("HTTP ", r->status));
    return false;
  }
  if (!EnsureConnected()) {
    Failed("cannot connect");
    return false;
  }
  size_t off = 0;
  while (off < record.size()) {
    ssize_t n =
        send(fd_, record.data() + off, record.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Failed(strerror(errno));
      return false;
    }
    off += static_cast<size_t>(n);
  }
  backoff_ = absl::ZeroDuration();
  ++sent_;
  return true;
}

bool Sender::Drain(absl::Time deadline) {
  std::string record;
  while (spool_->Front(&record)) {
    if (absl::Now() >= deadline) return false;
    if (!SendRecord(record)) return false;
    spool_->PopFront();
  }
  return true;
}

void Sender::Run() {
  const bool udp = to_.scheme == ServerAddress::Scheme::kUdp;
  absl::Time stop_deadline;
  while (true) {
    std::vector<std::string> item;
    bool have = false, stopping;
    {
      MutexLock lock(&mu_);
      absl::Time wake = absl::InfiniteFuture();
      if (!udp && !spool_->empty()) wake = std::max(retry_at_, absl::Now());
      mu_.AwaitWithDeadline(
          [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ReadyLocked(); },
          wake);
      if (!queue_.empty()) {
        item = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
      stopping = stopping_;
      stop_deadline = stop_deadline_;
    }
    if (!have && stopping) break;
    if (udp) {
      if (have) SendUdp(item);
      continue;
    }
    absl::Time now = absl::Now();
    absl::Time budget = stopping ? stop_deadline : now + interval_ / 2;
    bool may_try = now >= retry_at_ && now < budget;
    if (!have) {
      if (may_try) Drain(budget);
      continue;
    }
    std::string record;
    if (to_.scheme == ServerAddress::Scheme::kTcp) {
      for (const std::string& p : item) absl::StrAppend(&record, p, "\n");
    } else {
      record = absl::StrJoin(item, "");
    }
    bool ok = may_try && Drain(budget) && SendRecord(record);
    if (!ok) {
      absl::Status s = spool_->Push(record);
      if (!s.ok()) log_->Report("spool", s.message());
    }
  }
  if (!udp && !spool_->empty() && absl::Now() >= retry_at_) {
    Drain(stop_deadline);
  }
  CloseSocket();
}

}  // namespace agent
}  // namespace canopy
