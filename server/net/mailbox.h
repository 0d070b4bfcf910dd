// A mailbox between two threads: any thread posts, one thread takes
// everything posted, woken through an eventfd that its event loop watches.
//
//   canopy::Mailbox<Message> box;             // owned by the taking side
//   box.Post(std::move(m));                   // any thread
//   // on the owner's loop, when box.fd() is readable:
//   for (Message& m : box.TakeAll()) ...
//
// The first post after the owner took everything writes the eventfd once;
// the posts after it only queue, so a burst costs one wake-up. PostQuiet
// queues without waking the owner at all: for a note the owner needs only
// before the next message that wakes it (which it then reads first).
//
// Threads: Post from any thread; fd() and TakeAll from the owner's.
#ifndef CANOPY_SERVER_NET_MAILBOX_H_
#define CANOPY_SERVER_NET_MAILBOX_H_

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "canopy/mutex.h"

namespace canopy {

template <class T>
class Mailbox {
 public:
  Mailbox() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Mailbox() { close(fd_); }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void Post(T message) { PostAll(&message, 1); }

  // Queues `message` without a wake-up: it is taken with the next message
  // posted with Post or PostAll (or by the owner's next TakeAll).
  void PostQuiet(T message) {
    MutexLock lock(&mu_);
    items_.push_back(std::move(message));
  }

  // Posts `n` messages (moved from) with one lock and at most one wake-up.
  void PostAll(T* messages, size_t n) {
    bool wake;
    {
      MutexLock lock(&mu_);
      wake = !woken_;
      woken_ = true;
      for (size_t i = 0; i < n; ++i) items_.push_back(std::move(messages[i]));
    }
    if (wake && n > 0) {
      uint64_t one = 1;
      ssize_t ignored = write(fd_, &one, sizeof one);
      (void)ignored;
    }
  }

  int fd() const { return fd_; }

  // Everything posted so far, oldest first; clears the wake-up (read
  // before taking: a post between the two is taken now, and one after
  // writes the eventfd again).
  std::vector<T> TakeAll() {
    uint64_t n;
    ssize_t ignored = read(fd_, &n, sizeof n);
    (void)ignored;
    std::vector<T> out;
    MutexLock lock(&mu_);
    out.swap(items_);
    woken_ = false;
    return out;
  }

 private:
  const int fd_;
  Mutex mu_;
  std::vector<T> items_ ABSL_GUARDED_BY(mu_);
  // The eventfd was written since the owner last took everything.
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace canopy

#endif  // CANOPY_SERVER_NET_MAILBOX_H_
