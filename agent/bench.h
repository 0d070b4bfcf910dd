// The agent's machine benchmarks over time (issue 19; docs/AGENT.md,
// "Benchmarks"): when each runs, the baseline each figure is compared with,
// and the bench subtree pushed under host,<NAME>,bench,...
//
//   BenchRunner bench(options, &log);
//   bench.Start();                      // the directory, the baseline file
//   // on the collecting thread, every interval:
//   bench.WaitIdle(...);                // before collecting (see below)
//   Collect(...); bench.AddTo(&host_body, alloc);
//   bench.Kick(absl::Now());            // right after collecting
//
// Never beside a collection: Kick starts at most one benchmark (the next
// one due), on the runner's own thread, right after an interval's work;
// its budget is --bench_budget (2 s) but at most half the interval, so it
// is normally done before the next tick, and the collecting thread waits
// for it anyway before it collects (WaitIdle), so that the two never
// overlap even when a disk or a peer is slow (a silent net peer: up to the
// budget + 3 s, agent/bench_net.cc). The runner's thread is niced to 19 and its
// I/O to the lowest best-effort priority; the cpu benchmark's threads inherit
// both.
//
// A figure is judged by the median of its last kRecentRuns (3) runs, this
// one included, so that one unlucky run on a noisy machine is not a fall;
// its baseline is the median of the up to --bench_baseline_runs (10) runs
// before those, kept in <dir>/baseline.json so that it survives restarts
// (no baseline until 3 such runs exist: 6 runs in all). The figure falls by
// (baseline - recent) / baseline for a throughput, (recent - baseline) /
// baseline for a latency, in percent; a benchmark's fall_percent is its
// worst figure's (0 if none is worse than its baseline), and bench,degraded
// is 1 while any benchmark's latest fall_percent is above
// --bench_fall_percent. A lasting fall becomes the new baseline once it
// fills half the baseline's runs: the flag says "worse than this machine
// was", not "worse than it should be".
//
// Threads: Start, Kick, WaitIdle, RunNow, AddTo and Stop are called by one
// thread (the collecting thread); the benchmarks run on the runner's
// thread; the outcomes are shared under a Mutex.
#ifndef CANOPY_AGENT_BENCH_H_
#define CANOPY_AGENT_BENCH_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/bench_kinds.h"
#include "agent/json.h"
#include "agent/log.h"
#include "canopy/mutex.h"

namespace canopy {
namespace agent {

struct BenchOptions {
  std::vector<std::string> kinds;  // of cpu, sqlite, disk, net; none: off
  absl::Duration interval = absl::Hours(1);
  // The most each benchmark may take; RunAgent lowers it to half the
  // collection interval.
  absl::Duration budget = absl::Seconds(2);
  std::string peer;  // --bench_peer
  std::string dir = "./var/canopy-agent/bench";
  double fall_percent = 25;
  int baseline_runs = 10;
};

// Checks the options; the error is one line naming the flag.
absl::Status ValidateBenchOptions(const BenchOptions& o);

// The figures of each benchmark's past runs, by benchmark and figure name,
// the newest last; `keep` + kRecentRuns each at most. Thread-compatible.
class Baselines {
 public:
  Baselines(std::string path, int keep) : path_(std::move(path)), keep_(keep) {}
  // Reads the file; a missing one is no history; a bad one is an error
  // (and no history: the next Save rewrites it).
  absl::Status Load();
  // Writes the file (to a temporary name, then renamed).
  absl::Status Save() const;
  struct Judged {
    double baseline;  // the median of the runs before the recent ones
    double recent;    // the median of the last kRecentRuns runs
  };
  // Both medians, if there are kRecentRuns runs and kMinRuns before them.
  std::optional<Judged> Judge(const std::string& kind,
                              const std::string& figure) const;
  void Add(const std::string& kind, const std::string& figure, double value);

  static constexpr int kMinRuns = 3;
  static constexpr int kRecentRuns = 3;

 private:
  std::string path_;
  int keep_;
  std::map<std::string, std::map<std::string, std::vector<double>>> runs_;
};

class BenchRunner {
 public:
  BenchRunner(BenchOptions options, ErrorLog* log);
  ~BenchRunner();  // Stop()

  // Creates the directory, removes files a killed run left there, loads the
  // baseline and starts the thread. Every benchmark is due at once. What
  // fails is logged (the benchmarks that need the directory then report
  // the error as theirs).
  void Start();
  // Starts the next benchmark due at `now`, if none is running; false if
  // none started.
  bool Kick(absl::Time now);
  // Starts `kind` now (for --once); false if one is running.
  bool RunNow(const std::string& kind);
  // Waits at most `timeout` until no benchmark runs; true if none does.
  bool WaitIdle(absl::Duration timeout);
  // Asks the running benchmark to give up (it reports nothing) and joins
  // the thread.
  void Stop();

  // Adds `bench` to the host's object: the latest outcome of each benchmark
  // that ran (see docs/AGENT.md for the keys).
  void AddTo(rapidjson::Value* host_body, JsonAlloc& a);

  const BenchOptions& options() const { return options_; }

 private:
  struct Outcome {
    absl::Time when;
    double seconds = 0;
    std::string error;  // empty: figures are real
    BenchFigures figures;
    std::map<std::string, double> baseline;  // by figure
    std::map<std::string, double> recent;    // by figure
    double fall_percent = 0;
  };
  void Loop();
  Outcome Run(const std::string& kind);

  const BenchOptions options_;
  ErrorLog* log_;
  Baselines baselines_;  // the runner's thread's, once started
  std::map<std::string, absl::Time> due_;  // the collecting thread's
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Mutex mu_;
  std::string job_ ABSL_GUARDED_BY(mu_);  // "" : none
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool quit_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Outcome> latest_ ABSL_GUARDED_BY(mu_);
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_BENCH_H_
