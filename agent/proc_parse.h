// Parsers of the /proc and /sys files the agent reads, as pure functions of
// the file's text, and the counter arithmetic shared by every rate.
//
//   std::vector<canopy::agent::CpuTimes> cpus = ParseProcStat(text);
//   // cpus[0].core == -1 is the "cpu" total line; cpuN lines have core N.
//   uint64_t d = CounterDelta(prev, cur);  // clamped, 32-bit wraps handled
//
// Nothing here touches the file system: the collectors read the files and
// hand the text over, so that tests can feed captured samples (old kernels,
// odd interface names, counters that go backwards). Thread-compatible.
#ifndef CANOPY_AGENT_PROC_PARSE_H_
#define CANOPY_AGENT_PROC_PARSE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace canopy {
namespace agent {

// The increase of a monotonic counter from `prev` to `cur`. A counter that
// went back (reboot, driver reload, VM migration, CPU hot-plug) counts as no
// increase, never a negative one; a 32-bit counter that wrapped (both values
// fit in 32 bits and the wrapped increase is under 2^31) counts the wrap.
uint64_t CounterDelta(uint64_t prev, uint64_t cur);

// One line of /proc/stat's cpu block. Columns an old kernel does not have
// (steal since 2.6.11, guest since 2.6.24, guest_nice since 2.6.33) are 0.
struct CpuTimes {
  int core = -1;  // -1 for the "cpu" total line, N for "cpuN"
  // user nice system idle iowait irq softirq steal guest guest_nice
  std::array<uint64_t, 10> ticks{};
  uint64_t Total() const;  // guest and guest_nice are already in user, nice
};
std::vector<CpuTimes> ParseProcStat(absl::string_view text);

// Percents of the interval between two samples of the same cpu line, in the
// order user nice system idle iowait irq softirq steal, then percent (busy:
// 100 - idle - iowait). False if no time passed (nothing to report).
bool CpuPercents(const CpuTimes& prev, const CpuTimes& cur,
                 std::array<double, 9>* out);
inline constexpr const char* kCpuFields[9] = {"user",    "nice",   "system",
                                              "idle",    "iowait", "irq",
                                              "softirq", "steal",  "percent"};

// /proc/meminfo: field name -> bytes (the kB figures times 1024; counts such
// as HugePages_Total are kept as they are).
absl::flat_hash_map<std::string, uint64_t> ParseMeminfo(absl::string_view text);

struct MemFigures {
  uint64_t total = 0, used = 0, free = 0, available = 0, cached = 0,
           buffers = 0;
  double percent = 0;
  uint64_t swap_total = 0, swap_used = 0, swap_free = 0;
  double swap_percent = 0;
};
// used = total - MemAvailable (what free(1) shows); without MemAvailable
// (kernels before 3.14) available = free + buffers + cached. cached counts
// Cached + SReclaimable, as psutil and free(1) do.
MemFigures ComputeMem(const absl::flat_hash_map<std::string, uint64_t>& m);

// /proc/loadavg: the 1, 5 and 15 minute load. False if malformed.
bool ParseLoadavg(absl::string_view text, double out[3]);
// /proc/uptime: seconds since boot. False if malformed.
bool ParseUptime(absl::string_view text, double* out);

// /proc/net/dev, one interface. The name is everything before the line's
// last colon (names may hold colons: alias interfaces such as "eth0:1").
struct NetCounters {
  std::string iface;
  // rx_bytes tx_bytes rx_packets tx_packets rx_errors tx_errors rx_dropped
  // tx_dropped: the order of the keys in the tree.
  std::array<uint64_t, 8> v{};
};
inline constexpr const char* kNetFields[8] = {
    "rx_bytes",  "tx_bytes",  "rx_packets", "tx_packets",
    "rx_errors", "tx_errors", "rx_dropped", "tx_dropped"};
std::vector<NetCounters> ParseNetDev(absl::string_view text);

// /proc/diskstats, one device: reads and writes completed, bytes (sectors
// are always 512 bytes there).
struct DiskCounters {
  std::string device;
  std::array<uint64_t, 4> v{};  // read_bytes write_bytes reads writes
};
inline constexpr const char* kDiskIoFields[4] = {"read_bytes", "write_bytes",
                                                 "reads", "writes"};
std::vector<DiskCounters> ParseDiskstats(absl::string_view text);

// True if `device` is a whole disk worth reporting: it is listed in
// /sys/block (`whole_disks`, partitions are not), and it is not a device
// mapper, md RAID, loop or ram device, whose IO is already counted on the
// disks below them or is not disk IO at all.
bool IsReportedDisk(absl::string_view device,
                    const std::vector<std::string>& whole_disks);

// One line of /proc/self/mounts, with the octal escapes (\040) decoded.
struct Mount {
  std::string device, mount_point, fs_type;
};
std::vector<Mount> ParseMounts(absl::string_view text);
// True for pseudo file systems (proc, tmpfs, cgroup, ...) and remote ones
// (nfs, cifs, sshfs, ...), which the disk collector skips.
bool IsSkippedFs(absl::string_view fs_type);

// /proc/PID/stat. The command is between the first '(' and the last ')', so
// names holding spaces or parentheses parse.
struct PidStat {
  int pid = 0;
  std::string comm;
  char state = '?';
  uint64_t utime = 0, stime = 0;  // clock ticks
  int64_t threads = 0;
  uint64_t start_time = 0;  // clock ticks after boot
  int64_t rss_pages = 0;
};
bool ParsePidStat(absl::string_view text, PidStat* out);
// "running", "sleeping", "disk-sleep", "zombie", ... (psutil's words).
const char* ProcessStatusName(char state);

// /proc/PID/io: storage IO (read_bytes, write_bytes) and the read and
// write calls (syscr, syscw; 0 if absent). False if the bytes are missing.
struct PidIo {
  uint64_t read_bytes = 0, write_bytes = 0;
  uint64_t reads = 0, writes = 0;
};
bool ParsePidIo(absl::string_view text, PidIo* out);

// /proc/cpuinfo: the model name ("Hardware" or "CPU part" on some ARM
// kernels) and the mean "cpu MHz" over the cores (0 if not shown).
void ParseCpuinfo(absl::string_view text, std::string* model, double* mhz);

// /etc/os-release: PRETTY_NAME, else NAME VERSION, unquoted.
std::string ParseOsRelease(absl::string_view text);

// cgroup v2 "memory.max" / "memory.current": bytes, 0 for "max".
uint64_t ParseCgroupBytes(absl::string_view text);
// cgroup v2 "cpu.max" ("QUOTA PERIOD" or "max PERIOD"): cores allowed
// (quota / period), 0 for "max".
double ParseCgroupCpuMax(absl::string_view text);
// /proc/self/cgroup: the v2 path (the "0::" line), or "" if none.
std::string ParseCgroupV2Path(absl::string_view text);

// Makes `s` usable as one key segment: commas and control characters become
// '_', invalid UTF-8 bytes too, and it is cut to 255 bytes; "" becomes "_".
std::string SafeSegment(absl::string_view s);

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_PROC_PARSE_H_
