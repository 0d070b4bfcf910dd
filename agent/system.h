// The system collectors: cpu (total and per core), memory and swap, load,
// uptime, platform info, network per interface, disk IO per whole disk and,
// inside a cgroup v2 container, its limits. Each writes its keys into the
// host's object of the agent's JSON tree (see docs/AGENT.md for the keys).
//
//   SystemCollector system(&log);
//   system.Collect(now, &host_object, alloc);   // levels; primes counters
//   ...one interval later...
//   system.Collect(now, &host_object, alloc);   // and rates and percents
//
// Rates and percents come from the difference with the previous Collect();
// the first call reports only the levels (memory, load, ...). Files are kept
// open and re-read with pread. Thread-compatible: one thread collects.
#ifndef CANOPY_AGENT_SYSTEM_H_
#define CANOPY_AGENT_SYSTEM_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/proc_file.h"
#include "agent/proc_parse.h"

namespace canopy {
namespace agent {

class SystemCollector {
 public:
  // `root` prefixes every path ("" for the real /proc and /sys; tests may
  // point it at a captured tree).
  explicit SystemCollector(ErrorLog* log, std::string root = "");

  // Writes cpu, mem, swap, load, uptime, info, net, diskio and cgroup under
  // `host`. `now` is a monotonic reading used for rates.
  void Collect(absl::Time now, rapidjson::Value* host, JsonAlloc& a);

  // MemTotal in bytes as of the last Collect() (for processes' memory %).
  uint64_t mem_total() const { return mem_total_; }
  int cores() const { return cores_; }

 private:
  void CollectCpu(rapidjson::Value* host, JsonAlloc& a);
  void CollectMem(rapidjson::Value* host, JsonAlloc& a);
  void CollectLoad(rapidjson::Value* host, JsonAlloc& a);
  void CollectInfo(absl::Time now, rapidjson::Value* host, JsonAlloc& a);
  void CollectNet(double seconds, rapidjson::Value* host, JsonAlloc& a);
  void CollectDiskIo(absl::Time now, double seconds, rapidjson::Value* host,
                     JsonAlloc& a);
  void CollectCgroup(rapidjson::Value* host, JsonAlloc& a);
  // Reads `f`, reporting an error (rate-limited) if it fails.
  bool ReadOr(ProcFile& f, absl::string_view* text);

  ErrorLog* log_;
  std::string root_;
  ProcFile stat_, meminfo_, loadavg_, uptime_, netdev_, diskstats_;
  std::unique_ptr<ProcFile> cg_mem_max_, cg_mem_cur_, cg_cpu_max_;

  absl::Time last_ = absl::InfinitePast();
  absl::flat_hash_map<int, CpuTimes> cpu_prev_;
  absl::flat_hash_map<std::string, NetCounters> net_prev_;
  absl::flat_hash_map<std::string, DiskCounters> disk_prev_;
  std::vector<std::string> whole_disks_;
  absl::Time whole_disks_read_ = absl::InfinitePast();

  uint64_t mem_total_ = 0;
  int cores_ = 0;
  // Platform info: read once, cpu MHz once a minute.
  std::string hostname_, os_, distro_, kernel_, arch_, cpu_model_;
  double cpu_mhz_ = 0;
  absl::Time cpuinfo_read_ = absl::InfinitePast();
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_SYSTEM_H_
