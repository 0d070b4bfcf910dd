// Disk use per mount point: total, used, free (what an unprivileged user may
// still write, as df's "Avail") and percent (used / (used + free), df's
// "Use%"), from statvfs.
//
// Pseudo and remote file systems are skipped (see IsSkippedFs). statvfs runs
// on a worker thread and the collector waits at most `timeout` for it: a
// mount whose statvfs hangs (a dead NFS server, a stuck FUSE daemon) is
// skipped for that interval, and not asked again until the hung call
// returns, so that a dead mount costs one blocked thread, never the agent's
// interval.
//
//   DiskCollector disks(&log, absl::Seconds(1));
//   disks.Collect(&host_object, alloc);  // host,<h>,disk,<mount>,{...}
//   std::vector<DiskUsage> now = disks.Sample();  // the same, as figures
//
// Thread-compatible: one thread collects; the worker threads are internal.
#ifndef CANOPY_AGENT_DISKS_H_
#define CANOPY_AGENT_DISKS_H_

#include <sys/statvfs.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/proc_file.h"

namespace canopy {
namespace agent {

// One mounted file system's use, in bytes.
struct DiskUsage {
  std::string mount_point, device;
  uint64_t total = 0, used = 0;
  uint64_t free = 0;   // what an unprivileged user may still write
  double percent = 0;  // used / (used + free), as df's "Use%"
};

// The statvfs to call: the real one, or a test's.
using StatFsFn = std::function<int(const std::string&, struct statvfs*)>;

class DiskCollector {
 public:
  DiskCollector(ErrorLog* log, absl::Duration timeout,
                std::string mounts_path = "/proc/self/mounts",
                StatFsFn statfs = nullptr);
  ~DiskCollector();

  void Collect(rapidjson::Value* host, JsonAlloc& a);
  // What Collect() writes, as figures, in /proc/self/mounts' order.
  std::vector<DiskUsage> Sample();

  // How many statvfs calls have been given up on and not returned yet.
  int hung() const;

 private:
  struct Worker;
  struct Job;
  ErrorLog* log_;
  absl::Duration timeout_;
  ProcFile mounts_;
  StatFsFn statfs_;
  std::shared_ptr<Worker> worker_;
  // Mount points whose statvfs timed out, with the job still running.
  absl::flat_hash_map<std::string, std::shared_ptr<Job>> hung_;
};

}  // namespace agent
}  // namespace canopy

#endif  // CANOPY_AGENT_DISKS_H_
