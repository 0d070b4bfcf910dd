#include "agent/system.h"

#include <dirent.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace canopy {
namespace agent {
namespace {

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  }
  closedir(d);
  return out;
}

// The rates of the records of `now` that `*prev` has too (none if no time
// passed); `*prev` becomes `now`, by name. Counters is NetCounters or
// DiskCounters: `name` its name, `v` its counters.
template <typename Counters, size_t N>
void TakeRates(std::vector<Counters> now, std::string Counters::*name,
               double seconds, absl::flat_hash_map<std::string, Counters>* prev,
               std::vector<CounterRates<N>>* out) {
  absl::flat_hash_map<std::string, Counters> next;
  for (Counters& c : now) {
    auto p = prev->find(c.*name);
    if (p != prev->end() && seconds > 0) {
      CounterRates<N> r;
      r.name = c.*name;
      for (size_t i = 0; i < N; ++i) {
        r.per_second[i] = CounterDelta(p->second.v[i], c.v[i]) / seconds;
      }
      out->push_back(std::move(r));
    }
    std::string key = c.*name;
    next.emplace(std::move(key), std::move(c));
  }
  *prev = std::move(next);
}

// host,<subtree>,<name>,<field> for each of `rates` (action avg); nothing
// if there are none.
template <size_t N>
void WriteRates(const char* subtree, const char* const (&fields)[N],
                const std::vector<CounterRates<N>>& rates,
                rapidjson::Value* host, JsonAlloc& a) {
  if (rates.empty()) return;
  rapidjson::Value& tree = Child(*host, subtree, a);
  SetText(tree, "defaultaction", "avg", a);
  for (const CounterRates<N>& r : rates) {
    rapidjson::Value& out = Child(tree, SafeSegment(r.name), a);
    for (size_t i = 0; i < N; ++i) {
      SetNumber(out, fields[i], r.per_second[i], a);
    }
  }
}

std::string FirstLine(const std::string& path) {
  absl::StatusOr<std::string> s = ReadSmallFile(path);
  if (!s.ok()) return "";
  return std::string(absl::StripAsciiWhitespace(*s));
}

}  // namespace

PlatformInfo ReadPlatformInfo(const std::string& root) {
  PlatformInfo p;
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0) p.hostname = name;
  utsname u;
  if (uname(&u) == 0) {
    p.os = u.sysname;
    p.kernel = u.release;
    p.kernel_version = u.version;
    p.arch = u.machine;
  }
  absl::StatusOr<std::string> os_release =
      ReadSmallFile(root + "/etc/os-release");
  if (!os_release.ok()) {
    os_release = ReadSmallFile(root + "/usr/lib/os-release");
  }
  if (os_release.ok()) p.distro = ParseOsRelease(*os_release);
  return p;
}

void ReadCpuModel(const std::string& root, std::string* model, double* mhz) {
  model->clear();
  *mhz = 0;
  absl::StatusOr<std::string> ci = ReadSmallFile(root + "/proc/cpuinfo");
  if (ci.ok()) ParseCpuinfo(*ci, model, mhz);
  if (*mhz == 0) {
    std::string khz = FirstLine(
        root + "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq");
    double v;
    if (absl::SimpleAtod(khz, &v)) *mhz = v / 1000;
  }
}

SystemCollector::SystemCollector(ErrorLog* log, std::string root)
    : log_(log),
      root_(std::move(root)),
      stat_(root_ + "/proc/stat"),
      meminfo_(root_ + "/proc/meminfo"),
      loadavg_(root_ + "/proc/loadavg"),
      uptime_(root_ + "/proc/uptime"),
      netdev_(root_ + "/proc/net/dev"),
      diskstats_(root_ + "/proc/diskstats"),
      platform_(ReadPlatformInfo(root_)) {
  // cgroup v2: the process's own cgroup under the unified hierarchy. Only a
  // non-root cgroup has memory.max and cpu.max, so on a host nothing shows.
  absl::StatusOr<std::string> cg = ReadSmallFile(root_ + "/proc/self/cgroup");
  if (cg.ok()) {
    std::string path = ParseCgroupV2Path(*cg);
    if (!path.empty()) {
      // The cgroup's own directory; without a cgroup namespace a container
      // sees its host path in /proc/self/cgroup but has its cgroup mounted
      // at the root, so the mount root is tried too.
      std::vector<std::string> dirs;
      for (const char* mnt : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
        if (path != "/") dirs.push_back(absl::StrCat(root_, mnt, path));
        dirs.push_back(absl::StrCat(root_, mnt));
      }
      for (const std::string& dir : dirs) {
        if (access((dir + "/cgroup.controllers").c_str(), R_OK) != 0) continue;
        if (access((dir + "/memory.max").c_str(), R_OK) == 0) {
          cg_mem_max_ = std::make_unique<ProcFile>(dir + "/memory.max");
          cg_mem_cur_ = std::make_unique<ProcFile>(dir + "/memory.current");
        }
        if (access((dir + "/cpu.max").c_str(), R_OK) == 0) {
          cg_cpu_max_ = std::make_unique<ProcFile>(dir + "/cpu.max");
        }
        if (cg_mem_max_ || cg_cpu_max_) break;
        break;
      }
    }
  }
}

