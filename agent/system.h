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
// open and re-read with pread. Sample() reads cpu, memory and disk IO the
// same way as figures instead of JSON (the on-demand API's series,
// agent/perf_series.h). Thread-compatible: one thread collects.
#ifndef CANOPY_AGENT_SYSTEM_H_
#define CANOPY_AGENT_SYSTEM_H_

#include <array>
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

// One line of /proc/stat's cpu block over the interval: percents in
// kCpuFields' order (busy last).
struct CpuUsage {
  int core = -1;       // -1 for all cpus, N for cpuN
  bool known = false;  // false on the first reading or if no time passed
  std::array<double, 9> percents{};
};

// A named set of counters' increase per second over the interval: a whole
// disk's (in kDiskIoFields' order) or a network interface's (kNetFields').
template <size_t N>
struct CounterRates {
  std::string name;  // the device or interface
  std::array<double, N> per_second{};
};
using DiskIoRate = CounterRates<4>;
using NetRate = CounterRates<8>;

// What describes the machine (the "info" subtree, the API's "platform").
struct PlatformInfo {
  std::string hostname;
  std::string os;              // uname's sysname ("Linux")
  std::string kernel;          // uname's release
  std::string kernel_version;  // uname's version
  std::string arch;            // uname's machine
  std::string distro;          // os-release's PRETTY_NAME, "" if none
};
// Reads it; `root` prefixes the os-release paths.
PlatformInfo ReadPlatformInfo(const std::string& root = "");

// /proc/cpuinfo's model and mean MHz; without MHz there, cpu0's cpufreq.
// /proc/cpuinfo is costly to produce (the kernel samples every core's
// frequency): read it rarely.
void ReadCpuModel(const std::string& root, std::string* model, double* mhz);

class SystemCollector {
 public:
  // `root` prefixes every path ("" for the real /proc and /sys; tests may
  // point it at a captured tree).
  explicit SystemCollector(ErrorLog* log, std::string root = "");

  // Writes cpu, mem, swap, load, uptime, info, net, diskio and cgroup under
  // `host`. `now` is a monotonic reading used for rates.
  void Collect(absl::Time now, rapidjson::Value* host, JsonAlloc& a);

  // cpu, memory and disk IO as figures, read as Collect() reads them; the
  // rates are against the previous Sample() or Collect(). False on the
  // first call (it only primes the counters) or if no time passed.
  struct Usage {
    std::vector<CpuUsage> cpu;  // every line, in /proc/stat's order
    MemFigures mem;
    std::vector<DiskIoRate> disk_io;  // whole disks seen in both readings
  };
  bool Sample(absl::Time now, Usage* out);

  // MemTotal in bytes as of the last Collect() (for processes' memory %).
  uint64_t mem_total() const { return mem_total_; }
  int cores() const { return cores_; }
  const PlatformInfo& platform() const { return platform_; }

 private:
  // Seconds since the previous call (0 the first time); `now` becomes the
  // previous call.
  double Interval(absl::Time now);
  bool ReadCpu(std::vector<CpuUsage>* out);
  bool ReadMem(MemFigures* out);
  bool ReadDiskIo(absl::Time now, double seconds, std::vector<DiskIoRate>* out);
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
  PlatformInfo platform_;
  std::string cpu_model_;
  double cpu_mhz_ = 0;
  absl::Time cpuinfo_read_ = absl::InfinitePast();
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_SYSTEM_H_
