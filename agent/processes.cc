#include "agent/processes.h"

#include <dirent.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace canopy {
namespace agent {
namespace {

struct Candidate {
  int pid;
  PidStat stat;
  double cpu_percent;  // < 0: not known yet (first sighting)
};

}  // namespace

bool WatchMatches(absl::string_view name, absl::string_view comm) {
  if (name == comm) return true;
  return name.size() > 15 && comm.size() == 15 && name.substr(0, 15) == comm;
}

ProcessCollector::ProcessCollector(ErrorLog* log, ProcessOptions options)
    : log_(log), options_(std::move(options)) {
  long tps = sysconf(_SC_CLK_TCK);
  ticks_per_second_ = tps > 0 ? static_cast<double>(tps) : 100.0;
  long ps = sysconf(_SC_PAGESIZE);
  page_size_ = ps > 0 ? ps : 4096;
}

std::string ProcessCollector::UserName(uid_t uid) {
  auto it = users_.find(uid);
  if (it != users_.end()) return it->second;
  std::string name = absl::StrCat(uid);
  passwd pw;
  passwd* found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    name = found->pw_name;
  }
  if (users_.size() > 10000) users_.clear();
  users_[uid] = name;
  return name;
}

std::vector<ProcessFigures> ProcessCollector::Sample(absl::Time now) {
  std::vector<ProcessFigures> out;
  double seconds =
      last_ == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(now - last_);
  last_ = now;
  DIR* dir = opendir(options_.proc.c_str());
  if (dir == nullptr) {
    log_->Report("proc", absl::StrCat("cannot list ", options_.proc));
    return out;
  }
  std::vector<Candidate> all;
  absl::flat_hash_set<int> alive;
  size_t open_files = 0;
  for (auto& [pid, t] : tracked_) open_files += t.stat != nullptr;
  while (dirent* e = readdir(dir)) {
    int pid;
    if (e->d_name[0] < '1' || e->d_name[0] > '9' ||
        !absl::SimpleAtoi(e->d_name, &pid)) {
      continue;
    }
    Tracked& t = tracked_[pid];
    std::string path = absl::StrCat(options_.proc, "/", pid, "/stat");
    absl::StatusOr<absl::string_view> text;
    std::string once;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (t.stat == nullptr && open_files < options_.max_open_files) {
        t.stat = std::make_unique<ProcFile>(path);
        ++open_files;
      }
      if (t.stat != nullptr) {
        text = t.stat->Read();
        if (text.ok()) break;
        // An open stat file of a process that exited fails; a new process
        // may hold the pid now, so open it afresh once.
        t.stat.reset();
        --open_files;
      } else {
        absl::StatusOr<std::string> r = ReadSmallFile(path);
        if (r.ok()) once = std::move(*r);
        text = r.ok() ? absl::StatusOr<absl::string_view>(once)
                      : absl::StatusOr<absl::string_view>(r.status());
        break;
      }
    }
    Candidate c;
    if (!text.ok() || !ParsePidStat(*text, &c.stat)) continue;  // vanished
    c.pid = pid;
    uint64_t ticks = c.stat.utime + c.stat.stime;
    if (t.seen && t.start_time == c.stat.start_time && seconds > 0) {
      c.cpu_percent =
          CounterDelta(t.cpu_ticks, ticks) / ticks_per_second_ / seconds * 100;
    } else {
      c.cpu_percent = -1;
      if (t.start_time != c.stat.start_time) t.has_io = false;
    }
    t.seen = true;
    t.start_time = c.stat.start_time;
    t.cpu_ticks = ticks;
    alive.insert(pid);
    all.push_back(std::move(c));
  }
  closedir(dir);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (alive.contains(it->first)) {
      ++it;
    } else {
      tracked_.erase(it++);
    }
  }

  // The chosen: top N by cpu, top N by rss, and the watched.
  std::vector<size_t> order(all.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  absl::flat_hash_set<size_t> chosen;
  size_t n = static_cast<size_t>(std::max(0, options_.top_n));
  std::sort(order.begin(), order.end(), [&all](size_t x, size_t y) {
    return all[x].cpu_percent > all[y].cpu_percent;
  });
  for (size_t i = 0; i < order.size() && i < n; ++i) {
    if (all[order[i]].cpu_percent > 0) chosen.insert(order[i]);
  }
  std::sort(order.begin(), order.end(), [&all](size_t x, size_t y) {
    return all[x].stat.rss_pages > all[y].stat.rss_pages;
  });
  for (size_t i = 0; i < order.size() && i < n; ++i) {
    if (all[order[i]].stat.rss_pages > 0) chosen.insert(order[i]);
  }
  if (!options_.watch.empty()) {
    for (size_t i = 0; i < all.size(); ++i) {
      for (const std::string& w : options_.watch) {
        if (WatchMatches(w, all[i].stat.comm)) chosen.insert(i);
      }
    }
  }
  std::vector<size_t> sorted(chosen.begin(), chosen.end());
  std::sort(sorted.begin(), sorted.end());
  for (size_t i : sorted) {
    const Candidate& c = all[i];
    Tracked& t = tracked_[c.pid];
    ProcessFigures f;
    f.stat = c.stat;
    f.cpu_percent = c.cpu_percent;
    f.rss = c.stat.rss_pages * page_size_;
    // Storage IO: readable for our own processes (all of them as root).
    absl::StatusOr<std::string> text =
        ReadSmallFile(absl::StrCat(options_.proc, "/", c.pid, "/io"));
    PidIo io;
    if (text.ok() && ParsePidIo(*text, &io)) {
      if (t.has_io && now > t.io_time) {
        double s = absl::ToDoubleSeconds(now - t.io_time);
        f.has_io = true;
        f.read_bytes = CounterDelta(t.io.read_bytes, io.read_bytes) / s;
        f.write_bytes = CounterDelta(t.io.write_bytes, io.write_bytes) / s;
        f.reads = CounterDelta(t.io.reads, io.reads) / s;
        f.writes = CounterDelta(t.io.writes, io.writes) / s;
      }
      t.has_io = true;
      t.io_time = now;
      t.io = io;
    }
    out.push_back(std::move(f));
  }
  return out;
}