bool SystemCollector::ReadOr(ProcFile& f, absl::string_view* text) {
  absl::StatusOr<absl::string_view> r = f.Read();
  if (!r.ok()) {
    log_->Report(f.path(), r.status().message());
    return false;
  }
  *text = *r;
  return true;
}

double SystemCollector::Interval(absl::Time now) {
  double seconds =
      last_ == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(now - last_);
  last_ = now;
  return seconds;
}

void SystemCollector::Collect(absl::Time now, rapidjson::Value* host,
                              JsonAlloc& a) {
  double seconds = Interval(now);
  CollectCpu(host, a);
  CollectMem(host, a);
  CollectLoad(host, a);
  CollectInfo(now, host, a);
  CollectNet(seconds, host, a);
  CollectDiskIo(now, seconds, host, a);
  CollectCgroup(host, a);
}

bool SystemCollector::Sample(absl::Time now, Usage* out) {
  double seconds = Interval(now);
  out->cpu.clear();
  out->disk_io.clear();
  out->mem = MemFigures();
  ReadCpu(&out->cpu);
  ReadMem(&out->mem);
  ReadDiskIo(now, seconds, &out->disk_io);
  return seconds > 0;
}

bool SystemCollector::ReadCpu(std::vector<CpuUsage>* out) {
  absl::string_view text;
  if (!ReadOr(stat_, &text)) return false;
  int cores = 0;
  absl::flat_hash_map<int, CpuTimes> next;
  for (const CpuTimes& c : ParseProcStat(text)) {
    if (c.core >= 0) ++cores;
    CpuUsage u;
    u.core = c.core;
    auto prev = cpu_prev_.find(c.core);
    u.known =
        prev != cpu_prev_.end() && CpuPercents(prev->second, c, &u.percents);
    out->push_back(u);
    next[c.core] = c;
  }
  cpu_prev_ = std::move(next);
  if (cores > 0) cores_ = cores;
  return true;
}

void SystemCollector::CollectCpu(rapidjson::Value* host, JsonAlloc& a) {
  std::vector<CpuUsage> cpus;
  if (!ReadCpu(&cpus)) return;
  rapidjson::Value* cpu = nullptr;
  for (const CpuUsage& c : cpus) {
    if (!c.known) continue;
    if (cpu == nullptr) {
      cpu = &Child(*host, "cpu", a);
      SetText(*cpu, "defaultaction", "avg", a);
    }
    rapidjson::Value* out =
        c.core < 0 ? cpu
                   : &Child(Child(*cpu, "core", a), absl::StrCat(c.core), a);
    for (int i = 0; i < 9; ++i)
      SetNumber(*out, kCpuFields[i], c.percents[i], a);
  }
}

bool SystemCollector::ReadMem(MemFigures* out) {
  absl::string_view text;
  if (!ReadOr(meminfo_, &text)) return false;
  *out = ComputeMem(ParseMeminfo(text));
  mem_total_ = out->total;
  return true;
}

void SystemCollector::CollectMem(rapidjson::Value* host, JsonAlloc& a) {
  MemFigures m;
  if (!ReadMem(&m)) return;
  rapidjson::Value& mem = Child(*host, "mem", a);
  SetText(mem, "defaultaction", "last", a);
  SetInt(mem, "total", m.total, a);
  SetInt(mem, "used", m.used, a);
  SetInt(mem, "free", m.free, a);
  SetInt(mem, "available", m.available, a);
  SetInt(mem, "cached", m.cached, a);
  SetInt(mem, "buffers", m.buffers, a);
  SetNumber(mem, "percent", m.percent, a);
  rapidjson::Value& swap = Child(*host, "swap", a);
  SetText(swap, "defaultaction", "last", a);
  SetInt(swap, "total", m.swap_total, a);
  SetInt(swap, "used", m.swap_used, a);
  SetInt(swap, "free", m.swap_free, a);
  SetNumber(swap, "percent", m.swap_percent, a);
}

