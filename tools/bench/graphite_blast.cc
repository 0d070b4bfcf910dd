// canopy-graphite-blast: a Graphite plaintext load generator over TCP for the
// side-by-side ingest benchmarks (tools/bench/ingest.sh; DESIGN.md "Figures
// to reach").
//
//   canopy-graphite-blast --server=127.0.0.1:2003 --connections=4
//                         --rate=0 --seconds=5 --keys=10000
//
// Opens --connections TCP connections and writes lines
// `PREFIX.gG.mM VALUE TIMESTAMP` over --keys distinct paths, in chunks of
// --chunk_lines lines built before the clock starts (timestamps are the
// start time). --threads threads share the connections, each writing whole
// chunks round-robin to its own with blocking writes, so a slow reader
// pushes back. --rate caps the lines per second over all threads (0: as
// fast as the server reads). Stops after --seconds and closes the
// connections.
//
// Only 127.0.0.0/8 is accepted as a target, and --seconds is at most 60.
// Prints a summary and a last line "RESULT key=value ..." for scripts.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "loopback.h"

ABSL_FLAG(std::string, server, "127.0.0.1:2003",
          "the Graphite plaintext TCP address (127.x.x.x only)");
ABSL_FLAG(int, connections, 4, "TCP connections");
ABSL_FLAG(int, threads, 1, "writing threads (at most --connections)");
ABSL_FLAG(double, rate, 0, "target lines per second in all (0: unpaced)");
ABSL_FLAG(double, seconds, 5, "how long to send (at most 60)");
ABSL_FLAG(int, keys, 10000, "distinct metric paths");
ABSL_FLAG(int, chunk_lines, 200, "lines per write");
ABSL_FLAG(int, pool, 256, "distinct chunks built before the run");
ABSL_FLAG(std::string, prefix, "bench", "first segment of every path");

namespace canopy {
namespace bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::vector<std::string> BuildPool(int count, int lines, int keys,
                                   const std::string& prefix, int64_t now) {
  std::mt19937 rng(42);
  std::vector<std::string> pool(count);
  for (std::string& chunk : pool) {
    for (int i = 0; i < lines; ++i) {
      int k = static_cast<int>(rng() % keys);
      absl::StrAppend(&chunk, prefix, ".g", k / 100, ".m", k % 100, " ",
                      rng() % 10000, ".", rng() % 10, " ", now, "\n");
    }
  }
  return pool;
}

struct ThreadResult {
  int64_t chunks = 0;
  int64_t bytes = 0;
  int64_t errors = 0;
  int open = 0;
};

// Writes all of `data` to blocking `fd`; false on an error (errno set).
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void WriteLoop(std::vector<int> fds, const std::vector<std::string>& pool,
               size_t first, double chunks_per_second, Clock::time_point end,
               ThreadResult* result) {
  size_t next = first % pool.size();
  size_t conn = 0;
  Clock::time_point start = Clock::now();
  while (!fds.empty()) {
    Clock::time_point now = Clock::now();
    if (now >= end) break;
    if (chunks_per_second > 0) {
      Clock::time_point due =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(result->chunks /
                                                    chunks_per_second));
      if (due > now) {
        std::this_thread::sleep_for(std::min(due, end) - now);
        continue;
      }
    }
    const std::string& chunk = pool[next];
    next = next + 1 == pool.size() ? 0 : next + 1;
    conn = conn >= fds.size() ? 0 : conn;
    if (!WriteAll(fds[conn], chunk)) {
      ++result->errors;
      close(fds[conn]);
      fds.erase(fds.begin() + conn);
      continue;
    }
    ++result->chunks;
    result->bytes += chunk.size();
    ++conn;
  }
  result->open = static_cast<int>(fds.size());
  for (int fd : fds) {
    shutdown(fd, SHUT_WR);
    close(fd);
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "canopy-graphite-blast --server=127.0.0.1:PORT --connections=N "
      "--seconds=S: Graphite plaintext over TCP on loopback");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  absl::StatusOr<Address> addr = LoopbackAddress(absl::GetFlag(FLAGS_server));
  if (!addr.ok()) {
    std::fprintf(stderr, "%s\n", std::string(addr.status().message()).c_str());
    return 2;
  }
  double seconds = absl::GetFlag(FLAGS_seconds);
  double rate = absl::GetFlag(FLAGS_rate);
  int connections = absl::GetFlag(FLAGS_connections);
  int threads = std::min(absl::GetFlag(FLAGS_threads), connections);
  int chunk_lines = absl::GetFlag(FLAGS_chunk_lines);
  int keys = absl::GetFlag(FLAGS_keys);
  int pool_size = absl::GetFlag(FLAGS_pool);
  if (seconds <= 0 || seconds > 60) {
    std::fprintf(stderr, "--seconds must be in (0, 60]\n");
    return 2;
  }
  if (rate < 0 || connections < 1 || connections > 1000 || threads < 1 ||
      chunk_lines < 1 || keys < 1 || pool_size < 1) {
    std::fprintf(stderr, "a flag is out of range\n");
    return 2;
  }
  std::vector<std::string> pool =
      BuildPool(pool_size, chunk_lines, keys, absl::GetFlag(FLAGS_prefix),
                static_cast<int64_t>(std::time(nullptr)));

  std::vector<std::vector<int>> fds(threads);
  for (int c = 0; c < connections; ++c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&addr->sin),
                          sizeof addr->sin) != 0) {
      std::fprintf(stderr, "connect to %s:%d: %s\n", addr->host.c_str(),
                   addr->port, std::strerror(errno));
      return 1;
    }
    fds[c % threads].push_back(fd);
  }

  std::vector<ThreadResult> results(threads);
  std::vector<std::thread> workers;
  Clock::time_point start = Clock::now();
  Clock::time_point end = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(seconds));
  double per_thread = rate / chunk_lines / threads;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back(WriteLoop, fds[t], std::cref(pool),
                         t * pool.size() / threads, per_thread, end,
                         &results[t]);
  }
  for (std::thread& w : workers) w.join();
  double elapsed = Seconds(Clock::now() - start);

  ThreadResult total;
  for (const ThreadResult& r : results) {
    total.chunks += r.chunks;
    total.bytes += r.bytes;
    total.errors += r.errors;
    total.open += r.open;
  }
  int64_t lines = total.chunks * chunk_lines;
  double achieved = lines / elapsed;
  std::printf("sent %" PRId64 " lines (%" PRId64
              " bytes) on %d connections in %.2f s: %.0f lines/s "
              "(target %s), %" PRId64 " connections lost\n",
              lines, total.bytes, connections, elapsed, achieved,
              rate > 0 ? absl::StrCat(rate).c_str() : "unpaced", total.errors);
  std::printf("RESULT lines=%" PRId64 " bytes=%" PRId64
              " seconds=%.3f rate=%.0f target=%.0f lost_connections=%" PRId64
              "\n",
              lines, total.bytes, elapsed, achieved, rate, total.errors);
  return 0;
}

}  // namespace
}  // namespace bench
}  // namespace canopy

int main(int argc, char** argv) { return canopy::bench::Main(argc, argv); }
