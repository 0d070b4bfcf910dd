// canopy-pull-fanout: how fast one change reaches many long-poll waiters, and
// what a parked waiter costs the server (DESIGN.md goals: 10 000 waiters
// served in at most half of nchan's time in the same run; at most 8 KB per
// waiter). It measures canopyd or, for the comparison, nginx with the nchan
// module, through the same client code. One program in one file (past the
// usual 600 lines): both servers' clients must stay the same code.
//
//   canopy-pull-fanout --server=127.0.0.1:7575 --waiters=10000
//                      --server_pid=$(pidof canopyd)
//   canopy-pull-fanout --target=nchan --server=127.0.0.1:8080
//                      --waiters=10000 --server_pid=NGINX_WORKER_PID
//                      --subscribe_path=/sub/ch1 --publish_path=/pub/ch1
//
// From one thread with non-blocking sockets and epoll it:
//   1. canopy: reads the seq of --key (GET /get); both: the server's RSS;
//   2. opens --waiters connections, each sending one long poll, with at most
//      --connect_batch of them not yet parked by the server: canopy
//      GET /pull?key=KEY&since=SEQ&timeout=T; nchan GET SUBSCRIBE_PATH (a
//      location with `nchan_subscriber longpoll`);
//   3. waits until the server says they are parked (canopy: canopy_waiters
//      in /metrics; nchan: "subscribers: N" from the nchan_stub_status
//      location at --status_path), and reads the RSS again:
//      (after - before) / waiters is the user-space cost of a waiter (kernel
//      socket buffers are not in RSS);
//   4. publishes one change (canopy: POST /push of KEY; nchan: POST of
//      --message, a body shaped like canopy's reply, to PUBLISH_PATH) and
//      times, for every waiter, the moment its whole reply has arrived:
//      p50, p99 and max (the last waiter served); and the server's CPU time
//      over the delivery, from /proc/PID/task/*/schedstat (all threads,
//      nanoseconds), so CPU per delivery.
//   Or, with --changes_per_second=R --seconds=S (canopy only): R changes a
//   second for S seconds while each waiter polls again from the seq of its
//   last reply; p50/p99/max push-to-delivery over every delivery.
// Times include this client's own reading of W sockets on one core.
// --server_pid is the process that holds the waiters: canopyd, or nginx's
// (single) worker, not its master.
//
// Or, with --ready_file (tools/bench/cluster_fanout.sh: one client process
// per server process, each holding up to 18 000 sockets): steps 1 to 3
// without the first push, then it writes --ready_file and takes the replies
// to a change that canopy-fanout-push sends (for every client at once),
// noting the wall-clock time of each; --done_file gets them, and the pusher
// reckons every latency from its own wall-clock time of the push.
//
// Prints a summary and a last line "RESULT key=value ..." for scripts.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/http_client.h"
#include "loopback.h"
#include "rapidjson/document.h"

ABSL_FLAG(std::string, target, "canopy",
          "the server measured: canopy (canopyd) or nchan (nginx + nchan)");
ABSL_FLAG(std::string, server, "127.0.0.1:7575",
          "the server's HTTP address (loopback only)");
ABSL_FLAG(int, waiters, 10000, "long-poll waiters to park");
ABSL_FLAG(std::string, key, "bench,fanout", "the key every waiter watches");
ABSL_FLAG(std::vector<std::string>, server_pid, {},
          "pid of the process holding the waiters (canopyd, or nginx's "
          "worker), to read its RSS and CPU time (0: skip)");
ABSL_FLAG(std::string, subscribe_path, "/sub/ch1",
          "nchan: the long-poll subscriber location of the channel");
ABSL_FLAG(std::string, publish_path, "/pub/ch1",
          "nchan: the publisher location of the same channel");
ABSL_FLAG(std::string, status_path, "/nchan_status",
          "nchan: the nchan_stub_status location");
ABSL_FLAG(std::string, message, "{\"seq\":3,\"items\":[{\"bench,fanout\":1}]}",
          "nchan: the message published (default: the body canopyd sends "
          "for the same change)");
