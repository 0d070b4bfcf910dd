// canopy-push-load: a load generator for POST /push (DESIGN.md goal: one
// million leaves per second on loopback).
//
//   canopy-push-load --server=127.0.0.1:7575 --connections=8
//                    --leaves=1000 --keyspace=100000 --seconds=10
//
// It keeps --connections keep-alive connections busy from one epoll thread,
// one request in flight on each. Each request is a JSON tree of --leaves
// leaves; together the requests walk a key space of --keyspace distinct
// leaves named PREFIX,<i / fanout>,<i % fanout>, block after block, so that
// --keyspace=1000000 --leaves=1000 --requests=1000 writes every leaf exactly
// once (how run.sh measures memory per leaf). Bodies are built before the
// clock starts, in two variants with different values, so that the
// generator spends its time on sockets and a repeated block still changes
// every value it holds.
//
// Prints a summary and a last line "RESULT key=value ..." for scripts.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "loopback.h"

ABSL_FLAG(std::string, server, "127.0.0.1:7575",
          "canopyd's HTTP address (loopback only)");
ABSL_FLAG(int, connections, 8, "keep-alive connections, one request each");
ABSL_FLAG(int, leaves, 1000, "leaves per request");
ABSL_FLAG(int64_t, keyspace, 100000, "distinct leaves the requests cover");
ABSL_FLAG(int, fanout, 1000, "leaves per interior node");
ABSL_FLAG(std::string, prefix, "bench,push", "the key the leaves go under");
ABSL_FLAG(std::string, action, "", "a \"defaultaction\" for the leaves");
ABSL_FLAG(double, seconds, 10, "stop sending after this long");
ABSL_FLAG(int64_t, requests, 0, "stop after this many requests (0: no limit)");
ABSL_FLAG(std::string, token, "", "sent as 'Authorization: Bearer TOKEN'");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The whole request (head and body) for leaves [first, end) of the key space.
std::string BuildRequest(int64_t first, int64_t end, int fanout, int variant,
                         const std::string& prefix, const std::string& action,
                         const std::string& host_header,
                         const std::string& token, int64_t* leaves) {
  std::string body = absl::StrCat("{\"", prefix, "\":{");
  int64_t parent = -1;
  for (int64_t i = first; i < end; ++i) {
    if (i / fanout != parent) {
      if (parent >= 0) body += "},";
      parent = i / fanout;
      absl::StrAppend(&body, "\"", parent, "\":{");
    } else {
      body += ',';
    }
    absl::StrAppend(&body, "\"", i % fanout, "\":", (i % 1000) + variant);
  }
  if (parent >= 0) body += '}';
  body += '}';
  if (!action.empty())
    absl::StrAppend(&body, ",\"defaultaction\":\"", action, "\"");
  body += '}';
  *leaves = end - first;
  std::string req = absl::StrCat(
      "POST /push HTTP/1.1\r\nHost: ", host_header,
      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
      "\r\n");
  if (!token.empty())
    absl::StrAppend(&req, "Authorization: Bearer ", token, "\r\n");
  absl::StrAppend(&req, "\r\n", body);
  return req;
}

struct Request {
  std::string bytes;
  int64_t leaves = 0;
};

struct Connection {
  int fd = -1;
  const Request* request = nullptr;  // in flight, or null when idle
  size_t written = 0;
  bool want_write = false;
  Clock::time_point started;
  ReplyReader reader;
};

class Load {
 public:
  Load(Address addr, std::vector<Request> requests, int connections,
       int64_t limit, double seconds)
      : addr_(std::move(addr)),
        requests_(std::move(requests)),
        connections_(connections),
        limit_(limit),
        seconds_(seconds) {}

