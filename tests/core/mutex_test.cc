// canopy::Mutex, MutexLock, CondVar and Notification (include/canopy/mutex.h):
// exclusion under contention, waits that wake and waits that time out. Also
// built under ThreadSanitizer (scripts/test.sh), which checks that TSan sees
// the synchronisation.
#include "canopy/mutex.h"

#include <chrono>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace canopy {
namespace {

// A counter whose invariant (count_ == 2 * pairs_) holds only under the lock;
// Add() must be called with it held, which clang's -Wthread-safety checks.
class Pairs {
 public:
  void AddOne() {
    MutexLock lock(&mu_);
    Add();
  }
  int count() {
    MutexLock lock(&mu_);
    EXPECT_EQ(count_, 2 * pairs_);
    return pairs_;
  }

 private:
  void Add() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    mu_.AssertHeld();
    ++count_;
    std::this_thread::yield();  // invites another thread in, if it could
    ++pairs_;
    ++count_;
  }

  Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
  int pairs_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, ExcludesUnderContention) {
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  Pairs pairs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&pairs] {
      for (int i = 0; i < kEach; ++i) {
        pairs.AddOne();
        if (i % 100 == 0) pairs.count();  // checks the invariant
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(pairs.count(), kThreads * kEach);
}

TEST(CondVarTest, AWaitWakesOnSignal) {
  Mutex mu;
  CondVar cv;
  bool ready = false;  // guarded by mu (a local cannot be annotated)
  std::thread waiter([&] {
    MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
  });
  {
    MutexLock lock(&mu);
    ready = true;
  }
  cv.Signal();
  waiter.join();  // returns only if the waiter woke
  MutexLock lock(&mu);
  EXPECT_TRUE(ready);
}

TEST(CondVarTest, AWaitWithTimeoutWakesOnSignalAll) {
  Mutex mu;
  CondVar cv;
  int woken = 0;
  bool ready = false;
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&] {
      MutexLock lock(&mu);
      while (!ready) cv.WaitWithTimeout(&mu, absl::Seconds(60));
      ++woken;
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  {
    MutexLock lock(&mu);
    ready = true;
  }
  cv.SignalAll();
  for (std::thread& t : waiters) t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  MutexLock lock(&mu);
  EXPECT_EQ(woken, 3);
}

TEST(CondVarTest, AWaitTimesOutWithoutASignal) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  auto t0 = std::chrono::steady_clock::now();
  // A spurious wake-up returns false early: wait again until it times out.
  while (!cv.WaitWithTimeout(&mu, absl::Milliseconds(20))) {
  }
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(20));
}

TEST(MutexTest, AwaitWakesWhenAnotherThreadReleasesTheLock) {
  Mutex mu;
  int value = 0;
  std::thread writer([&] {
    for (int i = 0; i < 5; ++i) {
      MutexLock lock(&mu);
      ++value;  // no signal: releasing the lock is enough
    }
  });
  {
    MutexLock lock(&mu);
    mu.Await([&] { return value == 5; });
    EXPECT_EQ(value, 5);
  }
  writer.join();
}

TEST(MutexTest, AwaitWithTimeoutSaysWhetherTheConditionHolds) {
  Mutex mu;
  bool flag = false;
  MutexLock lock(&mu);
  EXPECT_FALSE(
      mu.AwaitWithTimeout([&] { return flag; }, absl::Milliseconds(20)));
  EXPECT_FALSE(mu.AwaitWithDeadline([&] { return flag; },
                                    absl::Now() + absl::Milliseconds(20)));
  flag = true;
  EXPECT_TRUE(mu.AwaitWithTimeout([&] { return flag; }, absl::ZeroDuration()));
}

TEST(MutexTest, AwaitWithAnInfiniteTimeoutWaitsForTheCondition) {
  Mutex mu;
  bool flag = false;
  std::thread setter([&] {
    MutexLock lock(&mu);
    flag = true;
  });
  {
    MutexLock lock(&mu);
    EXPECT_TRUE(
        mu.AwaitWithTimeout([&] { return flag; }, absl::InfiniteDuration()));
  }
  setter.join();
}

TEST(NotificationTest, WakesEveryWaiterAndStaysNotified) {
  Notification n;
  EXPECT_FALSE(n.HasBeenNotified());
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    waiters.emplace_back([&n] { n.WaitForNotification(); });
  }
  n.Notify();
  for (std::thread& t : waiters) t.join();
  EXPECT_TRUE(n.HasBeenNotified());
  n.WaitForNotification();  // returns at once
}

}  // namespace
}  // namespace canopy
