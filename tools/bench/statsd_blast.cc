// canopy-statsd-blast: a StatsD load generator over UDP for the side-by-side
// ingest benchmarks (tools/bench/ingest.sh; DESIGN.md "Figures to reach").
//
//   canopy-statsd-blast --server=127.0.0.1:8125 --rate=1000000 --seconds=5
//                       --lines_per_datagram=10 --keys=10000 --threads=1
//
// Each datagram holds --lines_per_datagram StatsD lines over a key space of
// --keys distinct names; a name keeps one type, a third each counters
// (`PREFIX.c.gG.mM:1|c`), gauges (`PREFIX.g...:V|g`) and timers
// (`PREFIX.t...:V|ms`). A pool of --pool datagrams is built before the clock
// starts, so that the generator spends its time in sendmmsg(2), --batch
// datagrams per call. Each of --threads threads sends its share of --rate
// lines per second (0: as fast as it can), paced per batch, for --seconds.
//
// Only 127.0.0.0/8 is accepted as a target, and --seconds is at most 60.
// Prints a summary and a last line "RESULT key=value ..." for scripts; the
// kernel's UDP receive-buffer drops on the machine (/proc/net/snmp
// RcvbufErrors) during the run are in it too.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "loopback.h"

ABSL_FLAG(std::string, server, "127.0.0.1:8125",
          "the StatsD UDP address (127.x.x.x only)");
ABSL_FLAG(double, rate, 100000, "target lines per second (0: unpaced)");
ABSL_FLAG(double, seconds, 5, "how long to send (at most 60)");
ABSL_FLAG(int, lines_per_datagram, 10, "StatsD lines in each datagram");
ABSL_FLAG(int, keys, 10000, "distinct metric names");
ABSL_FLAG(int, threads, 1, "sending threads, each with its own socket");
ABSL_FLAG(int, batch, 64, "datagrams per sendmmsg call");
ABSL_FLAG(int, pool, 8192, "distinct datagrams built before the run");
ABSL_FLAG(std::string, prefix, "bench", "first segment of every name");
ABSL_FLAG(int, sndbuf, 4 << 20, "SO_SNDBUF in bytes (0: the default)");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The machine's UDP RcvbufErrors counter (datagrams the kernel dropped
// because a socket's receive buffer was full); -1 if unknown.
int64_t UdpRcvbufErrors() {
  std::ifstream in("/proc/net/snmp");
  std::string header, line;
  while (std::getline(in, line)) {
    if (line.rfind("Udp:", 0) != 0) continue;
    if (header.empty()) {
      header = line;
      continue;
    }
    std::vector<std::string> names = absl::StrSplit(header, ' ');
    std::vector<std::string> values = absl::StrSplit(line, ' ');
    for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
      int64_t v = 0;
      if (names[i] == "RcvbufErrors" && absl::SimpleAtoi(values[i], &v)) {
        return v;
      }
    }
  }
  return -1;
}

// One StatsD line for name number `k` with a pseudo-random value.
void AppendLine(std::string* out, const std::string& prefix, int k,
                std::mt19937* rng) {
  int group = k / 100, member = k % 100;
  switch (k % 3) {
    case 0:
      absl::StrAppend(out, prefix, ".c.g", group, ".m", member, ":1|c");
      break;
    case 1:
      absl::StrAppend(out, prefix, ".g.g", group, ".m", member, ":",
                      (*rng)() % 10000, "|g");
      break;
    default:
      absl::StrAppend(out, prefix, ".t.g", group, ".m", member, ":",
                      (*rng)() % 1000, ".", (*rng)() % 10, "|ms");
      break;
  }
}

std::vector<std::string> BuildPool(int count, int lines, int keys,
                                   const std::string& prefix) {
  std::mt19937 rng(42);
  std::vector<std::string> pool(count);
  for (std::string& d : pool) {
    for (int i = 0; i < lines; ++i) {
      if (i > 0) d += '\n';
      AppendLine(&d, prefix, static_cast<int>(rng() % keys), &rng);
    }
  }
  return pool;
}

struct ThreadResult {
  int64_t datagrams = 0;
  int64_t errors = 0;
  int64_t calls = 0;
};

