// canopy-flood: the hostile clients of issue 18, bounded, loopback only, and
// what canopyd does under them. One mode a run:
//
//   slowloris  --connections=N HTTP connections, each sending one byte of a
//              request header every --interval seconds; a connection the
//              server closes is opened again (at most --reconnects_per_second).
//              Meanwhile /healthz and /metrics are asked once a second on a
//              fresh connection each (2 s timeout): the run reports how many
//              answered and how fast, and how many slow connections the
//              server closed.
//   tcp_idle   --connections=N TCP ingest connections that send nothing; then
//              every second a new sender writes one line and the run checks
//              (over HTTP) that it was applied.
//   hangup     --count hang-ups: --batch /pull (or --stream) clients at a
//              time park, then all close; canopyd's RSS (--pid, or
//              /metrics) every --report hang-ups.
//
//   canopy-flood --mode=slowloris --http=127.0.0.1:7575 --connections=10000
//       --interval=3 --duration=60  (one line)
//
// Stops by itself after --duration seconds (or --count hang-ups). Single
// threaded (epoll).
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "canopy/http_client.h"
#include "loopback.h"

ABSL_FLAG(std::string, mode, "slowloris", "slowloris, tcp_idle or hangup");
ABSL_FLAG(std::string, http, "127.0.0.1:7575", "canopyd's HTTP address");
ABSL_FLAG(std::string, tcp, "127.0.0.1:2003", "canopyd's TCP ingest address");
ABSL_FLAG(int32_t, connections, 1000, "slow or idle connections to hold");
ABSL_FLAG(double, interval, 3, "slowloris: seconds between header bytes");
ABSL_FLAG(int32_t, reconnects_per_second, 2000,
          "slowloris: most connections opened again a second");
ABSL_FLAG(int32_t, duration, 60, "seconds the run lasts");
ABSL_FLAG(int32_t, count, 100000, "hangup: hang-ups in all");
ABSL_FLAG(int32_t, batch, 1000, "hangup: clients parked at once");
ABSL_FLAG(int32_t, report, 10000, "hangup: print RSS every this many");
ABSL_FLAG(bool, stream, false, "hangup: /stream instead of /pull");
ABSL_FLAG(int32_t, pid, 0, "canopyd's pid, for its RSS (else /metrics)");

