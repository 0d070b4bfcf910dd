#include "server/trend/thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iterator>
#include <string>
#include <utility>

#include "canopy/memory.h"

namespace canopy {
namespace {

// Records read through between two tasks when looking for damage.
constexpr size_t kVerifySlice = 20000;
// Windows written between two returns of free memory to the system.
constexpr size_t kTrimAfterWindows = 65536;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TrendThread::TrendThread(
    std::unique_ptr<TrendStore> store,
    std::function<void(std::vector<ClosedWindow>*)> on_written)
    : store_(std::move(store)), on_written_(std::move(on_written)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  series_ = store_->series_count();
  // A repair at open is counted before the thread starts: /metrics shows
  // it from the first request, not once the dictionary is read.
  corruptions_ = store_->corruptions();
  thread_ = std::thread([this] { Main(); });
}

TrendThread::~TrendThread() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  close(wake_fd_);
}

bool TrendThread::HasWork() const { return stopping_ || !tasks_.empty(); }

void TrendThread::Counted() {
  queued_ = tasks_.size() + retrying_;
  queued_windows_ = windows_in_queue_;
}

bool TrendThread::SubmitWindows(std::vector<ClosedWindow>* windows) {
  if (windows->empty()) return true;
  MutexLock lock(&mu_);
  if (tasks_.size() + retrying_ >= kMaxBatches ||
      (windows_in_queue_ > 0 &&
       windows_in_queue_ + windows->size() > kMaxWindows)) {
    ++queue_full_;
    return false;
  }
  Task t;
  t.windows.swap(*windows);
  t.queued_at_ms = NowMs();
  windows_in_queue_ += t.windows.size();
  tasks_.push_back(std::move(t));
  Counted();
  return true;
}

void TrendThread::Run(std::function<void(TrendStore&)> work,
                      std::function<void()> done) {
  MutexLock lock(&mu_);
  Task t;
  t.work = std::move(work);
  t.done = std::move(done);
  t.queued_at_ms = NowMs();
  tasks_.push_back(std::move(t));
  Counted();
}

double TrendThread::flush_lag() const {
  MutexLock lock(&mu_);
  int64_t oldest = oldest_retry_ms_;
  if (oldest == 0 && !tasks_.empty()) oldest = tasks_.front().queued_at_ms;
  if (oldest == 0) return 0;
  return (NowMs() - oldest) / 1000.0;
}

bool TrendThread::Next(Task* task, bool wait) {
  MutexLock lock(&mu_);
  if (wait) {
    mu_.AwaitWithTimeout(
        [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return HasWork(); },
        absl::Seconds(1));
  }
  if (tasks_.empty()) return !stopping_;
  *task = std::move(tasks_.front());
  tasks_.pop_front();
  // Its windows stay counted until they are written (Main).
  Counted();
  return true;
}

void TrendThread::Main() {
  // Damage in the history is looked for once after start, a slice at a
  // time between tasks so that queries and writes do not wait for it
  // (reads verify checksums too): found, it is logged and counted.
  // The series dictionary first (seconds for ten million series): the
  // loop serves meanwhile and queues its windows.
  store_->LoadSeries();
  series_ = store_->series_count();
  corruptions_ = store_->corruptions();
  bool verified = false;
  int64_t next_retention = 0;
  // Batches whose write failed, oldest first: retried every second while
  // queries and snapshots go on (a full disk holds nothing up but history).
  std::deque<Task> failed;
  int64_t next_retry_ms = 0;
  size_t wrote_since_trim = 0;
  int64_t next_trim_ms = 0;
  while (true) {
    Task task;
    bool stopping = false;
    // Waits for work unless there is damage still to look for.
    const bool looking = !verified && store_->open() && failed.empty();
    if (!Next(&task, /*wait=*/!looking)) {
      if (failed.empty()) return;
      stopping = true;  // the destructor waits for what failed
    }
    if (!task.windows.empty()) {
      Task w;
      w.windows.swap(task.windows);
      w.queued_at_ms = task.queued_at_ms;
      failed.push_back(std::move(w));
    }
    bool failing = false;
    while (!failed.empty() && (stopping || NowMs() >= next_retry_ms)) {
      size_t done = 0;
      absl::Status s =
          store_->open() ? store_->Write(failed.front().windows, &done)
                         : absl::UnavailableError("the trend store is closed");
      if (!s.ok()) {
        // What is on disk leaves the batch: the retry starts after it.
        if (done > 0) Written(&failed.front().windows, done);
        ++write_errors_;
        if (log_limit_.Allow()) {
          CANOPY_ERROR("trend store write failed, will retry: %s",
                       std::string(s.message()));
        }
        failing = true;
        next_retry_ms = NowMs() + 1000;
        if (absl::Status r = store_->Reopen(); !r.ok() && log_limit_.Allow()) {
          CANOPY_ERROR("%s", std::string(r.message()));
        }
        break;
      }
      wrote_since_trim += failed.front().windows.size();
      Written(&failed.front().windows, failed.front().windows.size());
      failed.pop_front();
    }
    // A written batch is freed, but glibc keeps the pages of its keys and
    // blobs (and of LevelDB's batch) unless told: after large batches, at
    // most every 2 s, so that RSS follows what is held.
    if (wrote_since_trim >= kTrimAfterWindows && failed.empty() &&
        NowMs() >= next_trim_ms) {
      wrote_since_trim = 0;
      next_trim_ms = NowMs() + 2000;
      ReleaseFreeMemory();
    }
    {
      MutexLock lock(&mu_);
      retrying_ = failed.size();
      oldest_retry_ms_ = failed.empty() ? 0 : failed.front().queued_at_ms;
      Counted();
    }
    if (stopping) {
      if (failing) {
        CANOPY_LOG(
            "stopping on a failing disk: %d batches of windows not "
            "written to history",
            failed.size());
      }
      return;
    }
    if (task.work) {
      if (!store_->open()) (void)store_->Reopen();
      task.work(*store_);
      if (task.done) Post(std::move(task.done));
    }
    if (!verified && store_->open() && failed.empty()) {
      verified = store_->VerifySome(kVerifySlice);
    }
    corruptions_ = store_->corruptions();
    int64_t now = time(nullptr);
    if (now >= next_retention && store_->open() && failed.empty()) {
      next_retention = now + 10;
      absl::StatusOr<size_t> deleted = store_->EnforceRetention(now, 200000);
      if (deleted.ok()) retention_deleted_ += *deleted;
      disk_bytes_ = store_->ApproximateBytes();
    }
  }
}

void TrendThread::Written(std::vector<ClosedWindow>* windows, size_t n) {
  if (n < windows->size()) {
    std::vector<ClosedWindow> head(
        std::make_move_iterator(windows->begin()),
        std::make_move_iterator(windows->begin() + static_cast<long>(n)));
    windows->erase(windows->begin(), windows->begin() + static_cast<long>(n));
    Written(&head, n);
    return;
  }
  // Written: remote_write takes the batch (a move, nothing more here).
  if (on_written_) on_written_(windows);
  // Freed now, not when the task is: the next batch may be as large.
  std::vector<ClosedWindow>().swap(*windows);
  windows_written_ += n;
  series_ = store_->series_count();
  MutexLock lock(&mu_);
  windows_in_queue_ -= n;
}

void TrendThread::Post(std::function<void()> done) {
  {
    MutexLock lock(&mu_);
    done_.push_back(std::move(done));
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void TrendThread::RunDone() {
  uint64_t n;
  ssize_t ignored = read(wake_fd_, &n, sizeof n);
  (void)ignored;
  std::deque<std::function<void()>> done;
  {
    MutexLock lock(&mu_);
    done.swap(done_);
  }
  for (auto& d : done) d();
}

}  // namespace canopy
