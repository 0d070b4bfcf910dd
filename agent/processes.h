// Processes: the top N by cpu, the top N by memory, and every process whose
// name is watched, under host,<h>,proc,<id>,{cpu_percent, rss,
// memory_percent, threads, read_bytes, write_bytes, pid, status, user}.
//
// Every interval reads /proc/PID/stat of every process (kept open: a stat
// file opened once keeps naming the same process, so a reused pid is a new
// file) and only the chosen few's /proc/PID/io. A process that exits while
// it is read is skipped. A process is known by pid and start time; its key
// is "<comm>-<pid>", or with `anonymize` "<pid>-<start time>" and no name or
// user at all.
//
//   ProcessCollector procs(&log, options);
//   procs.Collect(now, mem_total, &host_object, alloc);
//
// cpu_percent is of one core (a process busy on two cores reads 200);
// read_bytes and write_bytes are per second and start from a process's
// second interval among the chosen. Sample() gives the chosen as figures
// instead of JSON (the on-demand API sums the watched ones). Thread-
// compatible.
#ifndef CANOPY_AGENT_PROCESSES_H_
#define CANOPY_AGENT_PROCESSES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/proc_file.h"
#include "agent/proc_parse.h"

namespace canopy {
namespace agent {

struct ProcessOptions {
  int top_n = 10;
  std::vector<std::string> watch;  // names (comm, or its first 15 bytes)
  bool anonymize = false;
  std::string proc = "/proc";
  size_t max_open_files = 4096;  // stat files kept open; more are reopened
};

// True if a process whose comm is `comm` is watched under `name` (the
// kernel cuts comm to 15 bytes, so a longer name matches its first 15).
bool WatchMatches(absl::string_view name, absl::string_view comm);

// One chosen process over the interval.
struct ProcessFigures {
  PidStat stat;
  double cpu_percent = -1;  // of one core; < 0 at its first reading
  int64_t rss = 0;          // bytes
  bool has_io = false;      // the rates below are known
  // Per second: storage IO bytes, and read and write calls.
  double read_bytes = 0, write_bytes = 0, reads = 0, writes = 0;
};

class ProcessCollector {
 public:
  ProcessCollector(ErrorLog* log, ProcessOptions options);

  void Collect(absl::Time now, uint64_t mem_total, rapidjson::Value* host,
               JsonAlloc& a);
  // The processes Collect() would report, in /proc's order; rates are
  // against the previous Sample() or Collect().
  std::vector<ProcessFigures> Sample(absl::Time now);

 private:
  struct Tracked {
    std::unique_ptr<ProcFile> stat;  // null past max_open_files
    uint64_t start_time = 0;
    uint64_t cpu_ticks = 0;  // utime + stime at the last reading
    bool has_io = false;
    absl::Time io_time;
    PidIo io;
    bool seen = false;
  };
  std::string UserName(uid_t uid);

  ErrorLog* log_;
  ProcessOptions options_;
  double ticks_per_second_;
  int64_t page_size_;
  absl::Time last_ = absl::InfinitePast();
  absl::flat_hash_map<int, Tracked> tracked_;  // by pid
  absl::flat_hash_map<uid_t, std::string> users_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_PROCESSES_H_