ABSL_FLAG(int, poll_timeout, 120,
          "canopy: the timeout= each /pull asks for (nchan's is in its "
          "configuration, nchan_subscriber_timeout)");
ABSL_FLAG(double, park_timeout, 120,
          "seconds to wait for the waiters to be parked");
ABSL_FLAG(double, deliver_timeout, 30,
          "seconds to wait for every waiter's reply after the push");
ABSL_FLAG(double, hold_seconds, 0,
          "keep the served connections open this long before closing them "
          "(to profile the delivery alone)");
ABSL_FLAG(int, connect_batch, 100,
          "connections opened that the server does not show parked yet; "
          "keep it below the server's listen backlog (evhttp: 128)");
ABSL_FLAG(std::string, token, "", "sent as 'Authorization: Bearer TOKEN'");
ABSL_FLAG(double, changes_per_second, 0,
          "canopy: instead of one change, push this many changes a second "
          "for --seconds while every waiter polls again with the seq of its "
          "last reply; reports push-to-delivery latency over all deliveries "
          "(DESIGN.md: p99 <= 20 ms at 10 changes/s and 10 000 waiters)");
ABSL_FLAG(double, seconds, 10, "with --changes_per_second: how long");
ABSL_FLAG(std::string, push_to, "",
          "canopy: send the changes to this HOST:PORT instead of --server "
          "(another node of a cluster: the waiters then measure replication "
          "to the node they poll)");

ABSL_FLAG(std::string, ready_file, "",
          "several clients, one push (canopy-fanout-push): once the waiters "
          "are parked, write this file, then wait for the push instead of "
          "making it");
ABSL_FLAG(std::string, go_file, "",
          "with --ready_file: the file canopy-fanout-push writes when it "
          "pushes; replies are awaited --deliver_timeout from then");
ABSL_FLAG(std::string, done_file, "",
          "with --ready_file: written at the end, \"parked=N delivered=N "
          "failed=N\" and then the wall-clock time of every reply (ns since "
          "the epoch), one a line");
ABSL_FLAG(std::string, end_file, "",
          "with --ready_file: the connections stay open until this file "
          "exists (every client is done), at most 60 s");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

