// The trend thread: owns the TrendStore (LevelDB) so that the event loop
// never waits on disk. The loop hands it closed windows in batches through a
// bounded queue (moved, not copied) and asks it for queries; answers come
// back to the loop thread through an eventfd.
//
//   TrendThread trend(std::move(store), base);
//   if (!trend.SubmitWindows(&windows)) { /* full: keep them, retry later */ }
//   trend.Run([q](TrendStore& s) { ... }, [] { /* on the loop thread */ });
//
// Threads: SubmitWindows, Run and the destructor are called from the loop
// thread; the work functions run on the trend thread; the done callbacks run
// on the loop thread. A write that fails (a full disk, a LevelDB error) is
// retried every second with the batch kept; nothing is dropped.
#ifndef CANOPY_SERVER_TREND_THREAD_H_
#define CANOPY_SERVER_TREND_THREAD_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "canopy/tree.h"
#include "server/trend.h"

struct event;
struct event_base;

namespace canopy {

class TrendThread {
 public:
  TrendThread(std::unique_ptr<TrendStore> store, event_base* base);
  // Writes everything queued, then stops the thread.
  ~TrendThread();

  // Takes the windows if the queue has room; false (windows untouched) if it
  // is full.
  bool SubmitWindows(std::vector<ClosedWindow>* windows);
  void Run(std::function<void(TrendStore&)> work, std::function<void()> done);

  size_t queued_batches() const { return queued_.load(); }
  uint64_t write_errors() const { return write_errors_.load(); }
  uint64_t windows_written() const { return windows_written_.load(); }
  uint64_t retention_deleted() const { return retention_deleted_.load(); }
  uint64_t disk_bytes() const { return disk_bytes_.load(); }
  size_t series() const { return series_.load(); }
  // Seconds since the oldest queued batch was queued (0 if none).
  double flush_lag() const;

 private:
  static constexpr size_t kMaxBatches = 256;
  struct Task {
    std::vector<ClosedWindow> windows;
    std::function<void(TrendStore&)> work;
    std::function<void()> done;
    int64_t queued_at_ms = 0;
  };
  void Main();
  void Post(std::function<void()> done);
  static void OnWake(int fd, short what, void* arg);

  std::unique_ptr<TrendStore> store_;  // used on the trend thread only
  event* wake_ = nullptr;
  int wake_fd_ = -1;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  std::deque<std::function<void()>> done_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<size_t> queued_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> windows_written_{0};
  std::atomic<uint64_t> retention_deleted_{0};
  std::atomic<uint64_t> disk_bytes_{0};
  std::atomic<size_t> series_{0};
  std::atomic<int64_t> oldest_ms_{0};
  std::thread thread_;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_THREAD_H_
