// The trend thread: owns the TrendStore (LevelDB) so that the event loop
// never waits on disk. The loop hands it closed windows in batches through a
// bounded queue (moved, not copied: statsite's swap-and-hand-over) and asks
// it for queries and snapshots; their answers come back to the loop thread,
// which watches wake_fd() and calls RunDone().
//
//   TrendThread trend(std::move(store));
//   // on the loop: when wake_fd() is readable, trend.RunDone();
//   if (!trend.SubmitWindows(&windows)) { /* full: keep them, retry later */ }
//   trend.Run([q](TrendStore& s) { ... }, [] { /* on the loop thread */ });
//
// The queue holds at most kMaxBatches batches and kMaxWindows windows; a
// batch past either is refused (SubmitWindows returns false and
// queue_full() counts it) and the loop keeps it for the next tick. A write
// that fails (a full disk, a LevelDB error) is retried every second with
// the batch kept; nothing is dropped, and queries and snapshots queued
// meanwhile run at once instead of waiting behind it. At start the store
// is read through once to find damage (logged, counted in corruptions()).
//
// Threads: SubmitWindows, Run, RunDone and the destructor are called from
// the loop thread; the work functions run on the trend thread; the done
// callbacks run on the loop thread (in RunDone). The figures are atomics,
// readable from any thread.
#ifndef CANOPY_SERVER_TREND_THREAD_H_
#define CANOPY_SERVER_TREND_THREAD_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "canopy/mutex.h"
#include "canopy/tree.h"
#include "server/log.h"
#include "server/trend/store.h"

namespace canopy {

class TrendThread {
 public:
  static constexpr size_t kMaxBatches = 256;
  static constexpr size_t kMaxWindows = 4 << 20;

  // `on_written`, if set, is given each batch of windows once it is on disk
  // (on the trend thread; it may take the windows). remote_write's intake
  // (server/remote/sender.h) is one: it only queues them.
  explicit TrendThread(
      std::unique_ptr<TrendStore> store,
      std::function<void(std::vector<ClosedWindow>*)> on_written = nullptr);
  // Writes everything queued, then stops the thread. Done callbacks not yet
  // run are dropped.
  ~TrendThread();
  TrendThread(const TrendThread&) = delete;
  TrendThread& operator=(const TrendThread&) = delete;

  // Takes the windows if the queue has room; false (windows untouched) if it
  // is full.
  bool SubmitWindows(std::vector<ClosedWindow>* windows);
  void Run(std::function<void(TrendStore&)> work, std::function<void()> done);

  // Readable when done callbacks wait; the loop then calls RunDone().
  int wake_fd() const { return wake_fd_; }
  void RunDone();

  size_t queued_batches() const { return queued_.load(); }
  size_t queued_windows() const { return queued_windows_.load(); }
  uint64_t queue_full() const { return queue_full_.load(); }
  uint64_t write_errors() const { return write_errors_.load(); }
  uint64_t windows_written() const { return windows_written_.load(); }
  uint64_t retention_deleted() const { return retention_deleted_.load(); }
  uint64_t disk_bytes() const { return disk_bytes_.load(); }
  // Damage found in the store (TrendStore::corruptions()).
  uint64_t corruptions() const { return corruptions_.load(); }
  size_t series() const { return series_.load(); }
  // Seconds since the oldest queued batch was queued (0 if none).
  double flush_lag() const;

 private:
  struct Task {
    std::vector<ClosedWindow> windows;
    std::function<void(TrendStore&)> work;
    std::function<void()> done;
    int64_t queued_at_ms = 0;
  };
  void Main();
  // The next task (an empty one after waiting up to a second, or at once
  // unless `wait`), or false when stopping with nothing left.
  bool Next(Task* task, bool wait);
  void Post(std::function<void()> done);
  // The first `n` windows of a batch are on disk: counted, handed to
  // on_written_, and taken out of the batch (the whole batch freed).
  void Written(std::vector<ClosedWindow>* windows, size_t n);
  void Counted() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<TrendStore> store_;  // used on the trend thread only
  std::function<void(std::vector<ClosedWindow>*)> on_written_;
  RateLimit log_limit_{6};  // used on the trend thread only
  int wake_fd_ = -1;

  mutable Mutex mu_;
  std::deque<Task> tasks_ ABSL_GUARDED_BY(mu_);
  size_t windows_in_queue_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::function<void()>> done_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Batches whose write failed, waiting for their retry in Main.
  size_t retrying_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t oldest_retry_ms_ ABSL_GUARDED_BY(mu_) = 0;

  std::atomic<size_t> queued_{0};
  std::atomic<size_t> queued_windows_{0};
  std::atomic<uint64_t> queue_full_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::atomic<uint64_t> windows_written_{0};
  std::atomic<uint64_t> retention_deleted_{0};
  std::atomic<uint64_t> disk_bytes_{0};
  std::atomic<uint64_t> corruptions_{0};
  std::atomic<size_t> series_{0};
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace canopy

#endif  // CANOPY_SERVER_TREND_THREAD_H_
