// The series of the agent's on-demand collection API (agent/perf_api.h):
// samples of the system (cpu, memory, disk IO) and of the processes of one
// name, taken through the agent's own collectors (agent/system.h,
// agent/processes.h, agent/disks.h), and their answer as API.md's
// PerformanceInfo.
//
//   SystemSeries system(&log);
//   PerfSample s;
//   system.Sample(absl::Now(), &s);   // false: the first reading primes
//   ...one interval later...
//   if (system.Sample(absl::Now(), &s)) samples.push_back(s);
//   std::string json = SucceededAnswer(system, &disks, samples, nullptr);
//
// Thread-compatible: the API's thread owns every series.
#ifndef CANOPY_AGENT_PERF_SERIES_H_
#define CANOPY_AGENT_PERF_SERIES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/disks.h"
#include "agent/log.h"
#include "agent/processes.h"
#include "agent/system.h"

namespace canopy {
namespace agent {

// One sample of a series. Process samples leave `cores` empty.
struct PerfSample {
  double cpu = 0;             // busy percent (processes: of one core)
  std::vector<double> cores;  // busy percent of each core
  double mem_percent = 0;
  uint64_t mem_used = 0;  // bytes (processes: their rss)
  // Per second: bytes read and written, reads and writes.
  double read_size = 0, write_size = 0, read_count = 0, write_count = 0;
};

// The system's figures; rates and percents against the previous reading.
class SystemSeries {
 public:
  explicit SystemSeries(ErrorLog* log) : system_(log) {}

  // False for the first reading (it only primes the counters).
  bool Sample(absl::Time now, PerfSample* out);
  // The collector behind the series: cores, MemTotal, platform.
  const SystemCollector& collector() const { return system_; }

 private:
  SystemCollector system_;
};

// The processes named `name` (the kernel's comm, as --watch matches),
// summed: cpu percent of one core, rss, storage IO and read/write calls.
class ProcessSeries {
 public:
  ProcessSeries(ErrorLog* log, std::string name);

  // False for the first reading. `mem_total` (bytes) makes mem_percent.
  bool Sample(absl::Time now, uint64_t mem_total, PerfSample* out);

 private:
  ProcessCollector procs_;
  absl::Time last_ = absl::InfinitePast();
};

// {"result": "succeeded", "system": PerformanceInfo, "process": ...}: the
// series with what does not change between samples (cores, platform, cpu
// model, MemTotal from `system`; the disks read now). No "process" if
// `process` is null.
std::string SucceededAnswer(const SystemSeries& system, DiskCollector* disks,
                            const std::vector<PerfSample>& system_samples,
                            const std::vector<PerfSample>* process_samples);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_PERF_SERIES_H_
