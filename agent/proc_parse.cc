#include "agent/proc_parse.h"

#include <algorithm>
#include <cstdlib>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "canopy/key.h"

namespace canopy {
namespace agent {
namespace {

std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

uint64_t ToU64(absl::string_view s) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(s, &v)) return 0;
  return v;
}

}  // namespace

uint64_t CounterDelta(uint64_t prev, uint64_t cur) {
  if (cur >= prev) return cur - prev;
  constexpr uint64_t k32 = uint64_t{1} << 32;
  if (prev < k32) {
    uint64_t wrapped = cur + k32 - prev;
    if (wrapped < (uint64_t{1} << 31)) return wrapped;
  }
  return 0;  // a reset: clamp, never negative
}

uint64_t CpuTimes::Total() const {
  uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t += ticks[i];
  return t;
}

std::vector<CpuTimes> ParseProcStat(absl::string_view text) {
  std::vector<CpuTimes> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, "cpu")) continue;
    std::vector<absl::string_view> f = Fields(line);
    if (f.size() < 5) continue;  // at least user nice system idle
    CpuTimes c;
    absl::string_view name = f[0];
    name.remove_prefix(3);
    if (!name.empty() && !absl::SimpleAtoi(name, &c.core)) continue;
    if (c.core < -1) continue;
    for (size_t i = 1; i < f.size() && i <= c.ticks.size(); ++i) {
      c.ticks[i - 1] = ToU64(f[i]);
    }
    out.push_back(c);
  }
  return out;
}

bool CpuPercents(const CpuTimes& prev, const CpuTimes& cur,
                 std::array<double, 9>* out) {
  uint64_t d[8];
  uint64_t total = 0;
  for (int i = 0; i < 8; ++i) {
    d[i] = CounterDelta(prev.ticks[i], cur.ticks[i]);
    total += d[i];
  }
  if (total == 0) return false;
  for (int i = 0; i < 8; ++i) (*out)[i] = 100.0 * d[i] / total;
  (*out)[8] = 100.0 * (total - d[3] - d[4]) / total;
  return true;
}

absl::flat_hash_map<std::string, uint64_t> ParseMeminfo(
    absl::string_view text) {
  absl::flat_hash_map<std::string, uint64_t> m;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    std::vector<absl::string_view> f = Fields(line.substr(colon + 1));
    if (f.empty()) continue;
    uint64_t v;
    if (!absl::SimpleAtoi(f[0], &v)) continue;
    if (f.size() > 1 && f[1] == "kB") v *= 1024;
    m[std::string(line.substr(0, colon))] = v;
  }
  return m;
}

