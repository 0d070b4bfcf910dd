// Disk use per mount point. See agent/disks.h.
//
// Threads: Collect() and Sample() run on the collecting thread; each
// statvfs runs on a Worker thread, detached, which holds its own
// shared_ptr to the Worker (and the Job its shared_ptr), so that a worker
// abandoned on a hung call outlives the collector safely and ends when
// the call returns.
#include "agent/disks.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "agent/proc_parse.h"
#include "canopy/mutex.h"

namespace canopy {
namespace agent {

// One statvfs call handed to a worker. Shared by the collector and the
// worker, so that a job given up on stays valid until the call returns.
struct DiskCollector::Job {
  std::string path;
  Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  int rc ABSL_GUARDED_BY(mu) = -1;
  int err ABSL_GUARDED_BY(mu) = 0;
  struct statvfs st ABSL_GUARDED_BY(mu) {};
};

// A thread that runs jobs one at a time. When a job hangs the collector
// abandons the worker (sets `quit`) and makes a new one; the abandoned
// thread exits once its call returns. It holds its own shared_ptr.
struct DiskCollector::Worker {
  Mutex mu;
  std::shared_ptr<Job> job ABSL_GUARDED_BY(mu);
  bool quit ABSL_GUARDED_BY(mu) = false;

  static void Run(std::shared_ptr<Worker> self, StatFsFn statfs) {
    while (true) {
      std::shared_ptr<Job> job;
      {
        MutexLock lock(&self->mu);
        self->mu.Await([&self]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu) {
          return self->quit || self->job != nullptr;
        });
        if (self->job == nullptr) return;  // quit with no work
        job = std::move(self->job);
      }
      struct statvfs st {};
      int rc = statfs(job->path, &st);
      int err = rc == 0 ? 0 : errno;
      {
        MutexLock lock(&job->mu);
        job->rc = rc;
        job->err = err;
        job->st = st;
        job->done = true;
      }
      MutexLock lock(&self->mu);
      if (self->quit) return;
    }
  }
};

DiskCollector::DiskCollector(ErrorLog* log, absl::Duration timeout,
                             std::string mounts_path, StatFsFn statfs)
    : log_(log),
      timeout_(timeout),
      mounts_(std::move(mounts_path)),
      statfs_(statfs ? std::move(statfs)
                     : [](const std::string& p, struct statvfs* st) {
                         return statvfs(p.c_str(), st);
                       }) {}

DiskCollector::~DiskCollector() {
  if (worker_) {
    MutexLock lock(&worker_->mu);
    worker_->quit = true;
  }
}

int DiskCollector::hung() const { return static_cast<int>(hung_.size()); }

std::vector<DiskUsage> DiskCollector::Sample() {
  std::vector<DiskUsage> out;
  absl::StatusOr<absl::string_view> text = mounts_.Read();
  if (!text.ok()) {
    log_->Report(mounts_.path(), text.status().message());
    return out;
  }
  // Forget hung calls that came back; they are asked again from now on.
  for (auto it = hung_.begin(); it != hung_.end();) {
    bool done;
    {
      MutexLock lock(&it->second->mu);
      done = it->second->done;
    }
    // Erased outside the lock: the entry may hold the job's last reference,
    // and with it the mutex.
    if (done) {
      hung_.erase(it++);
    } else {
      ++it;
    }
  }
  // The last mount on a mount point hides those below it, as df shows.
  std::vector<Mount> mounts = ParseMounts(*text);
  absl::flat_hash_map<std::string, size_t> last;
  for (size_t i = 0; i < mounts.size(); ++i) last[mounts[i].mount_point] = i;

  for (size_t i = 0; i < mounts.size(); ++i) {
    const Mount& m = mounts[i];
    if (last[m.mount_point] != i || IsSkippedFs(m.fs_type)) continue;
    if (hung_.contains(m.mount_point)) continue;
    if (worker_ == nullptr) {
      worker_ = std::make_shared<Worker>();
      std::thread(&Worker::Run, worker_, statfs_).detach();
    }
    auto job = std::make_shared<Job>();
    job->path = m.mount_point;
    {
      MutexLock lock(&worker_->mu);
      worker_->job = job;
    }
    bool done;
    {
      MutexLock lock(&job->mu);
      done = job->mu.AwaitWithTimeout(
          [&job]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(job->mu) { return job->done; },
          timeout_);
    }
    if (!done) {
      log_->Report(absl::StrCat("statvfs ", m.mount_point),
                   absl::StrCat("statvfs(", m.mount_point, ") takes over ",
                                absl::FormatDuration(timeout_),
                                "; skipping that mount until it returns"));
      hung_[m.mount_point] = job;
      MutexLock lock(&worker_->mu);
      worker_->quit = true;
      worker_ = nullptr;
      continue;
    }
    struct statvfs st;
    {
      MutexLock lock(&job->mu);
      if (job->rc != 0) {
        log_->Report(
            absl::StrCat("statvfs ", m.mount_point),
            absl::StrCat("statvfs(", m.mount_point, "): ", strerror(job->err)));
        continue;
      }
      st = job->st;
    }
    uint64_t frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
    uint64_t total = static_cast<uint64_t>(st.f_blocks) * frsize;
    if (total == 0) continue;
    uint64_t used =
        static_cast<uint64_t>(st.f_blocks - std::min(st.f_bfree, st.f_blocks)) *
        frsize;
    uint64_t avail = static_cast<uint64_t>(st.f_bavail) * frsize;
    out.push_back(DiskUsage{m.mount_point, m.device, total, used, avail,
                            used + avail ? 100.0 * used / (used + avail) : 0});
  }
  return out;
}

void DiskCollector::Collect(rapidjson::Value* host, JsonAlloc& a) {
  std::vector<DiskUsage> disks = Sample();
  if (disks.empty()) return;
  rapidjson::Value& disk = Child(*host, "disk", a);
  SetText(disk, "defaultaction", "last", a);
  for (const DiskUsage& d : disks) {
    rapidjson::Value& out = Child(disk, SafeSegment(d.mount_point), a);
    SetInt(out, "total", d.total, a);
    SetInt(out, "used", d.used, a);
    SetInt(out, "free", d.free, a);
    SetNumber(out, "percent", d.percent, a);
  }
}

}  // namespace agent
}  // namespace canopy