void SystemCollector::CollectLoad(rapidjson::Value* host, JsonAlloc& a) {
  absl::string_view text;
  double load[3];
  if (ReadOr(loadavg_, &text) && ParseLoadavg(text, load)) {
    rapidjson::Value& l = Child(*host, "load", a);
    SetText(l, "defaultaction", "last", a);
    SetNumber(l, "1", load[0], a);
    SetNumber(l, "5", load[1], a);
    SetNumber(l, "15", load[2], a);
  }
  double up;
  if (ReadOr(uptime_, &text) && ParseUptime(text, &up)) {
    SetNumber(*host, "uptime", up, a);
  }
}

void SystemCollector::CollectInfo(absl::Time now, rapidjson::Value* host,
                                  JsonAlloc& a) {
  if (now - cpuinfo_read_ >= absl::Minutes(1)) {
    cpuinfo_read_ = now;
    std::string model;
    ReadCpuModel(root_, &model, &cpu_mhz_);
    if (!model.empty()) cpu_model_ = model;
  }
  rapidjson::Value& info = Child(*host, "info", a);
  SetText(info, "defaultaction", "last", a);
  SetText(info, "hostname", platform_.hostname, a);
  SetText(info, "os", platform_.os, a);
  if (!platform_.distro.empty()) SetText(info, "distro", platform_.distro, a);
  SetText(info, "kernel", platform_.kernel, a);
  SetText(info, "arch", platform_.arch, a);
  if (!cpu_model_.empty()) SetText(info, "cpu_model", cpu_model_, a);
  if (cpu_mhz_ > 0) SetNumber(info, "cpu_mhz", cpu_mhz_, a);
  if (cores_ > 0) SetInt(info, "cores", cores_, a);
}

void SystemCollector::CollectNet(double seconds, rapidjson::Value* host,
                                 JsonAlloc& a) {
  absl::string_view text;
  if (!ReadOr(netdev_, &text)) return;
  std::vector<NetRate> rates;
  TakeRates(ParseNetDev(text), &NetCounters::iface, seconds, &net_prev_,
            &rates);
  WriteRates("net", kNetFields, rates, host, a);
}

bool SystemCollector::ReadDiskIo(absl::Time now, double seconds,
                                 std::vector<DiskIoRate>* out) {
  if (now - whole_disks_read_ >= absl::Minutes(1)) {
    whole_disks_read_ = now;
    whole_disks_ = ListDir(root_ + "/sys/block");
  }
  absl::string_view text;
  if (!ReadOr(diskstats_, &text)) return false;
  std::vector<DiskCounters> disks = ParseDiskstats(text);
  disks.erase(std::remove_if(disks.begin(), disks.end(),
                             [this](const DiskCounters& d) {
                               return !IsReportedDisk(d.device, whole_disks_);
                             }),
              disks.end());
  TakeRates(std::move(disks), &DiskCounters::device, seconds, &disk_prev_, out);
  return true;
}

void SystemCollector::CollectDiskIo(absl::Time now, double seconds,
                                    rapidjson::Value* host, JsonAlloc& a) {
  std::vector<DiskIoRate> rates;
  if (ReadDiskIo(now, seconds, &rates)) {
    WriteRates("diskio", kDiskIoFields, rates, host, a);
  }
}

void SystemCollector::CollectCgroup(rapidjson::Value* host, JsonAlloc& a) {
  if (!cg_mem_max_ && !cg_cpu_max_) return;
  rapidjson::Value& cg = Child(*host, "cgroup", a);
  SetText(cg, "defaultaction", "last", a);
  absl::string_view text;
  if (cg_mem_max_ && ReadOr(*cg_mem_max_, &text)) {
    SetInt(cg, "memory_max", ParseCgroupBytes(text), a);
  }
  if (cg_mem_cur_ && ReadOr(*cg_mem_cur_, &text)) {
    SetInt(cg, "memory_current", ParseCgroupBytes(text), a);
  }
  if (cg_cpu_max_ && ReadOr(*cg_cpu_max_, &text)) {
    SetNumber(cg, "cpu_max", ParseCgroupCpuMax(text), a);
  }
}

}  // namespace agent
}  // namespace canopy