MemFigures ComputeMem(const absl::flat_hash_map<std::string, uint64_t>& m) {
  auto get = [&m](const char* k) -> uint64_t {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  MemFigures r;
  r.total = get("MemTotal");
  r.free = get("MemFree");
  r.buffers = get("Buffers");
  r.cached = get("Cached") + get("SReclaimable");
  auto avail = m.find("MemAvailable");
  r.available =
      avail != m.end() ? avail->second : r.free + r.buffers + r.cached;
  r.available = std::min(r.available, r.total);
  r.used = r.total - r.available;
  r.percent = r.total ? 100.0 * r.used / r.total : 0;
  r.swap_total = get("SwapTotal");
  r.swap_free = std::min(get("SwapFree"), r.swap_total);
  r.swap_used = r.swap_total - r.swap_free;
  r.swap_percent = r.swap_total ? 100.0 * r.swap_used / r.swap_total : 0;
  return r;
}

bool ParseLoadavg(absl::string_view text, double out[3]) {
  std::vector<absl::string_view> f = Fields(absl::StripAsciiWhitespace(text));
  if (f.size() < 3) return false;
  for (int i = 0; i < 3; ++i) {
    if (!absl::SimpleAtod(f[i], &out[i])) return false;
  }
  return true;
}

bool ParseUptime(absl::string_view text, double* out) {
  std::vector<absl::string_view> f = Fields(absl::StripAsciiWhitespace(text));
  return !f.empty() && absl::SimpleAtod(f[0], out);
}

std::vector<NetCounters> ParseNetDev(absl::string_view text) {
  std::vector<NetCounters> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t colon = line.rfind(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view name = absl::StripAsciiWhitespace(line.substr(0, colon));
    std::vector<absl::string_view> f = Fields(line.substr(colon + 1));
    if (name.empty() || f.size() < 16) continue;
    NetCounters n;
    n.iface = std::string(name);
    // rx: bytes packets errs drop fifo frame compressed multicast (0..7)
    // tx: bytes packets errs drop fifo colls carrier compressed (8..15)
    static constexpr int kColumn[8] = {0, 8, 1, 9, 2, 10, 3, 11};
    for (int i = 0; i < 8; ++i) n.v[i] = ToU64(f[kColumn[i]]);
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<DiskCounters> ParseDiskstats(absl::string_view text) {
  std::vector<DiskCounters> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = Fields(line);
    // major minor name reads merged sectors ms writes merged sectors ...
    if (f.size() < 10) continue;
    DiskCounters d;
    d.device = std::string(f[2]);
    d.v[0] = ToU64(f[5]) * 512;
    d.v[1] = ToU64(f[9]) * 512;
    d.v[2] = ToU64(f[3]);
    d.v[3] = ToU64(f[7]);
    out.push_back(std::move(d));
  }
  return out;
}

bool IsReportedDisk(absl::string_view device,
                    const std::vector<std::string>& whole_disks) {
  for (const char* p : {"dm-", "md", "loop", "ram"}) {
    if (absl::StartsWith(device, p)) return false;
  }
  return std::find(whole_disks.begin(), whole_disks.end(), device) !=
         whole_disks.end();
}

namespace {

std::string DecodeMountField(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' &&
        s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(static_cast<char>((s[i + 1] - '0') * 64 +
                                      (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::vector<Mount> ParseMounts(absl::string_view text) {
  std::vector<Mount> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<absl::string_view> f = Fields(line);
    if (f.size() < 3) continue;
    out.push_back(
        {DecodeMountField(f[0]), DecodeMountField(f[1]), std::string(f[2])});
  }
  return out;
}

bool IsSkippedFs(absl::string_view fs_type) {
  static const auto* kSkipped = new absl::flat_hash_set<absl::string_view>{
      // pseudo
      "proc", "sysfs", "devtmpfs", "devpts", "tmpfs", "ramfs", "cgroup",
      "cgroup2", "securityfs", "pstore", "debugfs", "tracefs", "configfs",
      "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "bpf",
      "rpc_pipefs", "nsfs", "efivarfs", "selinuxfs", "squashfs", "overlay",
      "aufs", "nfsd", "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "iso9660",
      "devfs", "usbfs", "none", "rootfs", "shm",
      // remote
      "nfs", "nfs4", "cifs", "smbfs", "smb3", "ncpfs", "afs", "ceph",
      "glusterfs", "fuse.glusterfs", "fuse.sshfs", "sshfs", "9p", "lustre",
      "gfs2", "ocfs2", "fuse.s3fs", "fuse.rclone", "davfs", "fuse.ceph"};
  return kSkipped->contains(fs_type);
}

bool ParsePidStat(absl::string_view text, PidStat* out) {
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == absl::string_view::npos || close == absl::string_view::npos ||
      close < open) {
    return false;
  }
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text.substr(0, open)),
                        &out->pid)) {
    return false;
  }
  out->comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields after the command, numbered as in proc(5): 3 is the state.
  std::vector<absl::string_view> f = Fields(text.substr(close + 1));
  if (f.size() < 22) return false;  // up to field 24 (rss)
  auto at = [&f](int field) { return f[field - 3]; };
  out->state = at(3).empty() ? '?' : at(3)[0];
  out->utime = ToU64(at(14));
  out->stime = ToU64(at(15));
  if (!absl::SimpleAtoi(at(20), &out->threads)) return false;
  out->start_time = ToU64(at(22));
  if (!absl::SimpleAtoi(at(24), &out->rss_pages)) return false;
  if (out->rss_pages < 0) out->rss_pages = 0;
  return true;
}

const char* ProcessStatusName(char state) {
  switch (state) {
    case 'R':
      return "running";
    case 'S':
      return "sleeping";
    case 'D':
      return "disk-sleep";
    case 'Z':
      return "zombie";
    case 'T':
      return "stopped";
    case 't':
      return "tracing-stop";
    case 'X':
    case 'x':
      return "dead";
    case 'I':
      return "idle";
    case 'P':
      return "parked";
    case 'W':
      return "waking";
    default:
      return "unknown";
  }
}

bool ParsePidIo(absl::string_view text, PidIo* out) {
  PidIo io;
  bool r = false, w = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "read_bytes:")) {
      r = absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &io.read_bytes);
    } else if (absl::ConsumePrefix(&line, "write_bytes:")) {
      w = absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &io.write_bytes);
    } else if (absl::ConsumePrefix(&line, "syscr:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &io.reads);
    } else if (absl::ConsumePrefix(&line, "syscw:")) {
      (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &io.writes);
    }
  }
  if (!r || !w) return false;
  *out = io;
  return true;
}