void SendLoop(const Address& addr, const std::vector<std::string>& pool,
              size_t first, double datagrams_per_second, Clock::time_point end,
              int batch, int sndbuf, ThreadResult* result) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    perror("socket");
    return;
  }
  if (sndbuf > 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msgs(batch);
  size_t next = first % pool.size();
  Clock::time_point start = Clock::now();
  while (true) {
    Clock::time_point now = Clock::now();
    if (now >= end) break;
    if (datagrams_per_second > 0) {
      // Pace: the batch about to go out is due once the datagrams already
      // sent fit in the time since the start.
      Clock::time_point due =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(result->datagrams /
                                                    datagrams_per_second));
      if (due > now) {
        std::this_thread::sleep_for(std::min(due, end) - now);
        continue;
      }
    }
    for (int i = 0; i < batch; ++i) {
      const std::string& d = pool[next];
      next = next + 1 == pool.size() ? 0 : next + 1;
      iov[i].iov_base = const_cast<char*>(d.data());
      iov[i].iov_len = d.size();
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_name = const_cast<sockaddr_in*>(&addr.sin);
      msgs[i].msg_hdr.msg_namelen = sizeof addr.sin;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int done = 0;
    while (done < batch) {
      int n = sendmmsg(fd, msgs.data() + done, batch - done, 0);
      ++result->calls;
      if (n < 0) {
        if (errno == EINTR) continue;
        ++result->errors;
        break;
      }
      done += n;
    }
    result->datagrams += done;
  }
  close(fd);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "canopy-statsd-blast --server=127.0.0.1:PORT --rate=LINES_PER_S "
      "--seconds=S: StatsD over UDP on loopback");
  absl::ParseCommandLine(argc, argv);
  absl::StatusOr<Address> addr = LoopbackAddress(absl::GetFlag(FLAGS_server));
  if (!addr.ok()) {
    std::fprintf(stderr, "%s\n", std::string(addr.status().message()).c_str());
    return 2;
  }
  double seconds = absl::GetFlag(FLAGS_seconds);
  double rate = absl::GetFlag(FLAGS_rate);
  int lines = absl::GetFlag(FLAGS_lines_per_datagram);
  int keys = absl::GetFlag(FLAGS_keys);
  int threads = absl::GetFlag(FLAGS_threads);
  int batch = absl::GetFlag(FLAGS_batch);
  int pool_size = absl::GetFlag(FLAGS_pool);
  if (seconds <= 0 || seconds > 60) {
    std::fprintf(stderr, "--seconds must be in (0, 60]\n");
    return 2;
  }
  if (rate < 0 || lines < 1 || lines > 1000 || keys < 1 || threads < 1 ||
      threads > 64 || batch < 1 || batch > 1024 || pool_size < 1) {
    std::fprintf(stderr, "a flag is out of range\n");
    return 2;
  }
  std::vector<std::string> pool =
      BuildPool(pool_size, lines, keys, absl::GetFlag(FLAGS_prefix));
  size_t bytes = 0;
  for (const std::string& d : pool) bytes += d.size();
  double mean_bytes = static_cast<double>(bytes) / pool.size();

  int64_t drops_before = UdpRcvbufErrors();
  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> workers;
  Clock::time_point start = Clock::now();
  Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  double per_thread = rate / lines / threads;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(SendLoop, std::cref(*addr), std::cref(pool),
                         t * pool.size() / threads, per_thread, end, batch,
                         absl::GetFlag(FLAGS_sndbuf), &results[t]);
  }
  for (std::thread& w : workers) w.join();
  double elapsed = Seconds(Clock::now() - start);
  // Let the receiver drain its buffer before reading the drop counter.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int64_t drops_after = UdpRcvbufErrors();

  ThreadResult total;
  for (const ThreadResult& r : results) {
    total.datagrams += r.datagrams;
    total.errors += r.errors;
    total.calls += r.calls;
  }
  int64_t sent_lines = total.datagrams * lines;
  double achieved = sent_lines / elapsed;
  int64_t drops =
      drops_before >= 0 && drops_after >= 0 ? drops_after - drops_before : -1;
  std::printf("sent %" PRId64 " lines in %" PRId64
              " datagrams (%.0f bytes each) "
              "in %.2f s: %.0f lines/s (target %.0f), %" PRId64
              " send errors, %" PRId64 " datagrams dropped by the kernel\n",
              sent_lines, total.datagrams, mean_bytes, elapsed, achieved, rate,
              total.errors, drops);
  std::printf("RESULT lines=%" PRId64 " datagrams=%" PRId64
              " seconds=%.3f rate=%.0f target=%.0f send_errors=%" PRId64
              " rcvbuf_errors=%" PRId64 " bytes_per_datagram=%.0f\n",
              sent_lines, total.datagrams, elapsed, achieved, rate,
              total.errors, drops, mean_bytes);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
