// The agent's four machine benchmarks (issue 19): each a plain function that
// runs one bounded measurement on its caller's thread and returns figures,
// or an error and no figures at all.
//
//   BenchContext ctx;
//   ctx.budget = absl::Seconds(2);
//   ctx.dir = "/var/lib/canopy-agent/bench";
//   absl::StatusOr<BenchFigures> f = RunCpuBench(ctx);
//   // f->at(0) = {"single_mops", 412.3, kHigherIsBetter}, ...
//
// The bound: each returns after about `budget` of wall time (net: at most
// budget + 3 s when the peer is slow; a disk stuck in fsync is the
// kernel's), and soon after *stop becomes true, with CancelledError. Temporary
// files live in `dir` (the agent's --bench_dir, on the data disk) and are gone
// when the function returns, whatever happened: the disk file has no name at
// all (O_TMPFILE, or unlinked right after creation); SQLite's database cannot
// be unlinked while open (SQLite then refuses writes), so it is named
// kBenchFilePrefix + pid and removed on every way out, and a file left by a
// killed agent is removed by the next start (RemoveStaleBenchFiles).
//
// Threads: each function runs on the caller's thread (the agent's bench
// thread, agent/bench.h); RunCpuBench starts one more thread per core for
// the all-cores figure and joins them before it returns.
#ifndef CANOPY_AGENT_BENCH_KINDS_H_
#define CANOPY_AGENT_BENCH_KINDS_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace canopy {
namespace agent {

// How a figure falls: a throughput falls when it drops, a latency when it
// rises.
enum class Better { kHigher, kLower };
inline constexpr Better kHigherIsBetter = Better::kHigher;
inline constexpr Better kLowerIsBetter = Better::kLower;

struct BenchFigure {
  std::string name;  // a key segment: "single_mops", "p99_ms"
  double value = 0;
  Better better = kHigherIsBetter;
  // Compared with a baseline (false for counts such as "threads").
  bool compared = true;
};
using BenchFigures = std::vector<BenchFigure>;

struct BenchContext {
  absl::Duration budget = absl::Seconds(2);
  const std::atomic<bool>* stop = nullptr;  // optional
  std::string dir;                          // for temporary files: sqlite, disk
  std::string peer;  // net: a canopyd's base URL, http://HOST:PORT[?token=T]
  bool stopped() const { return stop != nullptr && stop->load(); }
};

// Where SQLite's temporary database is named: dir/<prefix><pid>.sqlite.
inline constexpr char kBenchFilePrefix[] = "canopy-bench-";

// cpu: a fixed integer and floating-point loop (agent/bench_cpu.cc), in
// millions of its iterations per second, on one core (single_mops) and on
// every core the agent may use at once (multi_mops, threads).
absl::StatusOr<BenchFigures> RunCpuBench(const BenchContext& ctx);
// sqlite: transactions of inserts, indexed selects and an update on a
// database in ctx.dir: tps, p99_ms.
absl::StatusOr<BenchFigures> RunSqliteBench(const BenchContext& ctx);
// disk: fsync_ms (median of small write+fdatasync), write_mbps and read_mbps
// (sequential, 1 MiB blocks, on a file of at most 64 MiB in ctx.dir; the
// read after posix_fadvise(DONTNEED), so that it comes from the disk).
absl::StatusOr<BenchFigures> RunDiskBench(const BenchContext& ctx);
// net: rtt_ms (median of small requests), download_mbps and upload_mbps
// against canopyd's /api/bench/download and /api/bench/upload at ctx.peer.
absl::StatusOr<BenchFigures> RunNetBench(const BenchContext& ctx);

// Removes files named kBenchFilePrefix* in `dir` (left by a killed agent);
// how many.
int RemoveStaleBenchFiles(const std::string& dir);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_BENCH_KINDS_H_
