// canopy::Mutex, MutexLock, CondVar and Notification: the locks canopy's
// threads share. Annotated for clang's -Wthread-safety like absl::Mutex
// (ABSL_GUARDED_BY(mu_) and friends work unchanged), built on std::mutex and
// std::condition_variable like LevelDB's port::Mutex.
//
// Why not absl::Mutex: Debian's Abseil (libabsl-dev) is a shared library
// built without ThreadSanitizer. absl::Mutex synchronises through atomics
// and futexes inside that uninstrumented .so, so TSan cannot see it and
// reports a race on every field it guards. std::mutex and
// std::condition_variable go through pthreads, which TSan intercepts.
//
//   class Queue {
//    public:
//     void Push(int v) {
//       canopy::MutexLock lock(&mu_);
//       items_.push_back(v);  // Await below wakes when the lock is released
//     }
//     // The oldest item, or false if none came within a second.
//     bool Pop(int* v) {
//       canopy::MutexLock lock(&mu_);
//       if (!mu_.AwaitWithTimeout(
//               [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
//                 return !items_.empty();
//               },
//               absl::Seconds(1))) {
//         return false;
//       }
//       *v = items_.front();
//       items_.pop_front();
//       return true;
//     }
//
//    private:
//     canopy::Mutex mu_;
//     std::deque<int> items_ ABSL_GUARDED_BY(mu_);
//   };
//
// Mutex::Await re-evaluates its condition whenever another thread releases
// the Mutex (as absl::Mutex::Await does), so code that changes what a
// waiter waits for needs no signal of its own. CondVar is the explicit
// alternative: the waiter loops on its condition, the writer signals.
//
// Threads: every class here is thread-safe; that is what it is for.
#ifndef CANOPY_MUTEX_H_
#define CANOPY_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace canopy {

// An exclusive lock (no reader mode, not recursive).
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  // Wakes the threads in Await*, which then check their conditions again.
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    if (awaiting_ > 0) changed_.notify_all();
    mu_.unlock();
  }
  // Tells the analysis that the caller holds the lock; std::mutex cannot
  // check it, so this checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // Blocks until cond() is true. The lock is held when cond() runs and when
  // Await returns; it is released while waiting. cond() runs again each
  // time another thread Unlocks the Mutex, so it must be cheap. (A thread
  // waiting in CondVar::Wait releases it without waking anyone: it changed
  // nothing.)
  template <typename Cond>
  void Await(Cond cond) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    AwaitUntil(std::move(cond), Clock::time_point::max());
  }
  // Await for at most `timeout`; returns cond() (false: timed out).
  template <typename Cond>
  bool AwaitWithTimeout(Cond cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitUntil(std::move(cond), DeadlineAfter(timeout));
  }
  // Await until `deadline` at the latest; returns cond() (false: timed out).
  template <typename Cond>
  bool AwaitWithDeadline(Cond cond, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    return AwaitUntil(std::move(cond), DeadlineAfter(deadline - absl::Now()));
  }

 private:
  friend class CondVar;
  // Deadlines are on the steady clock: a wall-clock step neither cuts a
  // wait short nor stretches it.
  using Clock = std::chrono::steady_clock;

  // Now + timeout; Clock::time_point::max() (no deadline) for very long or
  // infinite ones.
  static Clock::time_point DeadlineAfter(absl::Duration timeout);
  // Waits on `cv`, releasing `mu` (held) meanwhile; true if `deadline`
  // passed. May return early (a spurious wake-up): callers loop.
  static bool WaitUntil(std::condition_variable* cv, std::mutex* mu,
                        Clock::time_point deadline);

  // The analysis cannot tie the caller's cond(), annotated as requiring the
  // caller's Mutex, to `this`: the body is not checked (the callers are).
  template <typename Cond>
  bool AwaitUntil(Cond cond,
                  Clock::time_point deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    ++awaiting_;
    bool met = cond();
    while (!met) {
      bool timed_out = WaitUntil(&changed_, &mu_, deadline);
      met = cond();
      if (timed_out) break;
    }
    --awaiting_;
    return met;
  }

  std::mutex mu_;
  // Signalled by Unlock when threads are in Await*. awaiting_ counts them;
  // both are used with mu_ held.
  std::condition_variable changed_;
  int awaiting_ = 0;
};

// Holds a Mutex for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable over a canopy::Mutex. Waits may wake spuriously:
// wait in a loop on the condition itself.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Releases `mu` (held) while waiting; holds it again on return.
  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Wait for at most `timeout`; true if it timed out.
  bool WaitWithTimeout(Mutex* mu, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

// A one-shot event: Notify() once, and every WaitForNotification() (past or
// future) returns. Mostly for tests handing a go-ahead between threads.
class Notification {
 public:
  Notification() = default;
  Notification(const Notification&) = delete;
  Notification& operator=(const Notification&) = delete;

  void Notify();
  bool HasBeenNotified() const;
  void WaitForNotification() const;

 private:
  mutable Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy

#endif  // CANOPY_MUTEX_H_