namespace {

using Clock = std::chrono::steady_clock;
using canopy::HttpClient;
namespace bench = canopy::bench;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void Fail(const std::string& why) {
  fprintf(stderr, "canopy-flood: %s\n", why.c_str());
  exit(1);
}

double MetricOf(HttpClient& http, const std::string& name) {
  auto r = http.Request("GET", "/metrics");
  if (!r.ok() || r->status != 200) return -1;
  size_t at = r->body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return atof(r->body.c_str() + at + name.size() + 2);
}

// A probe: a fresh connection asks `path`; the seconds it took, or -1.
double Probe(const bench::Address& a, const std::string& path) {
  HttpClient http(a.host, a.port, 2.0);
  auto start = Clock::now();
  auto r = http.Request("GET", path);
  if (!r.ok() || r->status != 200) return -1;
  return Since(start);
}

struct Probes {
  int asked = 0, answered = 0;
  std::vector<double> seconds;
  void Add(double s) {
    ++asked;
    if (s >= 0) {
      ++answered;
      seconds.push_back(s);
    }
  }
  std::string Summary() {
    std::sort(seconds.begin(), seconds.end());
    return absl::StrCat(answered, "/", asked, " answered, p50 ",
                        bench::Percentile(seconds, 0.5) * 1000, " ms, max ",
                        seconds.empty() ? 0 : seconds.back() * 1000, " ms");
  }
};

int Slowloris(const bench::Address& a) {
  const int n = absl::GetFlag(FLAGS_connections);
  const double interval = absl::GetFlag(FLAGS_interval);
  const int per_second = absl::GetFlag(FLAGS_reconnects_per_second);
  const int duration = absl::GetFlag(FLAGS_duration);
  static const char kHeader[] =
      "GET /get?key=slow HTTP/1.1\r\nHost: slowloris\r\nX-a: ";
  struct Slow {
    int fd = -1;
    size_t sent = 0;
    double next = 0;  // seconds since start
  };
  std::vector<Slow> slow(static_cast<size_t>(n));
  int ep = epoll_create1(EPOLL_CLOEXEC);
  auto start = Clock::now();
  uint64_t opened = 0, closed_by_server = 0, connect_failed = 0;
  size_t max_open = 0;
  Probes healthz, metrics;
  double next_probe = 1, next_print = 10;
  double budget_second = 0;
  int budget = per_second;
  while (Since(start) < duration) {
    double now = Since(start);
    if (now >= budget_second + 1) {
      budget_second = now;
      budget = per_second;
    }
    size_t open = 0;
    for (size_t i = 0; i < slow.size(); ++i) {
      Slow& s = slow[i];
      if (s.fd < 0) {
        if (budget <= 0) continue;
        --budget;
        s.fd = bench::ConnectNonBlocking(a);
        if (s.fd < 0) {
          ++connect_failed;
          continue;
        }
        ++opened;
        s.sent = 0;
        s.next = now + interval * (static_cast<double>(i % 1000) / 1000.0);
        epoll_event ev = {};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, s.fd, &ev);
      }
      ++open;
      if (now >= s.next) {
        // One byte of a header that never ends.
        char c = s.sent < sizeof kHeader - 1 ? kHeader[s.sent] : 'a';
        if (write(s.fd, &c, 1) == 1) ++s.sent;
        s.next = now + interval;
      }
    }
    max_open = std::max(max_open, open);
    epoll_event events[512];
    int k = epoll_wait(ep, events, 512, 50);
    for (int e = 0; e < k; ++e) {
      Slow& s = slow[events[e].data.u64];
      if (s.fd < 0) continue;
      char buf[4096];
      ssize_t r = read(s.fd, buf, sizeof buf);
      if (r > 0 && !(events[e].events & (EPOLLRDHUP | EPOLLHUP))) continue;
      // A reply (503 past the cap) or the end: the server let it go.
      ++closed_by_server;
      close(s.fd);
      s.fd = -1;
    }
    if (Since(start) >= next_probe) {
      next_probe += 1;
      healthz.Add(Probe(a, "/healthz"));
      metrics.Add(Probe(a, "/metrics"));
    }
    if (Since(start) >= next_print) {
      next_print += 10;
      printf("t=%.0fs open=%zu opened=%llu closed_by_server=%llu healthz %s\n",
             Since(start), open, static_cast<unsigned long long>(opened),
             static_cast<unsigned long long>(closed_by_server),
             healthz.Summary().c_str());
      fflush(stdout);
    }
  }
  printf(
      "slowloris: %d connections wanted, %zu open at most, %llu opened, %llu "
      "closed by the server, %llu connects failed\n/healthz: %s\n/metrics: "
      "%s\n",
      n, max_open, static_cast<unsigned long long>(opened),
      static_cast<unsigned long long>(closed_by_server),
      static_cast<unsigned long long>(connect_failed),
      healthz.Summary().c_str(), metrics.Summary().c_str());
  for (Slow& s : slow) {
    if (s.fd >= 0) close(s.fd);
  }
  close(ep);
  return 0;
}

