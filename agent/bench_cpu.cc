// The cpu benchmark (see agent/bench_kinds.h): a fixed loop of integer and
// floating-point work, in the spirit of Dhrystone and Pystone, written for
// canopy: a hash mixed into a small array with data-dependent branches and
// stores (the integer half), and two dependent multiply-add recurrences
// (the floating-point half). One iteration is one "op"; the figures are
// millions of ops per second of wall time, on one thread and on one thread
// per core the agent may run on (sched_getaffinity), each for about 40 % of
// the budget. The loop's result is stored (g_sink) so that the compiler
// cannot drop the work.
//
// Threads: runs on the caller's thread (the niced bench thread); the
// all-cores part starts one std::thread per core, which inherit the
// caller's nice value (Linux keeps it per thread and copies it to new
// threads), and joins them before returning.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "agent/bench_kinds.h"

namespace canopy {
namespace agent {
namespace {

constexpr int kChunk = 1 << 14;  // ops between two looks at the clock

struct CpuState {
  uint32_t a[64];
  uint64_t h = 0xcbf29ce484222325ull;
  double x = 1.0, y = 0.5;
};

// One chunk of the fixed workload; returns nothing but changes `s`.
void RunChunk(CpuState& s, uint32_t base) {
  for (uint32_t i = base; i < base + kChunk; ++i) {
    uint32_t j = (i * 2654435761u) >> 26;  // 0..63
    s.h = (s.h ^ s.a[j]) * 0x100000001b3ull;
    s.a[j] = static_cast<uint32_t>(s.h >> 17) + i;
    if (s.a[j] & 1) {
      s.a[(j + 1) & 63] += 3;
    } else {
      s.a[(j + 7) & 63] ^= s.a[j];
    }
    s.x = s.x * 0.999999 + s.y * 1e-6 + 0.5;
    s.y = s.y * 0.999 + static_cast<double>(s.a[j] & 0xff) * 0.001;
  }
}

// Where each thread's result goes, so that the loop cannot be optimized
// away (atomic: several threads store at once).
std::atomic<double> g_sink{0};

// Runs chunks until `until` or a stop; returns the ops done, -1 if stopped.
int64_t Spin(absl::Time until, const BenchContext& ctx) {
  CpuState s;
  for (int i = 0; i < 64; ++i) s.a[i] = static_cast<uint32_t>(i * 7919);
  int64_t ops = 0;
  uint32_t base = 0;
  while (absl::Now() < until) {
    if (ctx.stopped()) return -1;
    RunChunk(s, base);
    base += kChunk;
    ops += kChunk;
  }
  g_sink.store(s.x + s.y + static_cast<double>(s.h & 0xffff),
               std::memory_order_relaxed);
  return ops;
}

int UsableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) {
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return std::max(1, CPU_COUNT(&set));
}

}  // namespace

absl::StatusOr<BenchFigures> RunCpuBench(const BenchContext& ctx) {
  const absl::Duration part = ctx.budget * 0.4;
  absl::Time t0 = absl::Now();
  int64_t single = Spin(t0 + part, ctx);
  if (single < 0) return absl::CancelledError("cpu: stopped");
  double single_s = absl::ToDoubleSeconds(absl::Now() - t0);

  const int n = UsableCores();
  std::vector<int64_t> ops(n, 0);
  std::vector<std::thread> threads;
  threads.reserve(n);
  absl::Time t1 = absl::Now();
  const absl::Time until = t1 + part;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { ops[i] = Spin(until, ctx); });
  }
  for (std::thread& t : threads) t.join();
  double multi_s = absl::ToDoubleSeconds(absl::Now() - t1);
  int64_t multi = 0;
  for (int64_t o : ops) {
    if (o < 0) return absl::CancelledError("cpu: stopped");
    multi += o;
  }
  if (single_s <= 0 || multi_s <= 0) {
    return absl::InternalError("cpu: the clock did not move");
  }
  return BenchFigures{
      {"single_mops", single / single_s / 1e6, kHigherIsBetter, true},
      {"multi_mops", multi / multi_s / 1e6, kHigherIsBetter, true},
      {"threads", static_cast<double>(n), kHigherIsBetter, false},
  };
}

}  // namespace agent
}  // namespace canopy