// This process's user and system CPU time so far, in ms.
double CpuMs() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int64_t SumRss(const std::vector<int>& pids) {
  int64_t bytes = 0;
  for (int p : pids) bytes += RssBytes(p);
  return bytes;
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void Die(const std::string& message) {
  std::fprintf(stderr, "pull_fanout: %s\n", message.c_str());
  std::exit(1);
}

struct Waiter {
  int fd = -1;
  bool sent = false;      // its /pull is written
  bool finished = false;  // delivered, or failed
  int connect_attempts = 0;
  ReplyReader reader;
};

class Fanout {
 public:
  void set_push_to(Address a) {
    push_http_.emplace(a.host, a.port, 30);
    push_addr_ = std::move(a);
  }

  // With --push_to: until the polled node shows the key's first value (its
  // copy of the owner's), so that the waiters start after it.
  void AwaitReplica(const std::string& key) {
    const auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      absl::StatusOr<HttpReply> r = http_.Request(
          "GET", absl::StrCat("/get?key=", UrlEncode(key)), "", headers_);
      if (r.ok() && r->status == 200 &&
          r->body.find(absl::StrCat("\"", key, "\":0")) != std::string::npos &&
          r->body.find("\"stale\"") == std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Die(absl::StrCat("--push_to: ", key, " never reached --server"));
  }

  Fanout(Address addr, HttpClient http, bool nchan)
      : addr_(std::move(addr)),
        http_(http),
        nchan_(nchan),
        external_(!absl::GetFlag(FLAGS_ready_file).empty()) {
    if (const std::string t = absl::GetFlag(FLAGS_token); !t.empty()) {
      auth_ = absl::StrCat("Authorization: Bearer ", t, "\r\n");
      headers_.emplace_back("Authorization", absl::StrCat("Bearer ", t));
    }
  }

  int Run() {
    const int count = absl::GetFlag(FLAGS_waiters);
    const std::string key = absl::GetFlag(FLAGS_key);
    // Several pids (nginx's workers): their figures are summed.
    std::vector<int> pids;
    for (const std::string& p : absl::GetFlag(FLAGS_server_pid)) {
      int v = 0;
      if (!absl::SimpleAtoi(p, &v) || v <= 0) Die("bad --server_pid");
      pids.push_back(v);
    }
    const bool pid = !pids.empty();
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) Die("epoll_create1 failed");

    std::string target_path;
    if (nchan_) {
      // A fresh channel holds no message, so a subscriber without a message
      // id waits for the next one.
      target_path = absl::GetFlag(FLAGS_subscribe_path);
      message_ = absl::GetFlag(FLAGS_message);
    } else {
      // The key must exist for the push to change it, and we need its seq.
      // With --ready_file, the script has written it once for all clients.
      if (!external_) Post(absl::StrCat("{\"", key, "\": 0}"));
      if (push_addr_ || external_) AwaitReplica(key);
      int64_t seq = Seq(key);
      target_path =
          absl::StrCat("/pull?key=", UrlEncode(key), "&since=", seq,
                       "&timeout=", absl::GetFlag(FLAGS_poll_timeout));
    }
    request_ =
        absl::StrCat("GET ", target_path, " HTTP/1.1\r\nHost: ", addr_.host,
                     ":", addr_.port, "\r\n", auth_, "\r\n");
    const int64_t base_waiters = Waiters();
    const int64_t rss_before = pid ? SumRss(pids) : 0;

    // Park them.
    Clock::time_point park_start = Clock::now();
    waiters_.resize(count);
    size_t next = 0;
    const int batch = absl::GetFlag(FLAGS_connect_batch);
    // Connections the server showed parked at the last look. A connection
    // counts as connected once the kernel has completed its handshake,
    // whether or not the server has accepted it yet; opening more than its
    // listen backlog ahead of the server overflows the accept queue, and
    // the kernel then drops handshakes and retries them a second or more
    // later (and, with SYN cookies, may lose one). So the window is over
    // what the server reports, not over what the client sees.
    int64_t seen_parked = 0;
    Clock::time_point last_look = park_start;
    while (sent_ + failed_ < count) {
      auto ahead = [&] {
        return static_cast<int64_t>(next) - failed_ - bad_ - seen_parked;
      };
      while (next < waiters_.size() && ahead() < batch) {
        Open(&waiters_[next++]);
      }
      Poll(2, /*delivering=*/false);
      if (ahead() >= batch &&
          Clock::now() - last_look > std::chrono::milliseconds(2)) {
        seen_parked = Waiters() - base_waiters;
        last_look = Clock::now();
      }
      if (Clock::now() - park_start > std::chrono::seconds(60)) {
        Die(absl::StrCat("only ", sent_, " of ", count,
                         " /pull requests sent after 60 s"));
      }
    }
    const double connect_ms = Ms(Clock::now() - park_start);
    int64_t parked = 0;
    auto park_deadline =
        park_start + std::chrono::milliseconds(static_cast<int64_t>(
                         absl::GetFlag(FLAGS_park_timeout) * 1000));
    while ((parked = Waiters() - base_waiters) < sent_ - bad_) {
      if (Clock::now() > park_deadline) {
        Die(absl::StrCat(nchan_ ? "nchan's status" : "/metrics", " shows ",
                         parked, " parked waiters of ", sent_, " after ",
                         absl::GetFlag(FLAGS_park_timeout), " s"));
      }
      Poll(100, false);
    }
    const double park_ms = Ms(Clock::now() - park_start);
    if (parked <= 0) {
      Die(absl::StrCat("no waiter parked (", bad_,
                       " got a reply or an error before the push)"));
    }
    // Let the server settle before reading its RSS.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int64_t rss_after = pid ? SumRss(pids) : 0;
    std::printf("parked %" PRId64
                " waiters (%d failed to connect) in %.0f ms "
                "(requests sent in %.0f ms)\n",
                parked, failed_, park_ms, connect_ms);
    std::fflush(stdout);

    if (absl::GetFlag(FLAGS_changes_per_second) > 0 && !nchan_) {
      return Sustained(key, pids);
    }
    if (external_) return External(parked);

    // One change, and the time until each waiter has its reply.
    int push_fd = nchan_ ? ConnectBlocking() : ConnectPush();
    std::string body = nchan_ ? message_ : absl::StrCat("{\"", key, "\": 1}");
    std::string push = absl::StrCat(
        "POST ", nchan_ ? absl::GetFlag(FLAGS_publish_path) : "/push",
        " HTTP/1.1\r\nHost: ", addr_.host, ":", addr_.port, "\r\n", auth_,
        "Content-Type: application/json\r\nContent-Length: ", body.size(),
        "\r\n\r\n", body);
    const double cpu_before = CpuMs();
    const double server_cpu_before = pid ? SumCpuMs(pids) : 0;
    push_start_ = Clock::now();
    if (send(push_fd, push.data(), push.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(push.size())) {
      Die("sending the push failed");
    }
    auto deliver_deadline =
        push_start_ + std::chrono::milliseconds(static_cast<int64_t>(
                          absl::GetFlag(FLAGS_deliver_timeout) * 1000));
    while (delivered_ + empty_ + bad_ < sent_ &&
           Clock::now() < deliver_deadline) {
      Poll(100, /*delivering=*/true);
    }
    const double client_cpu_ms = CpuMs() - cpu_before;
    const double server_cpu_ms = pid ? SumCpuMs(pids) - server_cpu_before : 0;
    close(push_fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(
        static_cast<int64_t>(absl::GetFlag(FLAGS_hold_seconds) * 1000)));
    CloseAll();
    const int64_t missing = sent_ - delivered_ - empty_ - bad_;

    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    double p50 = Percentile(latencies_ms_, 0.5);
    double p99 = Percentile(latencies_ms_, 0.99);
    double first = latencies_ms_.empty() ? 0 : latencies_ms_.front();
    double max = latencies_ms_.empty() ? 0 : latencies_ms_.back();
    double per_waiter =
        parked > 0 ? static_cast<double>(rss_after - rss_before) / parked : 0;
    double us_per_delivery =
        delivered_ > 0 ? server_cpu_ms * 1000.0 / delivered_ : 0;
    const char* server_name = nchan_ ? "nginx+nchan" : "canopyd";
    std::printf("delivered %d of %d (empty %d, errors %d, missing %" PRId64
                ")\n"
                "latency ms after the push: first %.1f  p50 %.1f  p99 %.1f  "
                "max %.1f\n",
                delivered_, count, empty_, bad_, missing, first, p50, p99, max);
    std::printf(
        "CPU time while delivering: this client %.1f ms, %s %.1f ms "
        "(%.1f us per delivery)\n",
        client_cpu_ms, server_name, server_cpu_ms, us_per_delivery);
    if (pid) {
      std::printf(
          "server RSS %.1f MB -> %.1f MB parked: %.0f bytes per "
          "waiter\n",
          rss_before / 1048576.0, rss_after / 1048576.0, per_waiter);
    }
    std::printf(
        "RESULT target=%s waiters=%d parked=%" PRId64
        " delivered=%d failed=%d "
        "first_ms=%.2f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f rss_before=%" PRId64
        " rss_after=%" PRId64
        " bytes_per_waiter=%.0f park_ms=%.0f client_cpu_ms=%.1f "
        "server_cpu_ms=%.1f cpu_us_per_delivery=%.2f\n",
        nchan_ ? "nchan" : "canopy", count, parked, delivered_,
        failed_ + bad_ + empty_ + static_cast<int>(missing), first, p50, p99,
        max, rss_before, rss_after, per_waiter, park_ms, client_cpu_ms,
        server_cpu_ms, us_per_delivery);
    bool ok = delivered_ == count;
    return ok ? 0 : 1;
  }

 private:
  // Changes at a steady rate; each waiter polls again from the seq of its
  // last reply, so every delivery is one change reaching one waiter.
  int Sustained(const std::string& key, const std::vector<int>& pids) {
    const bool pid = !pids.empty();
    const double rate = absl::GetFlag(FLAGS_changes_per_second);
    const int changes = std::max(
        1, static_cast<int>(rate * absl::GetFlag(FLAGS_seconds) + 0.5));
    const auto interval =
        std::chrono::nanoseconds(static_cast<int64_t>(1e9 / rate));
    sustained_ = true;
    sustained_key_ = key;
    int push_fd = ConnectPush();
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the pusher: its replies are read and dropped
    epoll_ctl(epoll_, EPOLL_CTL_ADD, push_fd, &ev);
    push_fd_ = push_fd;
    const double server_cpu_before = pid ? SumCpuMs(pids) : 0;
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < changes; ++i) {
      const Clock::time_point due = start + i * interval;
      while (Clock::now() < due) {
        const double left = Ms(due - Clock::now());
        Poll(std::max(0, static_cast<int>(left)), /*delivering=*/true);
      }
      const std::string body = absl::StrCat("{\"", key, "\": ", i + 2, "}");
      const std::string push = absl::StrCat(
          "POST /push HTTP/1.1\r\nHost: ", addr_.host, ":", addr_.port, "\r\n",
          auth_,
          "Content-Type: application/json\r\nContent-Length: ", body.size(),
          "\r\n\r\n", body);
      push_start_ = Clock::now();
      if (send(push_fd, push.data(), push.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(push.size())) {
        Die("sending a push failed");
      }
    }
    // The last change's deliveries.
    const Clock::time_point drain = Clock::now() + std::chrono::seconds(2);
    while (Clock::now() < drain) Poll(50, true);
    const double server_cpu_ms = pid ? SumCpuMs(pids) - server_cpu_before : 0;
    close(push_fd);
    CloseAll();
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    const double p50 = Percentile(latencies_ms_, 0.5);
    const double p99 = Percentile(latencies_ms_, 0.99);
    const double max = latencies_ms_.empty() ? 0 : latencies_ms_.back();
    const int64_t expected = static_cast<int64_t>(changes) * sent_;
    std::printf(
        "%d changes at %.0f/s to %d waiters: %d deliveries of %" PRId64
        " (fewer when a reply covers two changes), errors %d\n"
        "push-to-delivery ms: p50 %.1f  p99 %.1f  max %.1f; canopyd CPU "
        "%.0f ms (%.1f us per delivery)\n",
        changes, rate, sent_, delivered_, expected, bad_ + empty_, p50, p99,
        max, server_cpu_ms,
        delivered_ > 0 ? server_cpu_ms * 1000.0 / delivered_ : 0.0);
    std::printf(
        "RESULT mode=sustained changes=%d rate=%.1f waiters=%d "
        "deliveries=%d expected=%" PRId64
        " errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f "
        "server_cpu_ms=%.1f\n",
        changes, rate, sent_, delivered_, expected, bad_ + empty_, p50, p99,
        max, server_cpu_ms);
    return bad_ + empty_ == 0 && delivered_ > 0 ? 0 : 1;
  }

  // --ready_file: parked; another process pushes. Each reply's wall-clock
  // time goes to --done_file.
  int External(int64_t parked) {
    const std::string go = absl::GetFlag(FLAGS_go_file);
    WriteFile(absl::GetFlag(FLAGS_ready_file),
              absl::StrCat("parked=", parked, "\n"));
    const Clock::time_point ready = Clock::now();
    std::optional<Clock::time_point> deadline;
    while (delivered_ + empty_ + bad_ < sent_) {
      Poll(5, /*delivering=*/true);
      const Clock::time_point now = Clock::now();
      if (!deadline && access(go.c_str(), F_OK) == 0) {
        deadline = now + std::chrono::milliseconds(static_cast<int64_t>(
                             absl::GetFlag(FLAGS_deliver_timeout) * 1000));
      }
      if (deadline && now > *deadline) break;
      if (!deadline && now - ready > std::chrono::minutes(10)) {
        Die("no push came within 10 minutes of --ready_file");
      }
    }
    const int64_t missing = sent_ - delivered_ - empty_ - bad_;
    std::string done = absl::StrCat(
        "parked=", parked, " delivered=", delivered_,
        " failed=", failed_ + bad_ + empty_ + static_cast<int>(missing), "\n");
    for (int64_t ns : walls_ns_) absl::StrAppend(&done, ns, "\n");
    WriteFile(absl::GetFlag(FLAGS_done_file), done);
    std::printf("delivered %d of %d (empty %d, errors %d, missing %" PRId64
                ")\n",
                delivered_, sent_, empty_, bad_, missing);
    // Open until every client is done: hang-ups would load the servers
    // still delivering to the others.
    const std::string end = absl::GetFlag(FLAGS_end_file);
    const Clock::time_point wait_end = Clock::now() + std::chrono::seconds(60);
    while (!end.empty() && access(end.c_str(), F_OK) != 0 &&
           Clock::now() < wait_end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    CloseAll();
    return delivered_ == sent_ ? 0 : 1;
  }

  // Writes `text` to `path` whole (renamed into place).
  static void WriteFile(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp);
      out << text;
      if (!out) Die(absl::StrCat("cannot write ", tmp));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      Die(absl::StrCat("cannot rename ", tmp));
    }
  }

  // The seq of a /pull reply, or -1.
  static int64_t ReplySeq(const std::string& body) {
    size_t at = body.find("\"seq\":");
    int64_t seq = -1;
    if (at == std::string::npos) return -1;
    at += 6;
    size_t end = body.find_first_not_of("0123456789", at);
    if (!absl::SimpleAtoi(body.substr(at, end - at), &seq)) return -1;
    return seq;
  }

  void Open(Waiter* w) {
    ++w->connect_attempts;
    w->fd = ConnectNonBlocking(addr_);
    if (w->fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        Die(absl::StrCat("out of file descriptors at ", sent_,
                         " waiters; raise ulimit -n"));
      }
      Fail(w, absl::StrCat("connect: ", std::strerror(errno)));
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.ptr = w;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, w->fd, &ev);
  }

  void Fail(Waiter* w, const std::string& why) {
    if (failed_ == 0 && bad_ == 0) {
      std::fprintf(stderr, "pull_fanout: %s\n", why.c_str());
    }
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    w->finished = true;
    ++failed_;
  }

  void Poll(int timeout_ms, bool delivering) {
    epoll_event events[4096];
    int n = epoll_wait(epoll_, events, 4096, timeout_ms);
    Clock::time_point now = Clock::now();
    if (external_ && n > 0) {
      wall_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    }
    for (int i = 0; i < n; ++i) {
      Waiter* w = static_cast<Waiter*>(events[i].data.ptr);
      if (w == nullptr) {  // the pusher's replies
        char drop[4096];
        while (read(push_fd_, drop, sizeof drop) > 0) {
        }
        continue;
      }
      if (w->fd < 0 || w->finished) continue;
      if (!w->sent) {
        Send(w, events[i].events);
        continue;
      }
      Read(w, now, delivering);
    }
  }

  void Send(Waiter* w, uint32_t events) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      close(w->fd);
      w->fd = -1;
      if (w->connect_attempts < 3) {  // a full accept queue: try again
        Open(w);
        return;
      }
      Fail(w, absl::StrCat("connect: ", std::strerror(err)));
      return;
    }
    if (send(w->fd, request_.data(), request_.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request_.size())) {
      Fail(w, absl::StrCat("send: ", std::strerror(errno)));
      return;
    }
    w->sent = true;
    ++sent_;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = w;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, w->fd, &ev);
  }

  void Read(Waiter* w, Clock::time_point now, bool delivering) {
    char buf[16384];
    ssize_t n = read(w->fd, buf, sizeof buf);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0 || !w->reader.Feed(absl::string_view(buf, n))) {
      Finish(w, &bad_, "a waiter's connection closed without a reply");
      return;
    }
    if (!w->reader.done()) return;
    // canopy: a 200 with items; nchan: a 200 with the message published.
    const bool has_items =
        w->reader.status() == 200 &&
        (nchan_ ? w->reader.body() == message_
                : w->reader.body().find("\"items\":[{") != std::string::npos);
    // A long poll that timed out: canopy answers 200 with no items, nchan
    // 408 (or 304).
    const bool timed_out =
        nchan_ ? w->reader.status() == 408 || w->reader.status() == 304
               : w->reader.status() == 200 && !has_items;
    if (!delivering || (external_ && timed_out)) {
      if (timed_out) {
        // The poll timed out before the push: ask again.
        w->reader.Reset();
        send(w->fd, request_.data(), request_.size(), MSG_NOSIGNAL);
        return;
      }
      Finish(w, &bad_,
             absl::StrCat("a reply before the push: HTTP ", w->reader.status(),
                          " ", w->reader.body().substr(0, 200)));
      return;
    }
    if (w->reader.status() != 200) {
      Finish(w, &bad_,
             absl::StrCat("HTTP ", w->reader.status(), " ",
                          w->reader.body().substr(0, 200)));
      return;
    }
    if (!has_items) {
      Finish(w, &empty_, "an empty reply after the push");
      return;
    }
    if (external_) {
      walls_ns_.push_back(wall_ns_);
    } else {
      latencies_ms_.push_back(Ms(now - push_start_));
    }
    if (sustained_) {
      // Poll again from this reply's seq, on the same connection.
      ++delivered_;
      const int64_t seq = ReplySeq(w->reader.body());
      w->reader.Reset();
      const std::string again = absl::StrCat(
          "GET /pull?key=", UrlEncode(sustained_key_), "&since=", seq,
          "&timeout=", absl::GetFlag(FLAGS_poll_timeout),
          " HTTP/1.1\r\nHost: ", addr_.host, ":", addr_.port, "\r\n", auth_,
          "\r\n");
      if (seq < 0 || send(w->fd, again.data(), again.size(), MSG_NOSIGNAL) !=
                         static_cast<ssize_t>(again.size())) {
        Finish(w, &bad_, "polling again failed");
      }
      return;
    }
    Finish(w, &delivered_, "");
  }

  void Finish(Waiter* w, int* counter, const std::string& why) {
    if (!why.empty() && bad_ + empty_ == 0) {
      std::fprintf(stderr, "pull_fanout: %s\n", why.c_str());
    }
    ++*counter;
    w->finished = true;
    // Keep the connection open (as a client that polls again would) until
    // every waiter is served, so that hang-ups do not load the server while
    // it is still answering the others.
    epoll_ctl(epoll_, EPOLL_CTL_DEL, w->fd, nullptr);
    w->reader = ReplyReader();
  }

  void CloseAll() {
    for (Waiter& w : waiters_) {
      if (w.fd >= 0) close(w.fd);
      w.fd = -1;
    }
  }

  // Where the changes go: --push_to, or the server the waiters poll.
  int ConnectPush() {
    return ConnectBlocking(push_addr_ ? *push_addr_ : addr_);
  }

  int ConnectBlocking() { return ConnectBlocking(addr_); }
  int ConnectBlocking(const Address& to) {
    int fd = ConnectNonBlocking(to);
    if (fd < 0) Die(absl::StrCat("connect: ", std::strerror(errno)));
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, 5000) != 1) Die("connect timed out");
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) Die(absl::StrCat("connect: ", std::strerror(err)));
    return fd;
  }

  void Post(const std::string& body) {
    HttpHeaders headers = headers_;
    headers.emplace_back("Content-Type", "application/json");
    const HttpClient& to = push_http_ ? *push_http_ : http_;
    absl::StatusOr<HttpReply> r = to.Request("POST", "/push", body, headers);
    if (!r.ok()) Die(std::string(r.status().message()));
    if (r->status != 200)
      Die(absl::StrCat("POST /push: HTTP ", r->status, " ", r->body));
  }

  int64_t Seq(const std::string& key) {
    absl::StatusOr<HttpReply> r = http_.Request(
        "GET", absl::StrCat("/get?key=", UrlEncode(key)), "", headers_);
    if (!r.ok()) Die(std::string(r.status().message()));
    rapidjson::Document doc;
    doc.Parse(r->body.c_str());
    if (r->status != 200 || !doc.IsObject() || !doc.HasMember("seq") ||
        !doc["seq"].IsInt64()) {
      Die(absl::StrCat("GET /get: HTTP ", r->status, " ", r->body));
    }
    return doc["seq"].GetInt64();
  }

  // The waiters the server holds: canopy_waiters from canopyd's /metrics,
  // or "subscribers: N" from nchan's stub status.
  int64_t Waiters() {
    const std::string path =
        nchan_ ? absl::GetFlag(FLAGS_status_path) : "/metrics";
    const absl::string_view prefix =
        nchan_ ? "subscribers:" : "canopy_waiters ";
    absl::StatusOr<HttpReply> r = http_.Request("GET", path, "", headers_);
    if (!r.ok()) Die(absl::StrCat(path, ": ", r.status().message()));
    if (r->status != 200) Die(absl::StrCat(path, ": HTTP ", r->status));
    for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
      int64_t n = 0;
      if (absl::ConsumePrefix(&line, prefix) &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &n)) {
        return n;
      }
    }
    Die(absl::StrCat(path, " has no '", prefix, "' line"));
    return 0;
  }

  Address addr_;
  std::optional<Address> push_addr_;  // --push_to
  std::optional<HttpClient> push_http_;
  HttpClient http_;
  HttpHeaders headers_;
  std::string auth_;
  const bool nchan_;
  const bool external_;            // --ready_file: another process pushes
  int64_t wall_ns_ = 0;            // external_: when the last events were read
  std::vector<int64_t> walls_ns_;  // external_: every reply's wall clock
  std::string message_;            // nchan: the message published
  std::string request_;
  int epoll_ = -1;
  std::vector<Waiter> waiters_;
  int sent_ = 0;
  int failed_ = 0;
  int delivered_ = 0;
  int empty_ = 0;
  int bad_ = 0;
  Clock::time_point push_start_;
  std::vector<double> latencies_ms_;
  bool sustained_ = false;  // --changes_per_second: waiters poll again
  std::string sustained_key_;
  int push_fd_ = -1;
};

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "long-poll fan-out benchmark for canopyd or nginx + nchan; see "
      "tools/bench/run.sh");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Address> addr = LoopbackAddress(absl::GetFlag(FLAGS_server));
  if (!addr.ok()) Die(std::string(addr.status().message()));
  const int waiters = absl::GetFlag(FLAGS_waiters);
  if (waiters < 1) Die("--waiters must be positive");
  rlim_t limit = RaiseFdLimit();
  if (limit < static_cast<rlim_t>(waiters) + 32) {
    Die(absl::StrCat("open-file limit ", limit, " is too low for ", waiters,
                     " waiters; raise ulimit -Hn"));
  }
  if (!absl::GetFlag(FLAGS_ready_file).empty() &&
      (absl::GetFlag(FLAGS_go_file).empty() ||
       absl::GetFlag(FLAGS_done_file).empty())) {
    Die("--ready_file needs --go_file and --done_file");
  }
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target != "canopy" && target != "nchan") {
    Die("--target must be canopy or nchan");
  }
  Fanout fanout(*addr, HttpClient(addr->host, addr->port, 30),
                target == "nchan");
  if (!absl::GetFlag(FLAGS_push_to).empty()) {
    absl::StatusOr<Address> to = LoopbackAddress(absl::GetFlag(FLAGS_push_to));
    if (!to.ok()) Die(std::string(to.status().message()));
    fanout.set_push_to(*to);
  }
  return fanout.Run();
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