  int Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Fail("epoll_create1");
    start_ = Clock::now();
    last_reply_ = start_;
    stop_sending_ = start_ + std::chrono::milliseconds(
                                 static_cast<int64_t>(seconds_ * 1000));
    for (Connection& c : connections_) {
      if (!Open(&c)) return Fail("connect");
      Send(&c);
    }
    std::vector<epoll_event> events(1024);
    while (in_flight_ > 0) {
      if (Clock::now() > stop_sending_ + std::chrono::seconds(10)) {
        std::fprintf(stderr,
                     "push_load: %d requests still in flight 10 s "
                     "after the end; giving up on them\n",
                     in_flight_);
        errors_ += in_flight_;
        break;
      }
      int n = epoll_wait(epoll_, events.data(), events.size(), 100);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail("epoll_wait");
      for (int i = 0; i < n; ++i) {
        Handle(static_cast<Connection*>(events[i].data.ptr), events[i].events);
      }
    }
    Report();
    return errors_ == 0 ? 0 : 1;
  }

 private:
  static int Fail(const char* what) {
    std::fprintf(stderr, "push_load: %s: %s\n", what, std::strerror(errno));
    return 1;
  }

  bool Open(Connection* c) {
    c->fd = ConnectNonBlocking(addr_);
    if (c->fd < 0) return false;
    c->reader = ReplyReader();
    c->want_write = true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.ptr = c;
    return epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev) == 0;
  }

  void Close(Connection* c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
  }

  void WantWrite(Connection* c, bool want) {
    if (c->want_write == want) return;
    c->want_write = want;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.ptr = c;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  // Starts the next request on `c` if the limits allow; else closes it.
  void Send(Connection* c) {
    if ((limit_ > 0 && issued_ >= limit_) || Clock::now() >= stop_sending_) {
      c->request = nullptr;
      Close(c);
      return;
    }
    size_t blocks = requests_.size() / 2;
    size_t block = issued_ % blocks;
    size_t variant = (issued_ / blocks) % 2;
    ++issued_;
    ++in_flight_;
    c->request = &requests_[variant * blocks + block];
    c->written = 0;
    c->started = Clock::now();
    Write(c);
  }

  void Write(Connection* c) {
    const std::string& bytes = c->request->bytes;
    while (c->written < bytes.size()) {
      ssize_t n = send(c->fd, bytes.data() + c->written,
                       bytes.size() - c->written, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 &&
          (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)) {
        WantWrite(c, true);
        return;
      }
      if (n < 0) {
        Broken(c, std::strerror(errno));
        return;
      }
      c->written += n;
    }
    WantWrite(c, false);
  }

  // The connection failed mid-request: count it, reconnect, carry on.
  void Broken(Connection* c, const std::string& why) {
    if (errors_ == 0) std::fprintf(stderr, "push_load: %s\n", why.c_str());
    ++errors_;
    --in_flight_;
    ++reconnects_;
    Close(c);
    if (!Open(c)) {
      Fail("reconnect");
      return;
    }
    Send(c);
  }

  void Handle(Connection* c, uint32_t events) {
    if (c->fd < 0 || c->request == nullptr) return;
    if (events & EPOLLOUT) {
      Write(c);
      if (c->fd < 0) return;
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    char buf[65536];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      Broken(c,
             n == 0 ? "the server closed a connection" : std::strerror(errno));
      return;
    }
    if (!c->reader.Feed(absl::string_view(buf, n))) {
      Broken(c, "unreadable reply");
      return;
    }
    if (!c->reader.done()) return;
    Clock::time_point now = Clock::now();
    latencies_ms_.push_back(Seconds(now - c->started) * 1000);
    last_reply_ = now;
    --in_flight_;
    ++completed_;
    if (c->reader.status() == 200) {
      leaves_ += c->request->leaves;
      absl::string_view body = c->reader.body();
      size_t at = body.find("\"accepted\":");
      if (at != absl::string_view::npos) {
        body.remove_prefix(at + 11);
        body = absl::StripLeadingAsciiWhitespace(body);
        body = body.substr(0, body.find_first_not_of("0123456789"));
        int64_t accepted = 0;
        if (absl::SimpleAtoi(body, &accepted)) accepted_ += accepted;
      }
    } else {
      if (errors_ == 0) {
        std::fprintf(stderr, "push_load: HTTP %d: %.200s\n", c->reader.status(),
                     c->reader.body().c_str());
      }
      ++errors_;
    }
    bool closing = c->reader.closing();
    c->reader.Reset();
    if (closing) {
      ++reconnects_;
      Close(c);
      if (!Open(c)) {
        Fail("reconnect");
        return;
      }
    }
    Send(c);
  }

  void Report() {
    double elapsed = Seconds(last_reply_ - start_);
    if (elapsed <= 0) elapsed = 1e-9;
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    double p50 = Percentile(latencies_ms_, 0.5);
    double p99 = Percentile(latencies_ms_, 0.99);
    double max = latencies_ms_.empty() ? 0 : latencies_ms_.back();
    std::printf("requests %" PRId64 " (errors %" PRId64 ", reconnects %" PRId64
                ") in %.2f s\n"
                "requests/s %.0f  leaves/s %.0f  accepted leaves/s %.0f\n"
                "latency ms: p50 %.2f  p99 %.2f  max %.2f\n",
                completed_, errors_, reconnects_, elapsed, completed_ / elapsed,
                leaves_ / elapsed, accepted_ / elapsed, p50, p99, max);
    std::printf("RESULT requests=%" PRId64 " errors=%" PRId64
                " seconds=%.3f "
                "requests_per_s=%.0f leaves_per_s=%.0f accepted_per_s=%.0f "
                "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f reconnects=%" PRId64 "\n",
                completed_, errors_, elapsed, completed_ / elapsed,
                leaves_ / elapsed, accepted_ / elapsed, p50, p99, max,
                reconnects_);
  }

  Address addr_;
  std::vector<Request> requests_;  // the blocks in variant 0, then variant 1
  std::vector<Connection> connections_;
  int64_t limit_;
  double seconds_;
  int epoll_ = -1;
  Clock::time_point start_, stop_sending_, last_reply_;
  int64_t issued_ = 0;
  int in_flight_ = 0;
  int64_t completed_ = 0;
  int64_t errors_ = 0;
  int64_t reconnects_ = 0;
  int64_t leaves_ = 0;
  int64_t accepted_ = 0;
  std::vector<double> latencies_ms_;
};

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load generator for canopyd's POST /push; see tools/bench/run.sh");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Address> addr = LoopbackAddress(absl::GetFlag(FLAGS_server));
  if (!addr.ok()) {
    std::fprintf(stderr, "push_load: %s\n",
                 std::string(addr.status().message()).c_str());
    return 1;
  }
  const int connections = absl::GetFlag(FLAGS_connections);
  const int leaves = absl::GetFlag(FLAGS_leaves);
  const int64_t keyspace = absl::GetFlag(FLAGS_keyspace);
  const int fanout = absl::GetFlag(FLAGS_fanout);
  if (connections < 1 || leaves < 1 || keyspace < 1 || fanout < 1) {
    std::fprintf(stderr,
                 "push_load: --connections, --leaves, --keyspace and "
                 "--fanout must be positive\n");
    return 1;
  }
  RaiseFdLimit();
  const std::string host_header = absl::StrCat(addr->host, ":", addr->port);
  const int64_t blocks = (keyspace + leaves - 1) / leaves;
  std::vector<Request> requests(2 * blocks);
  size_t total_bytes = 0;
  for (int variant = 0; variant < 2; ++variant) {
    for (int64_t b = 0; b < blocks; ++b) {
      Request& r = requests[variant * blocks + b];
      r.bytes = BuildRequest(b * leaves, std::min(keyspace, (b + 1) * leaves),
                             fanout, variant, absl::GetFlag(FLAGS_prefix),
                             absl::GetFlag(FLAGS_action), host_header,
                             absl::GetFlag(FLAGS_token), &r.leaves);
      total_bytes += r.bytes.size();
      if (total_bytes > (size_t{1} << 30)) {
        std::fprintf(stderr,
                     "push_load: more than 1 GiB of bodies; lower "
                     "--keyspace\n");
        return 1;
      }
    }
  }
  std::printf(
      "push_load: %d connections to %s, %d leaves per request "
      "(%.1f KB), key space %" PRId64 " under %s\n",
      connections, host_header.c_str(), leaves,
      requests[0].bytes.size() / 1024.0, keyspace,
      absl::GetFlag(FLAGS_prefix).c_str());
  std::fflush(stdout);
  Load load(*addr, std::move(requests), connections,
            absl::GetFlag(FLAGS_requests), absl::GetFlag(FLAGS_seconds));
  return load.Run();
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
