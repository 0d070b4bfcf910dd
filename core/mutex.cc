// The waits behind canopy::Mutex::Await*, CondVar and Notification (see
// include/canopy/mutex.h). Threads: any.
#include "canopy/mutex.h"

namespace canopy {

Mutex::Clock::time_point Mutex::DeadlineAfter(absl::Duration timeout) {
  // Past ~100 years Clock::now() + timeout could overflow: no deadline.
  if (timeout > absl::Hours(24 * 365 * 100)) return Clock::time_point::max();
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  return Clock::now() + absl::ToChronoNanoseconds(timeout);
}

bool Mutex::WaitUntil(std::condition_variable* cv, std::mutex* mu,
                      Clock::time_point deadline) {
  // Adopts the lock the caller holds, and leaves it held.
  std::unique_lock<std::mutex> lock(*mu, std::adopt_lock);
  bool timed_out = false;
  if (deadline == Clock::time_point::max()) {
    cv->wait(lock);
  } else {
    timed_out = cv->wait_until(lock, deadline) == std::cv_status::timeout;
  }
  lock.release();
  return timed_out;
}

void CondVar::Wait(Mutex* mu) {
  Mutex::WaitUntil(&cv_, &mu->mu_, Mutex::Clock::time_point::max());
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  return Mutex::WaitUntil(&cv_, &mu->mu_, Mutex::DeadlineAfter(timeout));
}

void Notification::Notify() {
  MutexLock lock(&mu_);
  notified_ = true;
}

bool Notification::HasBeenNotified() const {
  MutexLock lock(&mu_);
  return notified_;
}

void Notification::WaitForNotification() const {
  MutexLock lock(&mu_);
  mu_.Await([this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return notified_; });
}

}  // namespace canopy