void ParseCpuinfo(absl::string_view text, std::string* model, double* mhz) {
  model->clear();
  std::string fallback;
  double sum = 0;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    absl::string_view k = absl::StripAsciiWhitespace(line.substr(0, colon));
    absl::string_view v = absl::StripAsciiWhitespace(line.substr(colon + 1));
    if (k == "model name" && model->empty()) {
      *model = std::string(v);
    } else if ((k == "Hardware" || k == "cpu model" || k == "Processor") &&
               fallback.empty()) {
      fallback = std::string(v);
    } else if (k == "cpu MHz") {
      double x;
      if (absl::SimpleAtod(v, &x)) {
        sum += x;
        ++n;
      }
    }
  }
  if (model->empty()) *model = fallback;
  *mhz = n ? sum / n : 0;
}

std::string ParseOsRelease(absl::string_view text) {
  absl::flat_hash_map<std::string, std::string> kv;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view v = absl::StripAsciiWhitespace(line.substr(eq + 1));
    if (v.size() >= 2 && (v[0] == '"' || v[0] == '\'') && v.back() == v[0]) {
      v = v.substr(1, v.size() - 2);
    }
    kv[std::string(line.substr(0, eq))] = std::string(v);
  }
  if (!kv["PRETTY_NAME"].empty()) return kv["PRETTY_NAME"];
  std::string s = kv["NAME"];
  if (!kv["VERSION"].empty()) absl::StrAppend(&s, " ", kv["VERSION"]);
  return s;
}

uint64_t ParseCgroupBytes(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  uint64_t v = 0;
  if (text == "max" || !absl::SimpleAtoi(text, &v)) return 0;
  return v;
}

double ParseCgroupCpuMax(absl::string_view text) {
  std::vector<absl::string_view> f = Fields(absl::StripAsciiWhitespace(text));
  if (f.empty() || f[0] == "max") return 0;
  double quota = 0, period = 100000;
  if (!absl::SimpleAtod(f[0], &quota)) return 0;
  if (f.size() > 1 && !absl::SimpleAtod(f[1], &period)) return 0;
  return period > 0 ? quota / period : 0;
}

std::string ParseCgroupV2Path(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::ConsumePrefix(&line, "0::")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

std::string SafeSegment(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(c == ',' || u < 0x20 || u == 0x7f ? '_' : c);
  }
  if (!IsValidUtf8(out)) {
    for (char& c : out) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '_';
    }
  }
  if (out.size() > kMaxSegmentBytes) {
    out.resize(kMaxSegmentBytes);
    while (!out.empty() && !IsValidUtf8(out)) out.pop_back();
  }
  if (out.empty()) out = "_";
  return out;
}

}  // namespace agent
}  // namespace canopy