void ProcessCollector::Collect(absl::Time now, uint64_t mem_total,
                               rapidjson::Value* host, JsonAlloc& a) {
  std::vector<ProcessFigures> chosen = Sample(now);
  if (chosen.empty()) return;
  rapidjson::Value& procs = Child(*host, "proc", a);
  SetText(procs, "defaultaction", "last", a);
  for (const ProcessFigures& f : chosen) {
    const int pid = f.stat.pid;
    std::string key = options_.anonymize
                          ? absl::StrCat(pid, "-", f.stat.start_time)
                          : SafeSegment(absl::StrCat(f.stat.comm, "-", pid));
    rapidjson::Value& out = Child(procs, key, a);
    if (f.cpu_percent >= 0) SetNumber(out, "cpu_percent", f.cpu_percent, a);
    SetInt(out, "rss", f.rss, a);
    if (mem_total > 0) {
      SetNumber(out, "memory_percent", 100.0 * f.rss / mem_total, a);
    }
    SetInt(out, "threads", f.stat.threads, a);
    if (f.has_io) {
      SetNumber(out, "read_bytes", f.read_bytes, a);
      SetNumber(out, "write_bytes", f.write_bytes, a);
    }
    SetInt(out, "pid", pid, a);
    SetText(out, "status", ProcessStatusName(f.stat.state), a);
    // The owner of /proc/PID is the process's effective user (what ps
    // shows); the open stat file answers without a path lookup.
    const Tracked& t = tracked_[pid];
    struct stat st;
    if (!options_.anonymize &&
        (t.stat != nullptr
             ? fstat(t.stat->fd(), &st)
             : stat(absl::StrCat(options_.proc, "/", pid).c_str(), &st)) == 0) {
      SetText(out, "user", UserName(st.st_uid), a);
    }
  }
}

}  // namespace agent
}  // namespace canopy