int TcpIdle(const bench::Address& http_addr, const bench::Address& tcp) {
  const int n = absl::GetFlag(FLAGS_connections);
  const int duration = absl::GetFlag(FLAGS_duration);
  std::vector<int> idle;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < n; ++i) {
    int fd = bench::ConnectNonBlocking(tcp);
    if (fd < 0) Fail(absl::StrCat("connect: ", strerror(errno)));
    epoll_event ev = {};
    ev.events = EPOLLRDHUP;
    ev.data.u64 = idle.size();
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    idle.push_back(fd);
  }
  HttpClient http(http_addr.host, http_addr.port, 5.0);
  auto start = Clock::now();
  int served = 0, asked = 0;
  size_t closed = 0;
  std::vector<double> seconds;
  while (Since(start) < duration) {
    // A new sender: one line, then read it back over HTTP.
    ++asked;
    auto t = Clock::now();
    int fd = bench::ConnectNonBlocking(tcp);
    std::string value = absl::StrCat(asked);
    std::string line = absl::StrCat("flood.tcp.fresh ", value, "\n");
    bool ok = false;
    for (int tries = 0; fd >= 0 && tries < 100 && !ok; ++tries) {
      if (tries == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (write(fd, line.data(), line.size()) !=
            static_cast<ssize_t>(line.size())) {
          break;
        }
      }
      auto r = http.Request("GET", "/get?key=flood,tcp,fresh");
      ok = r.ok() &&
           r->body.find(absl::StrCat(":", value, "}")) != std::string::npos;
      if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (fd >= 0) close(fd);
    if (ok) {
      ++served;
      seconds.push_back(Since(t));
    }
    epoll_event events[512];
    int k;
    while ((k = epoll_wait(ep, events, 512, 0)) > 0) {
      for (int e = 0; e < k; ++e) {
        int& f = idle[events[e].data.u64];
        if (f >= 0) {
          close(f);
          f = -1;
          ++closed;
        }
      }
    }
    printf(
        "t=%.0fs idle connections closed by the server: %zu/%d; new sender "
        "%s\n",
        Since(start), closed, n, ok ? "served" : "NOT served");
    fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  std::sort(seconds.begin(), seconds.end());
  printf(
      "tcp_idle: %d idle connections, %zu closed by the server; new "
      "senders served %d/%d (p50 %.1f ms, max %.1f ms to read back)\n",
      n, closed, served, asked, bench::Percentile(seconds, 0.5) * 1000,
      seconds.empty() ? 0 : seconds.back() * 1000);
  for (const char* m :
       {"canopy_tcp_connections", "canopy_tcp_evicted_total",
        "canopy_tcp_idle_closed_total",
        "canopy_ingest_rejected_total{protocol=\"tcp\",reason=\"too_many_"
        "connections\"}"}) {
    printf("  %s %.0f\n", m, MetricOf(http, m));
  }
  for (int f : idle) {
    if (f >= 0) close(f);
  }
  close(ep);
  return 0;
}

int HangUp(const bench::Address& a) {
  const int count = absl::GetFlag(FLAGS_count);
  const int batch = absl::GetFlag(FLAGS_batch);
  const int report = absl::GetFlag(FLAGS_report);
  const int pid = absl::GetFlag(FLAGS_pid);
  const bool stream = absl::GetFlag(FLAGS_stream);
  HttpClient http(a.host, a.port, 10.0);
  auto rss = [&] {
    return pid > 0 ? static_cast<double>(bench::RssBytes(pid))
                   : MetricOf(http, "canopy_resident_memory_bytes");
  };
  auto wait_waiters = [&](double want) {
    auto t = Clock::now();
    while (Since(t) < 30) {
      if (MetricOf(http, "canopy_waiters") == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  };
  printf("hangup: 0 hang-ups, RSS %.1f MB\n", rss() / 1e6);
  int done = 0, next_report = report;
  auto start = Clock::now();
  while (done < count && Since(start) < absl::GetFlag(FLAGS_duration)) {
    std::vector<int> fds;
    for (int i = 0; i < batch && done + i < count; ++i) {
      int fd = bench::ConnectNonBlocking(a);
      if (fd < 0) Fail(absl::StrCat("connect: ", strerror(errno)));
      fds.push_back(fd);
    }
    // Connected (loopback: at once) and asked.
    for (size_t i = 0; i < fds.size(); ++i) {
      std::string req = absl::StrCat(
          "GET ", stream ? "/stream" : "/pull", "?key=hangup,", i % 7,
          stream ? "" : "&timeout=120", " HTTP/1.1\r\nHost: x\r\n\r\n");
      for (int tries = 0; tries < 1000; ++tries) {
        if (write(fds[i], req.data(), req.size()) > 0) break;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
    if (!wait_waiters(static_cast<double>(fds.size()))) {
      Fail("the waiters did not all park within 30 s");
    }
    for (int fd : fds) close(fd);
    done += static_cast<int>(fds.size());
    if (!wait_waiters(0)) Fail("waiters were left after a hang-up");
    if (done >= next_report) {
      next_report += report;
      printf("hangup: %d hang-ups, RSS %.1f MB, %.0f s\n", done, rss() / 1e6,
             Since(start));
      fflush(stdout);
    }
  }
  printf("hangup: gone-waiters counter %.0f\n",
         MetricOf(http, "canopy_waiters_gone_total"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);  // the server closes slow connections
  bench::RaiseFdLimit();
  absl::StatusOr<bench::Address> http =
      bench::LoopbackAddress(absl::GetFlag(FLAGS_http));
  if (!http.ok()) Fail(std::string(http.status().message()));
  std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "slowloris") return Slowloris(*http);
  if (mode == "hangup") return HangUp(*http);
  if (mode == "tcp_idle") {
    absl::StatusOr<bench::Address> tcp =
        bench::LoopbackAddress(absl::GetFlag(FLAGS_tcp));
    if (!tcp.ok()) Fail(std::string(tcp.status().message()));
    return TcpIdle(*http, *tcp);
  }
  Fail("--mode is slowloris, tcp_idle or hangup");
}
