// The on-demand API's series and their JSON. See agent/perf_series.h.
#include "agent/perf_series.h"

#include <utility>

#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace canopy {
namespace agent {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// What does not change between samples, read when answering.
struct StaticInfo {
  int cores = 0;
  const PlatformInfo* platform = nullptr;
  std::string model;
  double mhz = 0;
  uint64_t mem_total = 0;
};

void Field(Writer& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void Field(Writer& w, const char* key, uint64_t value) {
  w.Key(key);
  w.Uint64(value);
}

template <typename F>
void Series(Writer& w, const char* key, const std::vector<PerfSample>& samples,
            F field) {
  w.Key(key);
  w.StartArray();
  for (const PerfSample& s : samples) w.Double(field(s));
  w.EndArray();
}

// One PerformanceInfo (API.md).
void WriteInfo(Writer& w, const std::vector<PerfSample>& samples,
               const StaticInfo& info, const std::vector<DiskUsage>& disks) {
  w.StartObject();
  w.Key("cpu");
  w.StartObject();
  Series(w, "percent", samples, [](const PerfSample& s) { return s.cpu; });
  w.Key("coreNum");
  w.Int(info.cores);
  w.Key("corePercent");
  w.StartArray();
  for (const PerfSample& s : samples) {
    if (s.cores.empty()) continue;  // processes: not known per core
    w.StartArray();
    for (double c : s.cores) w.Double(c);
    w.EndArray();
  }
  w.EndArray();
  Field(w, "architecture", info.platform->arch);
  Field(w, "model", info.model);
  w.Key("MHz");
  w.Double(info.mhz);
  w.EndObject();

  w.Key("memory");
  w.StartObject();
  Series(w, "percent", samples,
         [](const PerfSample& s) { return s.mem_percent; });
  w.Key("used");
  w.StartArray();
  for (const PerfSample& s : samples) w.Uint64(s.mem_used);
  w.EndArray();
  Field(w, "total", info.mem_total);
  w.EndObject();

  w.Key("io");
  w.StartObject();
  Series(w, "readSize", samples,
         [](const PerfSample& s) { return s.read_size; });
  Series(w, "writeSize", samples,
         [](const PerfSample& s) { return s.write_size; });
  Series(w, "readCount", samples,
         [](const PerfSample& s) { return s.read_count; });
  Series(w, "writeCount", samples,
         [](const PerfSample& s) { return s.write_count; });
  w.EndObject();

  w.Key("disk");
  w.StartArray();
  for (const DiskUsage& d : disks) {
    w.StartObject();
    Field(w, "mountPoint", d.mount_point);
    Field(w, "device", d.device);
    Field(w, "total", d.total);
    Field(w, "used", d.used);
    w.EndObject();
  }
  w.EndArray();

  const PlatformInfo& p = *info.platform;
  w.Key("platform");
  w.StartObject();
  Field(w, "version", p.kernel_version);
  Field(w, "hostname", p.hostname);
  Field(w, "system", p.os);
  Field(w, "release", p.kernel);
  Field(w, "distribution", p.distro);
  w.EndObject();
  w.EndObject();
}

}  // namespace

bool SystemSeries::Sample(absl::Time now, PerfSample* out) {
  SystemCollector::Usage u;
  if (!system_.Sample(now, &u)) return false;
  *out = PerfSample();
  for (const CpuUsage& c : u.cpu) {
    double busy = c.known ? c.percents[8] : 0;
    if (c.core < 0) {
      out->cpu = busy;
    } else {
      out->cores.push_back(busy);
    }
  }
  out->mem_percent = u.mem.percent;
  out->mem_used = u.mem.used;
  for (const DiskIoRate& d : u.disk_io) {
    out->read_size += d.per_second[0];
    out->write_size += d.per_second[1];
    out->read_count += d.per_second[2];
    out->write_count += d.per_second[3];
  }
  return true;
}

ProcessSeries::ProcessSeries(ErrorLog* log, std::string name)
    : procs_(log, [&name] {
        ProcessOptions o;
        o.top_n = 0;  // only the watched
        o.watch.push_back(std::move(name));
        o.max_open_files = 0;  // a collection keeps no file open
        return o;
      }()) {}

bool ProcessSeries::Sample(absl::Time now, uint64_t mem_total,
                           PerfSample* out) {
  std::vector<ProcessFigures> procs = procs_.Sample(now);
  const bool primed = last_ != absl::InfinitePast() && now > last_;
  last_ = now;
  if (!primed) return false;
  *out = PerfSample();
  for (const ProcessFigures& p : procs) {
    if (p.cpu_percent >= 0) out->cpu += p.cpu_percent;
    out->mem_used += static_cast<uint64_t>(p.rss);
    if (!p.has_io) continue;
    out->read_size += p.read_bytes;
    out->write_size += p.write_bytes;
    out->read_count += p.reads;
    out->write_count += p.writes;
  }
  out->mem_percent = mem_total ? 100.0 * out->mem_used / mem_total : 0;
  return true;
}

std::string SucceededAnswer(const SystemSeries& system, DiskCollector* disks,
                            const std::vector<PerfSample>& system_samples,
                            const std::vector<PerfSample>* process_samples) {
  StaticInfo info;
  info.cores = system.collector().cores();
  info.platform = &system.collector().platform();
  ReadCpuModel("", &info.model, &info.mhz);
  info.mem_total = system.collector().mem_total();
  std::vector<DiskUsage> disk_usage = disks->Sample();

  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.SetMaxDecimalPlaces(3);
  w.StartObject();
  w.Key("result");
  w.String("succeeded");
  w.Key("system");
  WriteInfo(w, system_samples, info, disk_usage);
  if (process_samples != nullptr) {
    w.Key("process");
    WriteInfo(w, *process_samples, info, disk_usage);
  }
  w.EndObject();
  return sb.GetString();
}

}  // namespace agent
}  // namespace canopy
