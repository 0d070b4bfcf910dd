#include "server/trend_thread.h"

#include <event2/event.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include "server/log.h"

namespace canopy {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TrendThread::TrendThread(std::unique_ptr<TrendStore> store, event_base* base)
    : store_(std::move(store)) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  wake_ = event_new(base, wake_fd_, EV_READ | EV_PERSIST, &TrendThread::OnWake,
                    this);
  event_add(wake_, nullptr);
  series_ = store_->series_count();
  thread_ = std::thread([this] { Main(); });
}

TrendThread::~TrendThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  // Answers that were still to be delivered are dropped with the loop.
  event_free(wake_);
  close(wake_fd_);
}

bool TrendThread::SubmitWindows(std::vector<ClosedWindow>* windows) {
  if (windows->empty()) return true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tasks_.size() >= kMaxBatches) return false;
    Task t;
    t.windows.swap(*windows);
    t.queued_at_ms = NowMs();
    if (tasks_.empty()) oldest_ms_ = t.queued_at_ms;
    tasks_.push_back(std::move(t));
    queued_ = tasks_.size();
  }
  cv_.notify_one();
  return true;
}

void TrendThread::Run(std::function<void(TrendStore&)> work,
                      std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Task t;
    t.work = std::move(work);
    t.done = std::move(done);
    t.queued_at_ms = NowMs();
    tasks_.push_back(std::move(t));
    queued_ = tasks_.size();
  }
  cv_.notify_one();
}

double TrendThread::flush_lag() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (tasks_.empty()) return 0;
  return (NowMs() - tasks_.front().queued_at_ms) / 1000.0;
}

void TrendThread::Main() {
  static RateLimit log_limit(6);
  int64_t next_retention = 0;
  while (true) {
    Task task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1),
                   [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) {
        if (stopping_) return;
      } else {
        task = std::move(tasks_.front());
        tasks_.pop_front();
        queued_ = tasks_.size();
      }
    }
    if (!task.windows.empty()) {
      absl::Status s =
          store_->open() ? store_->Write(task.windows)
                         : absl::UnavailableError("the trend store is closed");
      if (!s.ok()) {
        ++write_errors_;
        if (log_limit.Allow()) {
          CANOPY_LOG("trend store write failed, will retry: %s",
                     std::string(s.message()));
        }
        // Put the batch back in front and wait a second before retrying.
        {
          std::lock_guard<std::mutex> lock(mu_);
          tasks_.push_front(std::move(task));
          queued_ = tasks_.size();
          if (stopping_) return;  // shutting down on a failing disk
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (absl::Status r = store_->Reopen(); !r.ok() && log_limit.Allow()) {
          CANOPY_LOG("%s", std::string(r.message()));
        }
        continue;
      }
      windows_written_ += task.windows.size();
      series_ = store_->series_count();
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
    std::lock_guard<std::mutex> lock(mu_);
    done_.push_back(std::move(done));
  }
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void TrendThread::OnWake(int fd, short, void* arg) {
  TrendThread* self = static_cast<TrendThread*>(arg);
  uint64_t n;
  ssize_t ignored = read(fd, &n, sizeof n);
  (void)ignored;
  std::deque<std::function<void()>> done;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    done.swap(self->done_);
  }
  for (auto& d : done) d();
}

}  // namespace canopy
