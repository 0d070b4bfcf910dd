#include "server/trend/thread.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>
#include <utility>

namespace canopy {
namespace {

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
  queued_ = tasks_.size();
  queued_windows_ = windows_in_queue_;
}

bool TrendThread::SubmitWindows(std::vector<ClosedWindow>* windows) {
  if (windows->empty()) return true;
  MutexLock lock(&mu_);
  if (tasks_.size() >= kMaxBatches ||
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
  if (tasks_.empty()) return 0;
  return (NowMs() - tasks_.front().queued_at_ms) / 1000.0;
}

bool TrendThread::Next(Task* task) {
  MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return HasWork(); },
      absl::Seconds(1));
  if (tasks_.empty()) return !stopping_;
  *task = std::move(tasks_.front());
  tasks_.pop_front();
  windows_in_queue_ -= task->windows.size();
  Counted();
  return true;
}

void TrendThread::Main() {
  int64_t next_retention = 0;
  while (true) {
    Task task;
    if (!Next(&task)) return;
    if (!task.windows.empty()) {
      absl::Status s =
          store_->open() ? store_->Write(task.windows)
                         : absl::UnavailableError("the trend store is closed");
      if (!s.ok()) {
        ++write_errors_;
        if (log_limit_.Allow()) {
          CANOPY_LOG("trend store write failed, will retry: %s",
                     std::string(s.message()));
        }
        // Put the batch back in front and wait a second before retrying.
        {
          MutexLock lock(&mu_);
          windows_in_queue_ += task.windows.size();
          tasks_.push_front(std::move(task));
          Counted();
          if (stopping_) return;  // shutting down on a failing disk
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (absl::Status r = store_->Reopen(); !r.ok() && log_limit_.Allow()) {
          CANOPY_LOG("%s", std::string(r.message()));
        }
        continue;
      }
      windows_written_ += task.windows.size();
      series_ = store_->series_count();
      if (on_written_) on_written_(&task.windows);
    }
    if (task.work) {
      if (!store_->open()) (void)store_->Reopen();
      task.work(*store_);
      if (task.done) Post(std::move(task.done));
    }
    int64_t now = time(nullptr);
    if (now >= next_retention && store_->open()) {
      next_retention = now + 10;
      absl::StatusOr<size_t> deleted = store_->EnforceRetention(now, 200000);
      if (deleted.ok()) retention_deleted_ += *deleted;
      disk_bytes_ = store_->ApproximateBytes();
    }
  }
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
